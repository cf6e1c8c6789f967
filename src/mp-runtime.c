/* mp-runtime.c: mp_init(), start methods, and what a process knows of
 * its libmp parent and children
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-enums.h"
#include "mp-error.h"
#include "mp-forkserver-private.h"
#include "mp-process-private.h"
#include "mp-runtime-private.h"
#include "mp-wire-private.h"
#include "mp-worker-private.h"

static struct
{
  gboolean       initialized;
  gboolean       is_child;
  int            parent_pid;
  char          *exe;
  char         **argv;
  char          *cwd;
  guint          threads_at_init;
  MpStartMethod  method;
  GMutex         lock;
  GList         *children;   /* MpProcess, one reference each */
  MpProcess     *current;
} runtime;

/* Starts children for threads that may end before them (see
 * mp_runtime_run_on_lasting_thread()). */
typedef struct
{
  GThreadFunc func;
  gpointer    data;
  gpointer    result;
  gboolean    done;
} LaunchRequest;

static struct
{
  GMutex   lock;
  GCond    cond;
  GQueue   requests;
  gboolean running;
  pid_t    pid;       /* the process it runs in: a fork's copy has none */
} launcher;

static void runtime_atexit (void);

static void (*child_hooks[8]) (void);
static guint n_child_hooks;

static char **
read_cmdline (int    argc,
              char **argv)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  GPtrArray *out = g_ptr_array_new ();

  if (g_file_get_contents ("/proc/self/cmdline", &contents, &len, NULL) && len > 0)
    {
      for (gsize i = 0; i < len; i += strlen (contents + i) + 1)
        g_ptr_array_add (out, g_strdup (contents + i));
    }
  else
    {
      for (int i = 0; argv != NULL && i < argc; i++)
        g_ptr_array_add (out, g_strdup (argv[i]));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

int
mp_count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  int n = 0;

  if (dir == NULL)
    return 1;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return MAX (n, 1);
}

/* "<fd>:<parent pid>", as mp_runtime_spawn_self() sets it. */
static int
parse_spawn_env (const char *name,
                 const char *value,
                 int        *parent)
{
  int fd = -1;

  if (sscanf (value, "%d:%d", &fd, parent) != 2 || fd < 0)
    {
      g_printerr ("%s\n", _("libmp: malformed worker environment"));
      _exit (1);
    }
  g_unsetenv (name);
  return fd;
}

typedef struct
{
  const char  *env_name;
  int          fd;
  GError     **error;
} SpawnSelf;

static gpointer
spawn_self (gpointer data)
{
  SpawnSelf *call = data;
  const char *env_name = call->env_name;
  int fd = call->fd;
  GError **error = call->error;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *env = NULL;
  g_auto(GStrv) envp = NULL;
  const char *working_directory = NULL;
  int target_fd = 3;
  GPid pid = 0;

  if (!runtime.initialized || runtime.argv == NULL || runtime.argv[0] == NULL)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_NOT_INITIALIZED,
                           _("The spawn start method needs mp_init() at the top of main()"));
      return NULL;
    }

  env = g_strdup_printf ("%d:%d", target_fd, (int) getpid ());
  envp = g_environ_setenv (g_get_environ (), env_name, env, TRUE);
  /* Only when needed: a working directory costs GLib its posix_spawn path. */
  if (g_strcmp0 (cwd, runtime.cwd) != 0)
    working_directory = runtime.cwd;

  g_ptr_array_add (argv, runtime.exe ? runtime.exe : runtime.argv[0]);
  for (guint i = 1; runtime.argv[i] != NULL; i++)
    g_ptr_array_add (argv, runtime.argv[i]);
  g_ptr_array_add (argv, NULL);

  /* GLib's spawn without its child watch: the caller reaps through its own
   * pidfd, so a join needs no main loop and nothing is left for GLib's
   * worker thread to clean up later. Without a working directory or
   * descriptor closing, GLib takes its posix_spawn path. */
  if (!g_spawn_async_with_pipes_and_fds (working_directory,
                                         (const char * const *) argv->pdata,
                                         (const char * const *) envp,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_LEAVE_DESCRIPTORS_OPEN,
                                         NULL, NULL, -1, -1, -1,
                                         &fd, &target_fd, 1,
                                         &pid, NULL, NULL, NULL, error))
    return NULL;
  return GINT_TO_POINTER (pid);
}

/* Spawned children die with this process, whichever thread asks. */
GPid
mp_runtime_spawn_self (const char  *env_name,
                       int          fd,
                       GError     **error)
{
  SpawnSelf call = { env_name, fd, error };

  return GPOINTER_TO_INT (mp_runtime_run_on_lasting_thread (spawn_self, &call));
}

/* MP_START_METHOD=fork|spawn|forkserver chooses the default from outside,
 * so a program can be tried under each method without a change. */
static void
apply_start_method_env (void)
{
  const char *nick = g_getenv ("MP_START_METHOD");
  g_autoptr(GEnumClass) klass = NULL;
  GEnumValue *value;

  if (nick == NULL || *nick == '\0')
    return;
  klass = g_type_class_ref (MP_TYPE_START_METHOD);
  value = g_enum_get_value_by_nick (klass, nick);
  if (value == NULL)
    {
      g_printerr (_("libmp: MP_START_METHOD=%s is not fork, spawn or forkserver; ignored\n"), nick);
      return;
    }
  runtime.method = value->value;
}

/**
 * mp_init:
 * @argc: the length of @argv
 * @argv: (array length=argc) (nullable): the program's arguments
 *
 * Prepares libmp. Call it at the top of main(), after registering tasks
 * (Python: before the script does any work).
 *
 * In an ordinary process it records how to start this program again
 * (the spawn start method) and, while the program still has a single
 * thread, forks the forkserver. The environment variable
 * `MP_START_METHOD` (fork, spawn or forkserver) sets the default start
 * method, as mp_set_start_method() would. In a child that libmp started with spawn
 * it never returns: the process becomes the worker, runs what its parent
 * sends, and exits.
 *
 * Calling it again does nothing.
 */
void
mp_init (int    argc,
         char **argv)
{
  const char *worker;
  int parent;

  if (runtime.initialized)
    return;
  runtime.initialized = TRUE;

  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  runtime.threads_at_init = mp_count_threads ();
  runtime.exe = g_file_read_link ("/proc/self/exe", NULL);
  runtime.argv = read_cmdline (argc, argv);
  runtime.cwd = g_get_current_dir ();

  if ((worker = g_getenv (MP_WORKER_ENV)) != NULL)
    {
      int fd = parse_spawn_env (MP_WORKER_ENV, worker, &parent);
      mp_worker_main (fd, parent, parent, TRUE);
    }
  if ((worker = g_getenv (MP_FORKSERVER_ENV)) != NULL)
    {
      int fd = parse_spawn_env (MP_FORKSERVER_ENV, worker, &parent);
      mp_forkserver_serve (fd, parent);
    }

  apply_start_method_env ();

  if (runtime.threads_at_init == 1)
    {
      g_autoptr(GError) error = NULL;

      /* Every worker is a copy of the server: set up once here what each
       * would otherwise set up again, and print nothing twice. */
      g_type_class_unref (g_type_class_ref (MP_TYPE_PROCESS));
      mp_flush_stdio ();

      if (!mp_forkserver_launch (&error))
        g_warning ("%s", error->message);
    }

  atexit (runtime_atexit);
}

/**
 * mp_is_initialized:
 *
 * Returns: whether mp_init() was called in this process (or in the
 *   process it was forked from)
 */
gboolean
mp_is_initialized (void)
{
  return runtime.initialized;
}

const char * const *
mp_runtime_get_argv (void)
{
  return (const char * const *) runtime.argv;
}

const char *
mp_runtime_get_exe (void)
{
  return runtime.exe;
}

const char *
mp_runtime_get_cwd (void)
{
  return runtime.cwd;
}

guint
mp_runtime_threads_at_init (void)
{
  return runtime.threads_at_init;
}

gboolean
mp_runtime_is_child (void)
{
  return runtime.is_child;
}

/* In a new child: forget the parent's children (they are not ours) and
 * remember who we are. */
void
mp_runtime_enter_child (int        parent_pid,
                        MpProcess *process)
{
  runtime.is_child = TRUE;
  runtime.parent_pid = parent_pid;
  /* The list's references belong to the parent's copy of memory; leak
   * them rather than finalize objects that describe the parent's state. */
  runtime.children = NULL;
  g_mutex_init (&runtime.lock);
  /* The launcher thread was not copied: the next one starts afresh. */
  memset (&launcher, 0, sizeof launcher);
  mp_wire_after_fork_child ();
  for (guint i = 0; i < n_child_hooks; i++)
    child_hooks[i] ();
  mp_runtime_set_current_process (process);
}

void
mp_runtime_set_current_process (MpProcess *process)
{
  g_set_object (&runtime.current, process);
}

/**
 * mp_current_process:
 *
 * The process object for this process: in a child, the #MpProcess its
 * parent started (a subclass arrives as its own type, with its
 * properties); in the main process, an object named "MainProcess".
 *
 * Returns: (transfer none): this process
 */
MpProcess *
mp_current_process (void)
{
  if (runtime.current == NULL)
    runtime.current = mp_process_new_main ();
  return runtime.current;
}

/**
 * mp_parent_pid:
 *
 * Returns: the pid of the process that started this one through libmp
 *   (even when a forkserver did the forking), or 0 in a process that
 *   libmp did not start
 */
int
mp_parent_pid (void)
{
  return runtime.is_child ? runtime.parent_pid : 0;
}

/**
 * mp_exit:
 * @status: the exit code
 *
 * Ends this process with @status after flushing standard output and
 * error. In a child, the parent's #MpProcess:exitcode becomes @status;
 * the child skips exit handlers inherited from the parent.
 */
void
mp_exit (int status)
{
  mp_runtime_flush ();
  if (runtime.is_child)
    _exit (status);
  exit (status);
}

void
mp_flush_stdio (void)
{
  fflush (NULL);
}

static void (*flush_hooks[8]) (void);
static guint n_flush_hooks;
void
mp_runtime_add_child_hook (void (*hook) (void))
{
  for (guint i = 0; i < n_child_hooks; i++)
    if (child_hooks[i] == hook)
      return;
  g_return_if_fail (n_child_hooks < G_N_ELEMENTS (child_hooks));
  child_hooks[n_child_hooks++] = hook;
}

void
mp_runtime_add_flush_hook (void (*hook) (void))
{
  for (guint i = 0; i < n_flush_hooks; i++)
    if (flush_hooks[i] == hook)
      return;
  g_return_if_fail (n_flush_hooks < G_N_ELEMENTS (flush_hooks));
  flush_hooks[n_flush_hooks++] = hook;
}

void
mp_runtime_flush (void)
{
  for (guint i = 0; i < n_flush_hooks; i++)
    flush_hooks[i] ();
  mp_flush_stdio ();
}

/* ---- start methods ----------------------------------------------------- */

MpStartMethod
mp_runtime_resolve_method (MpStartMethod method)
{
  if (method != MP_START_METHOD_DEFAULT)
    return method;
  if (runtime.method != MP_START_METHOD_DEFAULT)
    return runtime.method;
  if (!runtime.initialized)
    return MP_START_METHOD_FORK;
  /* A spawned forkserver (threads at mp_init) does not change the default. */
  if (runtime.threads_at_init == 1 && mp_forkserver_is_running ())
    return MP_START_METHOD_FORKSERVER;
  return MP_START_METHOD_SPAWN;
}

/**
 * mp_start_method_is_available:
 * @method: a start method
 * @error: return location for a #GError
 *
 * Whether this process can start children with @method.
 *
 * Returns: %TRUE if it can; %FALSE with @error saying why not
 */
gboolean
mp_start_method_is_available (MpStartMethod   method,
                              GError        **error)
{
  switch (mp_runtime_resolve_method (method))
    {
    case MP_START_METHOD_FORK:
      return TRUE;

    case MP_START_METHOD_SPAWN:
      if (!runtime.initialized || runtime.argv == NULL || runtime.argv[0] == NULL)
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_NOT_INITIALIZED,
                               _("The spawn start method needs mp_init() at the top of main()"));
          return FALSE;
        }
      return TRUE;

    case MP_START_METHOD_FORKSERVER:
      if (!runtime.initialized)
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_NOT_INITIALIZED,
                               _("The forkserver start method needs mp_init() at the top of main()"));
          return FALSE;
        }
      if (!mp_forkserver_is_running () && !runtime.is_child && runtime.threads_at_init > 1)
        {
          /* Forking this program is unsafe: start a fresh copy as the server. */
          g_mutex_lock (&runtime.lock);
          if (!mp_forkserver_is_running () && !mp_forkserver_launch_spawned (error))
            {
              g_mutex_unlock (&runtime.lock);
              return FALSE;
            }
          g_mutex_unlock (&runtime.lock);
        }
      if (!mp_forkserver_is_running ())
        {
          if (runtime.is_child)
            g_set_error_literal (error, MP_ERROR, MP_ERROR_START_METHOD,
                                 _("The forkserver start method is not available in a child process"));
          else
            g_set_error (error, MP_ERROR, MP_ERROR_START_METHOD,
                         _("The forkserver start method is not available: mp_init() ran while the program had %u threads, and forking then is unsafe"),
                         runtime.threads_at_init);
          return FALSE;
        }
      return TRUE;

    case MP_START_METHOD_DEFAULT:
    default:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Unknown start method"));
      return FALSE;
    }
}

/**
 * mp_set_start_method:
 * @method: the start method for processes that do not choose one
 * @error: return location for a #GError
 *
 * Sets the process-wide default start method, as Python's
 * multiprocessing.set_start_method() does. %MP_START_METHOD_DEFAULT goes
 * back to the automatic choice.
 *
 * Returns: %TRUE on success; %FALSE with @error set when @method cannot
 *   be used in this process
 */
gboolean
mp_set_start_method (MpStartMethod   method,
                     GError        **error)
{
  if (method != MP_START_METHOD_DEFAULT && !mp_start_method_is_available (method, error))
    return FALSE;
  runtime.method = method;
  return TRUE;
}

/**
 * mp_get_start_method:
 *
 * Returns: the start method a process uses when it does not choose one
 */
MpStartMethod
mp_get_start_method (void)
{
  return mp_runtime_resolve_method (MP_START_METHOD_DEFAULT);
}

/* ---- cpu count --------------------------------------------------------- */

static double
cgroup_cpu_limit (void)
{
  g_autofree char *cgroup = NULL;
  double limit = G_MAXDOUBLE;
  g_autofree char *path = NULL;

  if (!g_file_get_contents ("/proc/self/cgroup", &cgroup, NULL, NULL))
    return limit;

  for (char *line = strtok (cgroup, "\n"); line != NULL; line = strtok (NULL, "\n"))
    if (g_str_has_prefix (line, "0::"))
      {
        path = g_strdup (line + 3);
        break;
      }
  if (path == NULL)
    return limit;

  /* A quota anywhere up the hierarchy caps this group. */
  for (;;)
    {
      g_autofree char *file = g_build_filename ("/sys/fs/cgroup", path, "cpu.max", NULL);
      g_autofree char *max = NULL;
      char quota[32];
      double period;

      if (g_file_get_contents (file, &max, NULL, NULL) &&
          sscanf (max, "%31s %lf", quota, &period) == 2 &&
          strcmp (quota, "max") != 0 && period > 0)
        limit = MIN (limit, g_ascii_strtod (quota, NULL) / period);

      if (strcmp (path, "/") == 0 || *path == '\0')
        break;
      {
        char *slash = strrchr (path, '/');
        if (slash == NULL)
          break;
        if (slash == path)
          slash[1] = '\0';
        else
          *slash = '\0';
      }
    }
  return limit;
}

/**
 * mp_cpu_count:
 *
 * The number of CPUs this process may use: the CPUs in its affinity mask,
 * capped by the cgroup CPU quota (rounded up). Python's cpu_count()
 * ignores both.
 *
 * Returns: at least 1
 */
guint
mp_cpu_count (void)
{
  cpu_set_t set;
  guint n = g_get_num_processors ();
  double quota;

  if (sched_getaffinity (0, sizeof set, &set) == 0)
    n = MAX (1, CPU_COUNT (&set));
  quota = cgroup_cpu_limit ();
  if (quota < n)
    n = MAX (1, (guint) (quota + 0.999));
  return n;
}

/* ---- children ---------------------------------------------------------- */

void
mp_runtime_add_child (MpProcess *process)
{
  g_mutex_lock (&runtime.lock);
  runtime.children = g_list_prepend (runtime.children, g_object_ref (process));
  g_mutex_unlock (&runtime.lock);
}

void
mp_runtime_remove_child (MpProcess *process)
{
  GList *link;

  g_mutex_lock (&runtime.lock);
  link = g_list_find (runtime.children, process);
  if (link != NULL)
    runtime.children = g_list_delete_link (runtime.children, link);
  g_mutex_unlock (&runtime.lock);
  if (link != NULL)
    g_object_unref (process);
}

static gpointer
ref_object (gconstpointer object,
            gpointer      unused)
{
  return g_object_ref ((gpointer) object);
}

static GList *
copy_children (void)
{
  GList *copy;

  g_mutex_lock (&runtime.lock);
  copy = g_list_copy_deep (runtime.children, ref_object, NULL);
  g_mutex_unlock (&runtime.lock);
  return copy;
}

/* Collects children that have ended, so that none stays a zombie while
 * nobody joins it (Python does the same in start() and active_children()). */
void
mp_runtime_reap_children (void)
{
  GList *children = copy_children ();

  for (GList *l = children; l != NULL; l = l->next)
    mp_process_reap (l->data);
  g_list_free_full (children, g_object_unref);
}

/**
 * mp_active_children:
 *
 * The children of this process that are still running; those that have
 * ended are collected on the way.
 *
 * Returns: (transfer full) (element-type MpProcess): the live children
 */
GList *
mp_active_children (void)
{
  mp_runtime_reap_children ();
  return copy_children ();
}

/* As Python does at exit: daemonic children are terminated, the others
 * are joined. */
static void
runtime_atexit (void)
{
  static GList *children;

  if (runtime.is_child)
    return;
  mp_runtime_flush ();
  children = copy_children ();
  for (GList *l = children; l != NULL; l = l->next)
    if (mp_process_get_daemon (l->data) && mp_process_is_alive (l->data))
      mp_process_terminate (l->data, NULL);
  for (GList *l = children; l != NULL; l = l->next)
    mp_process_join (l->data, -1, NULL);
  /* Kept, not unreffed: a binding's object (a Python subclass) may have
   * its last reference here, and its finalizer would call into an
   * interpreter that has already shut down. The process is ending anyway;
   * the static list keeps them reachable for leak checkers. */
}

/* ---- helpers for the start methods -------------------------------------- */

int
mp_pidfd_open (pid_t pid)
{
  return (int) syscall (SYS_pidfd_open, pid, 0);
}

/* Reaps a child through its pidfd. Returns FALSE when it has not ended
 * yet (only without @block) or cannot be waited for. */
gboolean
mp_pidfd_wait (int       pidfd,
               gboolean  block,
               int      *exitcode)
{
  siginfo_t info = { 0 };
  int r;

  do
    r = waitid ((idtype_t) 3 /* P_PIDFD */, pidfd, &info, WEXITED | (block ? 0 : WNOHANG));
  while (r < 0 && errno == EINTR);

  if (r < 0 || info.si_pid == 0)
    return FALSE;

  if (info.si_code == CLD_EXITED)
    *exitcode = info.si_status;
  else
    *exitcode = -info.si_status;
  return TRUE;
}

/* Run in a new child: die with the parent, even when it is SIGKILLed.
 * The parent may already be gone by the time the flag is set.
 *
 * The kernel sends the signal when the *thread* that started the child
 * exits, not the process: parents start children from their main thread
 * or from the launcher thread below, never from a thread that may end
 * first (a GTask worker, a pool's thread, a Python or JS thread). */
void
mp_child_setup_parent_death (pid_t expected_parent)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != expected_parent)
    _exit (1);
}

/* The parent keeps its end of the channel open for the child's whole
 * life, so a hang-up means the parent is gone: exit, even while the task
 * is busy on the main thread. */
static gpointer
lifeline_thread (gpointer data)
{
  struct pollfd pfd = { GPOINTER_TO_INT (data), 0, 0 };

  for (;;)
    {
      if (poll (&pfd, 1, -1) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
        {
          if (pfd.revents & POLLNVAL)
            return NULL;  /* the channel was closed here on purpose */
          _exit (1);
        }
    }
  return NULL;
}

/* Run in a new child: exit when channel @fd to the parent hangs up. */
void
mp_child_start_lifeline (int fd)
{
  g_thread_unref (g_thread_new ("mp-lifeline", lifeline_thread, GINT_TO_POINTER (fd)));
}

/* The main thread is the one whose id is the process's: it lives as long
 * as the process (in a fork child, the thread that forked). */
gboolean
mp_runtime_on_main_thread (void)
{
  return syscall (SYS_gettid) == getpid ();
}

/* ---- the launcher thread ----------------------------------------------- */

/* Lives as long as the process and only starts children for threads
 * that may not: their PR_SET_PDEATHSIG then follows the process. */
static gpointer
launcher_thread (gpointer unused)
{
  g_mutex_lock (&launcher.lock);
  for (;;)
    {
      LaunchRequest *request;

      while ((request = g_queue_pop_head (&launcher.requests)) == NULL)
        g_cond_wait (&launcher.cond, &launcher.lock);
      g_mutex_unlock (&launcher.lock);
      request->result = request->func (request->data);
      g_mutex_lock (&launcher.lock);
      request->done = TRUE;
      g_cond_broadcast (&launcher.cond);
    }
  return NULL;
}

/* Runs @func here on the main thread; from any other thread, on the
 * launcher thread, waiting for it. */
gpointer
mp_runtime_run_on_lasting_thread (GThreadFunc func,
                                  gpointer    data)
{
  LaunchRequest request = { func, data, NULL, FALSE };

  if (mp_runtime_on_main_thread ())
    return func (data);

  /* In a child forked by other means than libmp's (os.fork(), say), the
   * thread was not copied, and its lock may have been copied taken. */
  if (launcher.running && launcher.pid != getpid ())
    memset (&launcher, 0, sizeof launcher);
  g_mutex_lock (&launcher.lock);
  if (!launcher.running)
    {
      GThread *thread = g_thread_try_new ("mp-launcher", launcher_thread, NULL, NULL);

      if (thread == NULL)
        {
          /* No thread to be had: start it from here, as before. */
          g_mutex_unlock (&launcher.lock);
          return func (data);
        }
      g_thread_unref (thread);
      launcher.running = TRUE;
      launcher.pid = getpid ();
    }
  g_queue_push_tail (&launcher.requests, &request);
  g_cond_broadcast (&launcher.cond);
  while (!request.done)
    g_cond_wait (&launcher.cond, &launcher.lock);
  g_mutex_unlock (&launcher.lock);
  return request.result;
}
