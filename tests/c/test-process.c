/* test-process.c: MpProcess in each start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp.h>

/* ---- tasks (registered before mp_init, as the docs ask) --------------- */

static GVariant *
task_ok (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  return g_variant_ref (args);
}

static GVariant *
task_fail (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refused on purpose");
  return NULL;
}

static GVariant *
task_exit (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  int code;

  g_variant_get (args, "(i)", &code);
  mp_exit (code);
}

/* The workload of the signal tests: a child that runs until killed. */
static GVariant *
task_forever (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  for (;;)
    pause ();
  return NULL;
}

static void
on_sigterm_say_so (int sig)
{
  static const char line[] = "N got SIGTERM\n";
  write (STDOUT_FILENO, line, sizeof line - 1);
  _exit (0);
}

/* Runs until SIGTERM, then says so and exits 0. */
static GVariant *
task_until_sigterm (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  signal (SIGTERM, on_sigterm_say_so);
  g_print ("N ready\n");
  fflush (stdout);
  for (;;)
    pause ();
  return NULL;
}

/* Sets its first event, then waits for the second. */
static GVariant *
task_ready_go (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GVariant) g = NULL;
  g_autoptr(MpEvent) ready = NULL;
  g_autoptr(MpEvent) go = NULL;

  g_variant_get (args, "(vv)", &r, &g);
  ready = mp_event_new_from_variant (r, error);
  go = ready ? mp_event_new_from_variant (g, error) : NULL;
  if (go == NULL)
    return NULL;
  mp_event_set (ready);
  mp_event_wait (go, -1, NULL, error);
  return NULL;
}

/* Exits 0 only if the child sees the expected libmp parent. */
static GVariant *
task_check_parent (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  int expected;

  g_variant_get (args, "(i)", &expected);
  if (mp_parent_pid () != expected || mp_current_process () == NULL ||
      mp_process_get_pid (mp_current_process ()) != getpid ())
    mp_exit (3);
  return NULL;
}

/* ---- a fork function, as a binding sets one ----------------------------- */

/* Set before mp_init(), so the forkserver and its workers fork through
 * it too. In a process it made: that process's pid. */
static pid_t forked_by_func;
/* In the process that called it: the children it made. */
static int n_func_forks;

static int
counting_fork (gpointer user_data, GError **error)
{
  pid_t pid = fork ();

  if (pid == 0)
    forked_by_func = getpid ();
  else if (pid > 0)
    g_atomic_int_inc ((int *) user_data);
  else
    g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errno), g_strerror (errno));
  return pid;
}

/* Exits 0 when counting_fork() made this process. */
static GVariant *
task_forked_by_func (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  if (forked_by_func != getpid ())
    mp_exit (5);
  return NULL;
}

/* ---- a subclass whose properties must travel --------------------------- */

#define TEST_TYPE_PROCESS (test_process_get_type ())
G_DECLARE_FINAL_TYPE (TestProcess, test_process, TEST, PROCESS, MpProcess)

struct _TestProcess
{
  MpProcess parent_instance;
  char *greeting;
  int count;
};

G_DEFINE_FINAL_TYPE (TestProcess, test_process, MP_TYPE_PROCESS)

enum { TP_PROP_0, TP_PROP_GREETING, TP_PROP_COUNT };

static void
test_process_run (MpProcess *process, GCancellable *c, GError **error)
{
  TestProcess *self = TEST_PROCESS (process);

  if (g_strcmp0 (self->greeting, "hello from the parent") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "greeting did not travel: %s", self->greeting);
      return;
    }
  if (g_strcmp0 (mp_process_get_name (process), "custom-name") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "name did not travel");
      return;
    }
  mp_exit (self->count);
}

static void
test_process_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestProcess *self = TEST_PROCESS (object);
  if (id == TP_PROP_GREETING)
    g_value_set_string (value, self->greeting);
  else
    g_value_set_int (value, self->count);
}

static void
test_process_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestProcess *self = TEST_PROCESS (object);
  if (id == TP_PROP_GREETING)
    {
      g_free (self->greeting);
      self->greeting = g_value_dup_string (value);
    }
  else
    self->count = g_value_get_int (value);
}

static void
test_process_finalize (GObject *object)
{
  g_free (TEST_PROCESS (object)->greeting);
  G_OBJECT_CLASS (test_process_parent_class)->finalize (object);
}

static void
test_process_class_init (TestProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_process_get_property;
  object_class->set_property = test_process_set_property;
  object_class->finalize = test_process_finalize;
  MP_PROCESS_CLASS (klass)->run = test_process_run;

  g_object_class_install_property (object_class, TP_PROP_GREETING,
    g_param_spec_string ("greeting", NULL, NULL, NULL, G_PARAM_READWRITE));
  g_object_class_install_property (object_class, TP_PROP_COUNT,
    g_param_spec_int ("count", NULL, NULL, 0, 255, 0, G_PARAM_READWRITE));
}

static void
test_process_init (TestProcess *self)
{
}

/* A subclass whose type is registered only after mp_init(). */
#define LATE_TYPE_PROCESS (late_process_get_type ())
G_DECLARE_FINAL_TYPE (LateProcess, late_process, LATE, PROCESS, MpProcess)
struct _LateProcess { MpProcess parent_instance; };
G_DEFINE_FINAL_TYPE (LateProcess, late_process, MP_TYPE_PROCESS)
static void late_process_class_init (LateProcessClass *klass) { }
static void late_process_init (LateProcess *self) { }

/* ---- helpers ----------------------------------------------------------- */

static const MpStartMethod methods[] = {
  MP_START_METHOD_FORK, MP_START_METHOD_SPAWN, MP_START_METHOD_FORKSERVER,
};
static const char *method_names[] = { NULL, "fork", "spawn", "forkserver" };

static int
run_to_exit (MpStartMethod method,
             const char   *task,
             GVariant     *args)
{
  g_autoptr(MpProcess) p = mp_process_new (task, args);
  g_autoptr(GError) error = NULL;

  mp_process_set_start_method (p, method);
  g_assert_true (mp_process_start (p, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mp_process_get_pid (p), >, 0);
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mp_process_get_state (p), ==, MP_PROCESS_STATE_EXITED);
  g_assert_false (mp_process_is_alive (p));
  return mp_process_get_exitcode (p);
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* Our children in state Z. */
static guint
count_zombies (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = NULL, *stat = NULL;
      char state;
      int ppid;
      const char *close_paren;

      if (!g_ascii_isdigit (*name))
        continue;
      path = g_strdup_printf ("/proc/%s/stat", name);
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      close_paren = strrchr (stat, ')');
      if (close_paren && sscanf (close_paren + 2, "%c %d", &state, &ppid) == 2 &&
          ppid == getpid () && state == 'Z')
        n++;
    }
  return n;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_exit_codes (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);

  g_assert_cmpint (run_to_exit (method, "ok", NULL), ==, 0);
  g_assert_cmpint (run_to_exit (method, "fail", NULL), ==, 1);
  g_assert_cmpint (run_to_exit (method, "exit", g_variant_new ("(i)", 7)), ==, 7);
  g_assert_cmpint (run_to_exit (method, "check-parent", g_variant_new ("(i)", getpid ())), ==, 0);
  /* The child's own error comes back, domain, code and message. */
  {
    g_autoptr(MpProcess) p = mp_process_new ("fail", NULL);
    g_autoptr(GError) error = NULL;

    mp_process_set_start_method (p, method);
    g_assert_true (mp_process_check_error (p, &error));
    g_assert_true (mp_process_start (p, &error));
    g_assert_true (mp_process_join (p, 60, &error));
    g_assert_false (mp_process_check_error (p, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr (error->message, ==, "refused on purpose");
  }
  /* A process with no target runs nothing and succeeds, as in Python. */
  g_assert_cmpint (run_to_exit (method, NULL, NULL), ==, 0);
}

static void
test_signals (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  struct { gboolean (*send) (MpProcess *, GError **); int code; } cases[] = {
    { mp_process_terminate, -SIGTERM },
    { mp_process_kill, -SIGKILL },
    { mp_process_interrupt, -SIGINT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MpProcess) p = mp_process_new ("forever", NULL);
      g_autoptr(GError) error = NULL;

      mp_process_set_start_method (p, method);
      g_assert_true (mp_process_start (p, &error));
      g_assert_true (mp_process_is_alive (p));
      /* join with a timeout while it runs: not ended, no error */
      g_assert_false (mp_process_join (p, 0.05, &error));
      g_assert_no_error (error);
      g_assert_cmpint (mp_process_get_state (p), ==, MP_PROCESS_STATE_STARTED);

      g_assert_true (cases[i].send (p, &error));
      g_assert_no_error (error);
      g_assert_true (mp_process_join (p, 60, &error));
      g_assert_cmpint (mp_process_get_exitcode (p), ==, cases[i].code);
      /* Signalling an ended process does nothing. */
      g_assert_true (mp_process_terminate (p, &error));
      g_assert_no_error (error);
    }
}

static void
test_subclass (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpProcess) p = g_object_new (TEST_TYPE_PROCESS,
                                         "greeting", "hello from the parent",
                                         "count", 42,
                                         "name", "custom-name",
                                         "start-method", method,
                                         NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_process_start (p, &error));
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 42);
}

static gboolean
closure_func (MpProcess *process, gpointer user_data, GError **error)
{
  mp_exit (GPOINTER_TO_INT (user_data));
}

static int closure_destroyed;

static void
closure_destroy (gpointer data)
{
  closure_destroyed++;
}

static void
test_closure (void)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(MpProcess) p = mp_process_new_for_func (closure_func, GINT_TO_POINTER (9), closure_destroy);
    /* The default for a closure is fork. */
    g_assert_true (mp_process_start (p, &error));
    g_assert_true (mp_process_join (p, 60, &error));
    g_assert_cmpint (mp_process_get_exitcode (p), ==, 9);
  }
  g_assert_cmpint (closure_destroyed, ==, 1);

  for (guint i = 1; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr(MpProcess) p = mp_process_new_for_func (closure_func, NULL, NULL);
      mp_process_set_start_method (p, methods[i]);
      g_assert_false (mp_process_start (p, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_START_METHOD);
      g_assert_cmpint (mp_process_get_pid (p), ==, 0);
      g_clear_error (&error);
    }
}

static void
test_misuse (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpProcess) p = mp_process_new ("forever", NULL);
  g_autoptr(MpProcess) unknown = mp_process_new ("no-such-task", NULL);

  mp_process_set_start_method (p, method);

  /* Not started: join, signals and a second start are clear errors. */
  g_assert_false (mp_process_join (p, 0, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (mp_process_terminate (p, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* An unknown task fails at start and starts nothing. */
  mp_process_set_start_method (unknown, method);
  g_assert_false (mp_process_start (unknown, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
  g_assert_cmpint (mp_process_get_pid (unknown), ==, 0);
  g_clear_error (&error);

  g_assert_true (mp_process_start (p, &error));
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* close() on a live process is an error, as in Python. */
  g_assert_false (mp_process_close (p, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_true (mp_process_kill (p, &error));
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_true (mp_process_close (p, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mp_process_get_state (p), ==, MP_PROCESS_STATE_CLOSED);
  g_assert_false (mp_process_join (p, 0, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
}

/* Found by review: a start that fails once the child exists (a handle in
 * the arguments that is no descriptor) returns its error instead of
 * deadlocking, and leaves nothing running. */
static void
test_start_fails_after_child (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpProcess) p = mp_process_new ("ok", g_variant_new ("(h)", 9999));
  g_autoptr(GError) error = NULL;

  mp_process_set_start_method (p, method);
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  if (mp_process_get_pid (p) > 0)
    {
      g_assert_true (mp_process_join (p, 60, NULL));
      g_assert_cmpint (mp_process_get_exitcode (p), !=, 0);
    }
}

/* Every fork goes through the function set: fork children, and the
 * workers of the forkserver (which has its copy since mp_init()). */
static void
test_fork_func_used (void)
{
  int before = g_atomic_int_get (&n_func_forks);

  g_assert_cmpint (run_to_exit (MP_START_METHOD_FORK, "forked-by-func", NULL), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&n_func_forks), ==, before + 1);
  g_assert_cmpint (run_to_exit (MP_START_METHOD_FORKSERVER, "forked-by-func", NULL), ==, 0);
  /* Not this process's fork. */
  g_assert_cmpint (g_atomic_int_get (&n_func_forks), ==, before + 1);
}

static int
failing_fork (gpointer user_data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no room for a child");
  return -1;
}

/* What PyGObject does when a Python callback raises anything but a
 * GLib.Error: the return value's default and no error. */
static int
silent_fork (gpointer user_data, GError **error)
{
  return 0;
}

/* What PyGObject gives once Python is finalizing: whatever, with no
 * call into Python and no child. Here a live process that is no child. */
static int
garbage_fork (gpointer user_data, GError **error)
{
  return getppid ();
}

static int fork_data_destroyed;

static void
fork_data_destroy (gpointer data)
{
  fork_data_destroyed++;
}

/* A fork function that made no child fails the start with its reason
 * (or a reason of libmp's when it gave none), leaving the process
 * startable; replacing a function frees its data. */
static void
test_fork_func_fails (void)
{
  g_autoptr(MpProcess) p = mp_process_new ("forked-by-func", NULL);
  g_autoptr(GError) error = NULL;

  mp_process_set_start_method (p, MP_START_METHOD_FORK);

  mp_set_fork_func (failing_fork, NULL, fork_data_destroy);
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_true (g_str_has_suffix (error->message, ": no room for a child"));
  g_clear_error (&error);
  g_assert_cmpint (mp_process_get_pid (p), ==, 0);
  g_assert_cmpint (mp_process_get_state (p), ==, MP_PROCESS_STATE_INITIAL);

  mp_set_fork_func (silent_fork, NULL, fork_data_destroy);
  g_assert_cmpint (fork_data_destroyed, ==, 1);
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (mp_process_get_pid (p), ==, 0);

  mp_set_fork_func (garbage_fork, NULL, fork_data_destroy);
  g_assert_cmpint (fork_data_destroyed, ==, 2);
  g_assert_false (mp_process_start (p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpint (mp_process_get_pid (p), ==, 0);

  /* Without a function, fork() itself: the child was not made by one. */
  mp_set_fork_func (NULL, NULL, NULL);
  g_assert_cmpint (fork_data_destroyed, ==, 3);
  g_assert_cmpint (run_to_exit (MP_START_METHOD_FORK, "forked-by-func", NULL), ==, 5);

  mp_set_fork_func (counting_fork, &n_func_forks, NULL);
  g_assert_true (mp_process_start (p, &error));
  g_assert_no_error (error);
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 0);
}

/* A forked child may call into its own process object. */
static gboolean
closure_is_alive (MpProcess *process, gpointer user_data, GError **error)
{
  mp_exit (mp_process_is_alive (mp_current_process ()) ? 3 : 4);
}

static void
test_fork_child_uses_itself (void)
{
  g_autoptr(MpProcess) p = mp_process_new_for_func (closure_is_alive, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_process_start (p, &error));
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 3);
}

static GVariant *
task_late (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  return NULL;
}

/* A spawn or forkserver child that does not know the type says so, and
 * the parent gets that error, not just exit code 1. */
static void
test_type_unknown_in_child (void)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 1; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr(MpProcess) p = g_object_new (LATE_TYPE_PROCESS, "start-method", methods[i], NULL);

      g_assert_true (mp_process_start (p, &error));
      g_assert_true (mp_process_join (p, 60, &error));
      g_assert_cmpint (mp_process_get_exitcode (p), ==, 1);
      g_assert_false (mp_process_check_error (p, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_START_METHOD);
      g_assert_nonnull (strstr (error->message, "LateProcess"));
      g_clear_error (&error);
    }
}

static void
test_registered_after_init (void)
{
  g_autoptr(GError) error = NULL;

  mp_register_task ("late", task_late, NULL, NULL);
  for (guint i = 1; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr(MpProcess) p = mp_process_new ("late", NULL);
      mp_process_set_start_method (p, methods[i]);
      g_assert_false (mp_process_start (p, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
      g_assert_nonnull (strstr (error->message, "mp_init"));
      g_clear_error (&error);
    }
  /* fork copies the registry as it is now, so it works there. */
  g_assert_cmpint (run_to_exit (MP_START_METHOD_FORK, "late", NULL), ==, 0);
}

typedef struct
{
  GMainLoop *loop;
  int exited_code;
  int n_exited;
  gboolean joined;
  GError *join_error;
} AsyncState;

static void
on_exited (MpProcess *p, int code, AsyncState *state)
{
  state->exited_code = code;
  state->n_exited++;
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncState *state = data;

  state->joined = mp_process_join_finish (MP_PROCESS (source), result, &state->join_error);
  g_main_loop_quit (state->loop);
}

static gboolean
fail_timeout (gpointer data)
{
  g_error ("timed out waiting for an event (a bug)");
  return G_SOURCE_REMOVE;
}

static void
test_join_async (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpProcess) p = mp_process_new ("exit", g_variant_new ("(i)", 5));
  g_autoptr(GError) error = NULL;
  AsyncState state = { 0 };
  guint timeout_id;

  state.loop = g_main_loop_new (NULL, FALSE);
  mp_process_set_start_method (p, method);
  g_signal_connect (p, "exited", G_CALLBACK (on_exited), &state);
  g_assert_true (mp_process_start (p, &error));
  mp_process_join_async (p, NULL, on_joined, &state);
  timeout_id = g_timeout_add_seconds (60, fail_timeout, NULL);
  g_main_loop_run (state.loop);
  g_source_remove (timeout_id);

  g_assert_no_error (state.join_error);
  g_assert_true (state.joined);
  g_assert_cmpint (state.n_exited, ==, 1);
  g_assert_cmpint (state.exited_code, ==, 5);
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 5);
  g_main_loop_unref (state.loop);
}

static void
test_join_async_cancel (void)
{
  g_autoptr(MpProcess) p = mp_process_new ("forever", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  AsyncState state = { 0 };

  state.loop = g_main_loop_new (NULL, FALSE);
  g_assert_true (mp_process_start (p, &error));
  mp_process_join_async (p, cancellable, on_joined, &state);
  g_cancellable_cancel (cancellable);
  g_main_loop_run (state.loop);
  g_assert_error (state.join_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (state.joined);
  g_clear_error (&state.join_error);
  g_assert_true (mp_process_is_alive (p));

  g_assert_true (mp_process_kill (p, &error));
  g_assert_true (mp_process_join (p, 60, &error));
  g_main_loop_unref (state.loop);
}

/* join_async with a cancellable that never fires does not keep the
 * process alive after it ended. */
static void
test_join_async_cancellable_no_leak (void)
{
  MpProcess *p = mp_process_new ("ok", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncState state = { 0 };
  gpointer weak = p;

  state.loop = g_main_loop_new (NULL, FALSE);
  g_object_add_weak_pointer (G_OBJECT (p), &weak);
  g_assert_true (mp_process_start (p, NULL));
  mp_process_join_async (p, cancellable, on_joined, &state);
  g_main_loop_run (state.loop);
  g_assert_true (state.joined);
  g_object_unref (p);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (weak);
  g_main_loop_unref (state.loop);
}

static void
test_many (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  guint fds_before, zombies_before;
  g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  /* Warm up anything allocated once (GLib's worker thread, sockets). */
  run_to_exit (method, "ok", NULL);
  fds_before = count_fds ();
  zombies_before = count_zombies ();

  for (guint i = 0; i < 200; i++)
    {
      MpProcess *p = mp_process_new ("ok", g_variant_new ("(u)", i));
      mp_process_set_start_method (p, method);
      g_assert_true (mp_process_start (p, &error));
      g_assert_no_error (error);
      g_ptr_array_add (procs, p);
      /* Keep at most 20 running at once on this small machine. */
      if (procs->len >= 20)
        {
          for (guint j = 0; j < procs->len; j++)
            {
              g_assert_true (mp_process_join (procs->pdata[j], 60, &error));
              g_assert_cmpint (mp_process_get_exitcode (procs->pdata[j]), ==, 0);
            }
          g_ptr_array_set_size (procs, 0);
        }
    }
  for (guint j = 0; j < procs->len; j++)
    g_assert_true (mp_process_join (procs->pdata[j], 60, &error));
  g_ptr_array_set_size (procs, 0);

  if (count_fds () != fds_before)
    {
      g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
      const char *n;
      while ((n = g_dir_read_name (dir)))
        {
          g_autofree char *path = g_strdup_printf ("/proc/self/fd/%s", n);
          g_autofree char *target = g_file_read_link (path, NULL);
          g_printerr ("fd %s -> %s\n", n, target);
        }
    }
  g_assert_cmpuint (count_fds (), ==, fds_before);
  g_assert_cmpuint (count_zombies (), ==, zombies_before);
}

static void
test_active_children (void)
{
  g_autoptr(MpProcess) p = mp_process_new ("forever", NULL);
  g_autoptr(GError) error = NULL;
  GList *children;

  g_assert_true (mp_process_start (p, &error));
  children = mp_active_children ();
  g_assert_nonnull (g_list_find (children, p));
  g_list_free_full (children, g_object_unref);
  mp_process_kill (p, &error);
  mp_process_join (p, 60, &error);
  children = mp_active_children ();
  g_assert_null (g_list_find (children, p));
  g_list_free_full (children, g_object_unref);
}

static void
test_helpers (void)
{
  guint n = mp_cpu_count ();

  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <=, g_get_num_processors ());
  g_assert_cmpint (mp_parent_pid (), ==, 0);
  g_assert_cmpstr (mp_process_get_name (mp_current_process ()), ==, "MainProcess");
  g_assert_cmpint (mp_process_get_pid (mp_current_process ()), ==, getpid ());
}

typedef struct
{
  MpProcess *process;
  MpEvent   *ready;   /* NULL: do not wait for the child */
  pid_t      tid;
} Starter;

static gpointer
start_then_end (gpointer data)
{
  Starter *starter = data;
  g_autoptr(GError) error = NULL;

  starter->tid = (pid_t) syscall (SYS_gettid);
  if (!mp_process_start (starter->process, &error))
    g_error ("%s", error->message);
  /* The child has armed whatever ties it to this thread. */
  if (starter->ready != NULL && !mp_event_wait (starter->ready, 60, NULL, &error))
    g_error ("the child never got ready: %s", error ? error->message : "timed out");
  return NULL;
}

/* Starts @process from a thread that has ended, and gone from the
 * kernel's view, when this returns. */
static void
start_from_ended_thread (MpProcess *process,
                         MpEvent   *ready)
{
  Starter starter = { process, ready, 0 };
  g_autofree char *task_dir = NULL;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_thread_join (g_thread_new ("starter", start_then_end, &starter));
  /* The thread's entry goes only after the kernel has told its children. */
  task_dir = g_strdup_printf ("/proc/self/task/%d", (int) starter.tid);
  while (g_file_test (task_dir, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_false (g_file_test (task_dir, G_FILE_TEST_EXISTS));
}

/* A child started from a thread that ends first lives on: the kernel's
 * parent-death signal follows the thread that started a child, so libmp
 * must not tie a child to any thread but one that lasts. */
static void
test_started_from_ended_thread (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpEvent) ready = mp_event_new (&error);
  g_autoptr(MpEvent) go = mp_event_new (&error);
  g_autoptr(MpProcess) p = NULL;

  g_assert_no_error (error);
  p = mp_process_new ("ready-go", g_variant_new ("(vv)", mp_shareable_to_variant (MP_SHAREABLE (ready)),
                                                 mp_shareable_to_variant (MP_SHAREABLE (go))));
  mp_process_set_start_method (p, method);
  start_from_ended_thread (p, ready);
  mp_event_set (go);
  g_assert_true (mp_process_join (p, 60, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 0);
}

static gpointer
start_and_join (gpointer data)
{
  MpProcess *p = data;

  if (!mp_process_start (p, NULL) || !mp_process_join (p, 60, NULL))
    return GINT_TO_POINTER (100);
  return GINT_TO_POINTER (mp_process_get_exitcode (p));
}

/* A program that forks by itself (os.fork(), say) after libmp started
 * its launcher thread: in the child, a spawn asked for by a thread gets
 * a launcher of its own instead of waiting for one that was not copied. */
static void
test_launcher_after_plain_fork (void)
{
  g_autoptr(MpProcess) first = mp_process_new ("ok", g_variant_new ("(u)", 0));
  g_autoptr(GError) error = NULL;
  struct pollfd pfd = { -1, POLLIN, 0 };
  siginfo_t info = { 0 };
  pid_t pid;

  mp_process_set_start_method (first, MP_START_METHOD_SPAWN);
  g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (g_thread_new ("starter", start_and_join, first))), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      MpProcess *second = mp_process_new ("ok", g_variant_new ("(u)", 1));

      mp_process_set_start_method (second, MP_START_METHOD_SPAWN);
      _exit (GPOINTER_TO_INT (g_thread_join (g_thread_new ("starter", start_and_join, second))));
    }
  pfd.fd = (int) syscall (SYS_pidfd_open, pid, 0);
  g_assert_cmpint (pfd.fd, >=, 0);
  /* A generous bound that only a bug reaches. */
  if (poll (&pfd, 1, 60000) != 1)
    {
      kill (pid, SIGKILL);
      g_error ("the child of a plain fork hung starting a process from a thread");
    }
  g_assert_cmpint (waitid (P_PID, pid, &info, WEXITED), ==, 0);
  g_assert_cmpint (info.si_code, ==, CLD_EXITED);
  g_assert_cmpint (info.si_status, ==, 0);
  close (pfd.fd);
}

/* The parent is killed with SIGKILL: its children must go too. A helper
 * program (this binary in another mode) starts one child per method. */
static void
test_parent_killed (void)
{
  g_autoptr(GSubprocess) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  const char *self_exe = g_test_get_filename (G_TEST_BUILT, "test-process", NULL);
  int pidfds[2 * G_N_ELEMENTS (methods)];
  gint64 start;

  helper = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             self_exe, "--orphan-helper", NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));

  for (guint i = 0; i < G_N_ELEMENTS (pidfds); i++)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      pidfds[i] = (int) syscall (SYS_pidfd_open, atoi (line), 0);
      g_assert_cmpint (pidfds[i], >=, 0);
    }

  g_subprocess_force_exit (helper);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (pidfds); i++)
    {
      struct pollfd pfd = { pidfds[i], POLLIN, 0 };
      /* A generous bound that only a bug reaches. */
      g_assert_cmpint (poll (&pfd, 1, 30000), ==, 1);
      close (pidfds[i]);
    }
  g_test_message ("children gone %.1f ms after the parent's SIGKILL",
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_true (g_subprocess_wait (helper, NULL, NULL));
}

static int
orphan_helper (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      MpProcess *p = mp_process_new ("forever", NULL);
      g_autoptr(GError) error = NULL;

      mp_process_set_start_method (p, methods[i]);
      if (!mp_process_start (p, &error))
        g_error ("%s", error->message);
      g_print ("%d\n", mp_process_get_pid (p));
    }
  /* The same again, started from threads that have ended. */
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      MpProcess *p = mp_process_new ("forever", NULL);

      mp_process_set_start_method (p, methods[i]);
      start_from_ended_thread (p, NULL);
      g_print ("%d\n", mp_process_get_pid (p));
    }
  fflush (stdout);
  for (;;)
    pause ();
  return 0;
}

/* At a normal exit, daemonic children are terminated and the others
 * joined. The helper returns from main with one of each running; its own
 * exit handler, registered before mp_init(), runs after libmp's. */
static void
say_after_libmp_atexit (void)
{
  g_print ("after libmp atexit\n");
  fflush (stdout);
}

static int
atexit_helper (void)
{
  g_autoptr(MpProcess) d = mp_process_new ("forever", NULL);
  g_autoptr(MpProcess) n = mp_process_new ("until-sigterm", NULL);

  mp_process_set_daemon (d, TRUE);
  if (!mp_process_start (d, NULL) || !mp_process_start (n, NULL))
    return 1;
  g_print ("%d\n%d\nmain returning\n", mp_process_get_pid (d), mp_process_get_pid (n));
  fflush (stdout);
  return 0;
}

static void
test_atexit (void)
{
  g_autoptr(GSubprocess) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  const char *self_exe = g_test_get_filename (G_TEST_BUILT, "test-process", NULL);
  char *lines[5] = { 0 };
  int pids[4], n_pids = 0;
  int daemon_fd, normal_fd;
  gboolean ready = FALSE;

  helper = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             self_exe, "--atexit-helper", NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));
  /* Two pids, "main returning" and, anywhere among them, the child's
   * "N ready" (after which a SIGTERM reaches its handler). */
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_ascii_isdigit (line[0]))
        pids[n_pids++] = atoi (line);
      else if (g_str_equal (line, "N ready"))
        ready = TRUE;
      else
        g_assert_cmpstr (line, ==, "main returning");
    }
  g_assert_true (ready);
  g_assert_cmpint (n_pids, ==, 2);
  normal_fd = (int) syscall (SYS_pidfd_open, pids[1], 0);
  g_assert_cmpint (normal_fd, >=, 0);

  /* The daemon is terminated by the exiting parent (it may already be
   * gone and reaped: then there is no pid to open)... */
  daemon_fd = (int) syscall (SYS_pidfd_open, pids[0], 0);
  if (daemon_fd >= 0)
    {
      struct pollfd pfd = { daemon_fd, POLLIN, 0 };
      g_assert_cmpint (poll (&pfd, 1, 30000), ==, 1);
      close (daemon_fd);
    }
  else
    g_assert_cmpint (errno, ==, ESRCH);
  /* ...while the other one is waited for: it is still there to be told
   * to stop, and says so before the parent's last exit handler runs. */
  g_assert_cmpint (syscall (SYS_pidfd_send_signal, normal_fd, SIGTERM, NULL, 0), ==, 0);
  lines[3] = g_data_input_stream_read_line (in, NULL, NULL, &error);
  lines[4] = g_data_input_stream_read_line (in, NULL, NULL, &error);
  g_assert_cmpstr (lines[3], ==, "N got SIGTERM");
  g_assert_cmpstr (lines[4], ==, "after libmp atexit");
  g_assert_true (g_subprocess_wait_check (helper, NULL, &error));
  g_assert_no_error (error);

  close (normal_fd);
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    g_free (lines[i]);
}

int
main (int   argc,
      char *argv[])
{
  if (argc > 1 && strcmp (argv[1], "--atexit-helper") == 0)
    atexit (say_after_libmp_atexit);

  mp_register_task ("until-sigterm", task_until_sigterm, NULL, NULL);
  mp_register_task ("ok", task_ok, NULL, NULL);
  mp_register_task ("fail", task_fail, NULL, NULL);
  mp_register_task ("exit", task_exit, NULL, NULL);
  mp_register_task ("forever", task_forever, NULL, NULL);
  mp_register_task ("check-parent", task_check_parent, NULL, NULL);
  mp_register_task ("ready-go", task_ready_go, NULL, NULL);
  mp_register_task ("forked-by-func", task_forked_by_func, NULL, NULL);
  g_type_ensure (TEST_TYPE_PROCESS);
  mp_set_fork_func (counting_fork, &n_func_forks, NULL);
  mp_init (argc, argv);

  if (argc > 1 && strcmp (argv[1], "--orphan-helper") == 0)
    return orphan_helper ();
  if (argc > 1 && strcmp (argv[1], "--atexit-helper") == 0)
    return atexit_helper ();

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      const char *m = method_names[methods[i]];
      gconstpointer d = GINT_TO_POINTER (methods[i]);
      g_autofree char *p1 = g_strdup_printf ("/process/%s/exit-codes", m);
      g_autofree char *p2 = g_strdup_printf ("/process/%s/signals", m);
      g_autofree char *p3 = g_strdup_printf ("/process/%s/subclass", m);
      g_autofree char *p4 = g_strdup_printf ("/process/%s/misuse", m);
      g_autofree char *p5 = g_strdup_printf ("/process/%s/join-async", m);
      g_autofree char *p6 = g_strdup_printf ("/process/%s/many", m);
      g_autofree char *p7 = g_strdup_printf ("/process/%s/start-fails-after-child", m);
      g_autofree char *p8 = g_strdup_printf ("/process/%s/started-from-ended-thread", m);

      g_test_add_data_func (p1, d, test_exit_codes);
      g_test_add_data_func (p2, d, test_signals);
      g_test_add_data_func (p3, d, test_subclass);
      g_test_add_data_func (p4, d, test_misuse);
      g_test_add_data_func (p5, d, test_join_async);
      g_test_add_data_func (p6, d, test_many);
      g_test_add_data_func (p8, d, test_started_from_ended_thread);
      /* fork sends the child nothing: its arguments are simply there. */
      if (methods[i] != MP_START_METHOD_FORK)
        g_test_add_data_func (p7, d, test_start_fails_after_child);
    }
  g_test_add_func ("/process/closure", test_closure);
  g_test_add_func ("/process/registered-after-init", test_registered_after_init);
  g_test_add_func ("/process/type-unknown-in-child", test_type_unknown_in_child);
  g_test_add_func ("/process/join-async-cancel", test_join_async_cancel);
  g_test_add_func ("/process/active-children", test_active_children);
  g_test_add_func ("/process/helpers", test_helpers);
  g_test_add_func ("/process/parent-killed", test_parent_killed);
  g_test_add_func ("/process/launcher-after-plain-fork", test_launcher_after_plain_fork);
  g_test_add_func ("/process/atexit", test_atexit);
  g_test_add_func ("/process/fork-child-uses-itself", test_fork_child_uses_itself);
  g_test_add_func ("/process/fork-func/used", test_fork_func_used);
  g_test_add_func ("/process/fork-func/fails", test_fork_func_fails);
  g_test_add_func ("/process/join-async-cancellable-no-leak", test_join_async_cancellable_no_leak);
  return g_test_run ();
}
