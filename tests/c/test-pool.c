/* test-pool.c: MpPool: Python's calls, and what Python's pool cannot do
 * (workers that die, timeouts, cancellation, restart intensity)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp.h>
#include "mp-pool-private.h"
#include "test-util.h"

#define TIMEOUT 120

static char *scratch_dir;
static gboolean made_scratch;
static gint64 init_value = -1;

/* ---- tasks ------------------------------------------------------------------- */

static GVariant *
task_square (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 x;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "square wants an int64, not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  x = g_variant_get_int64 (args);
  return g_variant_new_int64 (x * x);
}

static GVariant *
task_add (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 a, b;

  g_variant_get (args, "(xx)", &a, &b);
  return g_variant_new_int64 (a + b);
}

static GVariant *
task_fail (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no such thing as %s", g_variant_get_string (args, NULL));
  return NULL;
}

static GVariant *
task_fail_on_3 (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  if (g_variant_get_int64 (args) == 3)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "three is bad");
      return NULL;
    }
  return g_variant_new_int64 (g_variant_get_int64 (args));
}

/* Even numbers stay numbers, odd ones become strings: a map of mixed
 * results. */
static GVariant *
task_mixed (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 x = g_variant_get_int64 (args);

  if (x % 2 == 0)
    return g_variant_new_int64 (x);
  return g_variant_new_take_string (g_strdup_printf ("%" G_GINT64_FORMAT, x));
}

static GVariant *
task_pid (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  return g_variant_new_int32 (getpid ());
}

/* Blocks until killed: the pool's timeout or cancellation must end it. */
static GVariant *
task_hang (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  for (;;)
    pause ();
  return NULL;
}

/* Dies the way args says: "kill", "abort", "exit", "segv". */
static GVariant *
task_die (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  const char *how = g_variant_get_string (args, NULL);

  if (g_str_equal (how, "kill"))
    raise (SIGKILL);
  else if (g_str_equal (how, "abort"))
    abort ();
  else if (g_str_equal (how, "exit"))
    _exit (3);
  else if (g_str_equal (how, "segv"))
    {
      /* As a crash would, even where a sanitizer catches SIGSEGV. */
      signal (SIGSEGV, SIG_DFL);
      raise (SIGSEGV);
    }
  return g_variant_new_string ("survived");
}

/* TRUE the first time any worker asks with @mark: it leaves a file of
 * that name in the scratch directory. */
static gboolean
first_time (const char *mark)
{
  g_autofree char *path = g_build_filename (scratch_dir, mark, NULL);
  int fd = open (path, O_CREAT | O_EXCL | O_WRONLY, 0600);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

/* Dies the first time (a file marks that it ran), works the second. */
static GVariant *
task_die_once (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  if (first_time (g_variant_get_string (args, NULL)))
    raise (SIGKILL);
  return g_variant_new_string ("second time");
}

/* Opens the scratch FIFO for reading ("r") or writing ("w"): it returns
 * only once another task opened the other side, so two of them finish
 * only if they run at the same time. */
static GVariant *
task_rendezvous (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  g_autofree char *fifo = g_build_filename (scratch_dir, "rendezvous", NULL);
  int fd = open (fifo, g_str_equal (g_variant_get_string (args, NULL), "r") ? O_RDONLY : O_WRONLY);

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "open: %s", g_strerror (errno));
      return NULL;
    }
  close (fd);
  return g_variant_new_boolean (TRUE);
}

/* Opens the scratch FIFO named by args for reading and reads until the
 * other side closes it: the test holds the worker here (it knows the
 * worker is in once its own open for writing returns) and lets it go
 * by closing. */
static GVariant *
task_gate (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  g_autofree char *fifo = g_build_filename (scratch_dir, g_variant_get_string (args, NULL), NULL);
  int fd = open (fifo, O_RDONLY);
  char c;

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "open: %s", g_strerror (errno));
      return NULL;
    }
  while (read (fd, &c, 1) > 0 || errno == EINTR)
    ;
  close (fd);
  return g_variant_new_boolean (TRUE);
}

/* Reads what the descriptor in args ("(h)") holds, up to its end. */
static GVariant *
task_read_fd (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint32 fd;
  char buf[64];
  ssize_t n;

  g_variant_get (args, "(h)", &fd);
  n = read (fd, buf, sizeof buf - 1);
  if (n < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "read: %s", g_strerror (errno));
      return NULL;
    }
  buf[n] = '\0';
  return g_variant_new_string (buf);
}

/* A pipe's read end, with args (a string) written into it. */
static GVariant *
task_make_pipe (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  const char *text = g_variant_get_string (args, NULL);
  int fds[2];

  if (pipe (fds) != 0 || write (fds[1], text, strlen (text)) != (gssize) strlen (text))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pipe");
      return NULL;
    }
  close (fds[1]);
  return g_variant_new_handle (fds[0]);
}

/* Nothing, as a Python task's None ("mv"). */
static GVariant *
task_nothing (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
}

static GVariant *
task_init (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  init_value = g_variant_get_int64 (args);
  if (init_value < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the initializer refuses");
      return NULL;
    }
  return NULL;
}

static GVariant *
task_get_init (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  return g_variant_new_int64 (init_value);
}

/* Doubles a number, keeping a byte a byte and a double a double, and
 * making an int32 an int64: results smaller, as large and larger than
 * their items. */
static GVariant *
task_twice (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  if (g_variant_is_of_type (args, G_VARIANT_TYPE_BYTE))
    return g_variant_new_byte (2 * g_variant_get_byte (args));
  if (g_variant_is_of_type (args, G_VARIANT_TYPE_INT32))
    return g_variant_new_int64 (2 * (gint64) g_variant_get_int32 (args));
  return g_variant_new_double (2 * g_variant_get_double (args));
}

/* An int64 below 5000, a string from there: chunks of numbers, of
 * strings, and one of both. */
static GVariant *
task_number_or_string (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 x = g_variant_get_int64 (args);

  if (x < 5000)
    return g_variant_new_int64 (x);
  return g_variant_new_take_string (g_strdup_printf ("%" G_GINT64_FORMAT, x));
}

/* Squares, but the worker dies at 5000 the first time (a file marks it):
 * the chunks it finished before in the same message lose their answers. */
static GVariant *
task_square_dies_at_5000 (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 x = g_variant_get_int64 (args);

  if (x == 5000 && first_time ("dies-at-5000"))
    raise (SIGKILL);
  return g_variant_new_int64 (x * x);
}

/* What GJS does when it refuses to call a JavaScript task (while its
 * garbage collector sweeps): a critical message, and no value. */
static GVariant *
refuse_as_gjs_does (void)
{
  g_log ("Gjs", G_LOG_LEVEL_CRITICAL,
         "Attempting to run a JS callback during garbage collection. This is most likely caused by ...");
  return NULL;
}

/* Refused at 5000, the first time; squares otherwise. */
static GVariant *
task_square_refused_at_5000 (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  gint64 x = g_variant_get_int64 (args);

  if (x == 5000 && first_time ("refused-at-5000"))
    return refuse_as_gjs_does ();
  return g_variant_new_int64 (x * x);
}

/* Refused the first time for mark args; "second time" after. */
static GVariant *
task_refused_once (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  if (first_time (g_variant_get_string (args, NULL)))
    return refuse_as_gjs_does ();
  return g_variant_new_string ("second time");
}

static GVariant *
task_refused (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  return refuse_as_gjs_does ();
}

/* Exits with the status a refusing worker ends with. */
static GVariant *
task_exit_75 (GVariant *args, GCancellable *cancellable, gpointer data, GError **error)
{
  _exit (MP_POOL_WORKER_EXIT_REFUSED);
}

/* ---- helpers ----------------------------------------------------------------- */

static MpPool *
new_pool (MpStartMethod method,
          guint         n,
          const char   *first_property,
          ...)
{
  g_autoptr(GError) error = NULL;
  MpPool *pool;
  va_list ap;

  va_start (ap, first_property);
  pool = (MpPool *) g_initable_new_valist (MP_TYPE_POOL, first_property, ap, NULL, &error);
  va_end (ap);
  (void) method;
  g_assert_no_error (error);
  g_assert_nonnull (pool);
  return pool;
}

static GVariant *
int_array (gint64 from,
           gint64 to)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("ax"));
  for (gint64 i = from; i < to; i++)
    g_variant_builder_add (&b, "x", i);
  return g_variant_builder_end (&b);
}

static int
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A one-worker pool held in a "gate" task: the work submitted meanwhile
 * piles up, so that it goes to the worker in messages of several jobs. */
typedef struct
{
  char         *fifo;
  int           fd;
  MpPoolResult *result;
} Gate;

static void
gate_close (Gate *gate)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  close (gate->fd);
  v = mp_pool_result_get (gate->result, TIMEOUT, &error);
  g_assert_no_error (error);
  unlink (gate->fifo);
  g_free (gate->fifo);
  g_object_unref (gate->result);
}

static void
gate_open (Gate       *gate,
           MpPool     *pool,
           const char *name)
{
  g_autoptr(GError) error = NULL;

  gate->fifo = g_build_filename (scratch_dir, name, NULL);
  g_assert_cmpint (mkfifo (gate->fifo, 0600), ==, 0);
  gate->result = mp_pool_submit (pool, "gate", g_variant_new_string (name), -1, &error);
  g_assert_no_error (error);
  /* Returns once the worker is in the gate. */
  gate->fd = open (gate->fifo, O_WRONLY);
  g_assert_cmpint (gate->fd, >=, 0);
}

/* Submits square(from .. to - 1) into @results. */
static void
submit_squares (MpPool    *pool,
                GPtrArray *results,
                gint64     from,
                gint64     to)
{
  g_autoptr(GError) error = NULL;

  for (gint64 i = from; i < to; i++)
    {
      g_ptr_array_add (results, mp_pool_submit (pool, "square", g_variant_new_int64 (i), -1, &error));
      g_assert_no_error (error);
    }
}

/* Each of @results is the square of its index plus @from. */
static void
check_squares (GPtrArray *results,
               gint64     from)
{
  for (guint i = 0; i < results->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mp_pool_result_get (results->pdata[i], TIMEOUT, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (v), ==, (from + i) * (from + i));
    }
}

/* ---- Python's calls ------------------------------------------------------------ */

/* The seeds' first example: map of x*x over [1, 2, 3] gives [1, 4, 9];
 * apply; starmap; errors with domain, code and message; bad input. */
static void
test_calls (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPool) pool = new_pool (method, 2, "n-workers", 2, "start-method", method, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  gsize n;
  const gint64 *xs;
  guint64 completed;

  v = mp_pool_map (pool, "square", int_array (1, 4), 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ax");
  xs = g_variant_get_fixed_array (v, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (xs[0], ==, 1);
  g_assert_cmpint (xs[1], ==, 4);
  g_assert_cmpint (xs[2], ==, 9);
  g_clear_pointer (&v, g_variant_unref);

  v = mp_pool_apply (pool, "square", g_variant_new_int64 (7), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 49);
  g_clear_pointer (&v, g_variant_unref);

  v = mp_pool_starmap (pool, "add", g_variant_new_parsed ("[(int64 1, int64 2), (3, 4)]"), 0, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *printed = g_variant_print (v, FALSE);
    g_assert_cmpstr (printed, ==, "[3, 7]");
  }
  g_clear_pointer (&v, g_variant_unref);

  /* A task's error comes back whole. */
  g_assert_null (mp_pool_apply (pool, "fail", g_variant_new_string ("x"), NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_cmpstr (error->message, ==, "no such thing as x");
  g_clear_error (&error);

  /* Arguments of the wrong type: the task says so; no worker is lost. */
  g_assert_null (mp_pool_apply (pool, "square", g_variant_new_string ("7"), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* An unknown task: refused at once, at the caller. */
  g_assert_null (mp_pool_apply (pool, "no-such-task", NULL, NULL, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
  g_clear_error (&error);
  g_assert_null (mp_pool_map (pool, "square", g_variant_new_int64 (1), 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (mp_pool_starmap (pool, "add", int_array (0, 3), 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_cmpuint (mp_pool_get_n_completed (pool), ==, 3 + 1 + 2);
  g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 2);

  /* Results of different types come back as "av", in order, whichever
   * type a chunk starts with. */
  for (guint chunksize = 1; chunksize <= 5; chunksize += 4)
    {
      g_autofree char *printed = NULL;

      v = mp_pool_map (pool, "mixed", int_array (0, 9), chunksize, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_type_string (v), ==, "av");
      printed = g_variant_print (v, FALSE);
      g_assert_cmpstr (printed, ==, "[<int64 0>, <'1'>, <int64 2>, <'3'>, <int64 4>, <'5'>, <int64 6>, <'7'>, <int64 8>]");
      g_clear_pointer (&v, g_variant_unref);
    }

  /* An empty map is an empty result; a big one keeps its order. */
  v = mp_pool_map (pool, "square", g_variant_new_array (G_VARIANT_TYPE_INT64, NULL, 0), 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (v), ==, 0);
  g_clear_pointer (&v, g_variant_unref);
  completed = mp_pool_get_n_completed (pool);
  for (guint chunksize = 0; chunksize < 40; chunksize += 13)
    {
      v = mp_pool_map (pool, "square", int_array (0, 5000), chunksize, NULL, &error);
      g_assert_no_error (error);
      xs = g_variant_get_fixed_array (v, &n, sizeof (gint64));
      g_assert_cmpuint (n, ==, 5000);
      for (gsize i = 0; i < n; i++)
        g_assert_cmpint (xs[i], ==, (gint64) (i * i));
      g_clear_pointer (&v, g_variant_unref);
    }

  g_assert_cmpuint (mp_pool_get_n_completed (pool), ==, completed + 4 * 5000);

  /* The first failing item fails the map. */
  g_assert_null (mp_pool_map (pool, "fail-on-3", int_array (0, 10), 1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);


  mp_pool_close (pool);
  g_assert_true (mp_pool_join (pool, TIMEOUT, NULL, &error));
  g_assert_no_error (error);
}

/* Results on a main loop; AsyncResult's get/ready/successful/wait. */
static void
apply_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GPtrArray *got = data;
  g_autoptr(GError) error = NULL;
  GVariant *v = mp_pool_apply_finish (MP_POOL (source), res, &error);

  g_assert_no_error (error);
  g_ptr_array_add (got, v);
}

static void
map_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GVariant **out = data;
  g_autoptr(GError) error = NULL;

  *out = mp_pool_map_finish (MP_POOL (source), res, &error);
  g_assert_no_error (error);
}

static void
count_finished (MpPool *pool, const char *task, gboolean success, gpointer data)
{
  (*(guint *) data)++;
}

static void
test_async (void)
{
  g_autoptr(MpPool) pool = mp_pool_new (2, NULL);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GVariant) mapped = NULL;
  g_autoptr(MpPoolResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  GMainContext *context = g_main_context_default ();
  guint finished = 0;
  gint64 deadline = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;

  g_signal_connect (pool, "task-finished", G_CALLBACK (count_finished), &finished);
  for (int i = 0; i < 30; i++)
    mp_pool_apply_async (pool, "square", g_variant_new_int64 (i), NULL, apply_done, got);
  mp_pool_map_async (pool, "square", int_array (0, 100), 10, NULL, map_done, &mapped);
  while ((got->len < 30 || mapped == NULL || finished < 40) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (got->len, ==, 30);
  g_assert_nonnull (mapped);
  g_assert_cmpuint (g_variant_n_children (mapped), ==, 100);
  g_assert_cmpuint (finished, ==, 40);

  /* The progress properties are notified (throttled) on this loop. */
  while (mp_pool_get_n_completed (pool) != 130 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (mp_pool_get_n_submitted (pool), ==, 130);

  result = mp_pool_submit (pool, "square", g_variant_new_int64 (12), -1, &error);
  g_assert_no_error (error);
  g_assert_true (mp_pool_result_wait (result, TIMEOUT));
  g_assert_true (mp_pool_result_ready (result));
  g_assert_true (mp_pool_result_successful (result));
  v = mp_pool_result_get (result, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 144);

  /* Once the loop has delivered what is left, nothing holds the pool. */
  {
    MpPool *weak = pool;

    g_object_add_weak_pointer (G_OBJECT (weak), (gpointer *) &weak);
    g_clear_object (&pool);
    while (weak != NULL && g_get_monotonic_time () < deadline)
      g_main_context_iteration (context, TRUE);
    g_assert_null (weak);
  }
}

/* imap and imap_unordered: every result once; in order for imap. */
static void
test_imap (void)
{
  g_autoptr(MpPool) pool = mp_pool_new (2, NULL);
  g_autoptr(GError) error = NULL;

  for (guint ordered = 0; ordered < 2; ordered++)
    for (guint chunksize = 1; chunksize < 20; chunksize += 6)
      {
        g_autoptr(MpPoolIterator) it = NULL;
        g_autoptr(GVariant) v = NULL;
        guint64 sum = 0;
        guint n = 0;

        it = ordered ? mp_pool_imap (pool, "square", int_array (0, 300), chunksize, &error)
                     : mp_pool_imap_unordered (pool, "square", int_array (0, 300), chunksize, &error);
        g_assert_no_error (error);
        while (mp_pool_iterator_next (it, TIMEOUT, &v, &error))
          {
            if (ordered)
              g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) n * n);
            sum += g_variant_get_int64 (v);
            n++;
            g_clear_pointer (&v, g_variant_unref);
          }
        g_assert_no_error (error);
        g_assert_cmpuint (n, ==, 300);
        g_assert_cmpuint (sum, ==, 299 * 300 * 599 / 6);
      }

  /* A failing chunk gives its error once, then the rest comes. */
  {
    g_autoptr(MpPoolIterator) it = mp_pool_imap (pool, "fail-on-3", int_array (0, 6), 1, &error);
    g_autoptr(GVariant) v = NULL;
    guint n = 0, errors = 0;

    for (;;)
      {
        if (mp_pool_iterator_next (it, TIMEOUT, &v, &error))
          {
            n++;
            g_clear_pointer (&v, g_variant_unref);
          }
        else if (error != NULL)
          {
            g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
            g_clear_error (&error);
            errors++;
          }
        else
          break;
      }
    g_assert_cmpuint (n, ==, 5);
    g_assert_cmpuint (errors, ==, 1);
  }
}

/* ---- beyond Python --------------------------------------------------------------- */

/* A worker that dies mid-task fails that task with a clear reason; the
 * worker is replaced and every other task completes. */
static void
test_worker_dies (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPool) pool = new_pool (method, 2, "n-workers", 2, "start-method", method, NULL);
  const char *hows[] = { "kill", "abort", "exit", "segv" };
  const char *expect[] = { "killed by signal 9", "killed by signal 6", "exited with status 3", "killed by signal 11" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (hows); i++)
    {
      g_autoptr(MpPoolResult) doomed = NULL;
      g_autoptr(MpPoolResult) others = NULL;
      g_autoptr(GVariant) v = NULL;

      others = mp_pool_submit_map (pool, "square", int_array (0, 200), 1, &error);
      doomed = mp_pool_submit (pool, "die", g_variant_new_string (hows[i]), -1, &error);
      g_assert_no_error (error);
      g_assert_null (mp_pool_result_get (doomed, TIMEOUT, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_WORKER_DIED);
      g_assert_nonnull (strstr (error->message, expect[i]));
      g_assert_nonnull (strstr (error->message, "“die”"));
      g_clear_error (&error);
      v = mp_pool_result_get (others, TIMEOUT, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_n_children (v), ==, 200);
    }
  {
    g_autoptr(GArray) pids = mp_pool_get_worker_pids (pool);
    g_assert_cmpuint (pids->len, ==, 2);
  }
}

/* With retries, a job whose worker died runs again. */
static void
test_retries (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "retries", 1, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mp_pool_apply (pool, "die-once", g_variant_new_string ("retries"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "second time");
}

/* A task over its timeout fails with G_IO_ERROR_TIMED_OUT; its worker is
 * replaced and the pool goes on. */
static void
test_timeout (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(MpPoolResult) hung = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GArray) before = NULL, after = NULL;

  before = mp_pool_get_worker_pids (pool);
  hung = mp_pool_submit (pool, "hang", NULL, 0.2, &error);
  g_assert_null (mp_pool_result_get (hung, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  v = mp_pool_apply (pool, "square", g_variant_new_int64 (5), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 25);
  after = mp_pool_get_worker_pids (pool);
  g_assert_cmpint (g_array_index (before, int, 0), !=, g_array_index (after, int, 0));

  /* The pool's own timeout, for every call. */
  g_object_set (pool, "task-timeout", 0.2, NULL);
  g_assert_null (mp_pool_apply (pool, "hang", NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* Cancelling a queued task drops it; cancelling a running one kills its
 * worker; both fail with G_IO_ERROR_CANCELLED; the pool goes on. */
static void
test_cancel (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(MpPoolResult) running = NULL;
  g_autoptr(MpPoolResult) queued = NULL;
  g_autoptr(MpPoolResult) queued2 = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  running = mp_pool_submit (pool, "hang", NULL, -1, &error);
  queued = mp_pool_submit (pool, "square", g_variant_new_int64 (2), -1, &error);
  queued2 = mp_pool_submit (pool, "square", g_variant_new_int64 (3), -1, &error);
  g_assert_no_error (error);

  mp_pool_result_cancel (queued2);
  g_assert_null (mp_pool_result_get (queued2, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (mp_pool_result_ready (queued));

  mp_pool_result_cancel (running);
  g_assert_null (mp_pool_result_get (running, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  v = mp_pool_result_get (queued, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 4);

  /* A GCancellable given to a blocking call, cancelled from another
   * thread while the task runs. */
  {
    GThread *canceller;

    canceller = g_thread_new ("canceller", (GThreadFunc) (void (*) (void)) g_cancellable_cancel, cancellable);
    g_assert_null (mp_pool_apply (pool, "hang", NULL, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_thread_join (canceller);
  }
}

/* More deaths than max-restarts within restart-period stop the pool with
 * a clear error instead of respawning for ever. */
static void
test_restart_intensity (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "max-restarts", 3,
                                     "restart-period", 600.0, NULL);
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 4; i++)
    {
      g_assert_null (mp_pool_apply (pool, "die", g_variant_new_string ("kill"), NULL, &error));
      g_assert_true (error != NULL);
      g_clear_error (&error);
    }
  g_assert_null (mp_pool_apply (pool, "square", g_variant_new_int64 (2), NULL, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_POOL_BROKEN);
  g_assert_nonnull (strstr (error->message, "4 times"));
}

/* The initializer runs in each worker before its first job; one that
 * fails breaks the pool with its message. */
static void
test_initializer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, "initializer", "init",
                                       "initargs", g_variant_new_int64 (42), NULL);
    v = mp_pool_apply (pool, "get-init", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int64 (v), ==, 42);
  }
  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "initializer", "init",
                                       "initargs", g_variant_new_int64 (-1), "max-restarts", 2, NULL);
    g_assert_null (mp_pool_apply (pool, "get-init", NULL, NULL, &error));
    g_assert_error (error, MP_ERROR, MP_ERROR_POOL_BROKEN);
    g_assert_nonnull (strstr (error->message, "the initializer refuses"));
    g_clear_error (&error);
  }
  g_assert_null (g_initable_new (MP_TYPE_POOL, NULL, &error, "initializer", "no-such-task", NULL));
  g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
}

/* terminate() with 10,000 queued tasks returns promptly and fails them;
 * join() after close() returns; join() on a running pool is refused; a
 * closed pool refuses new work. */
static void
test_close_terminate_join (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);

  {
    g_autoptr(MpPool) pool = mp_pool_new (2, NULL);

    g_assert_false (mp_pool_join (pool, 0, NULL, &error));
    g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
    g_clear_error (&error);
    for (int i = 0; i < 10000; i++)
      g_ptr_array_add (results, mp_pool_submit (pool, "hang", NULL, -1, NULL));
    mp_pool_terminate (pool);
    for (guint i = 0; i < results->len; i++)
      {
        g_assert_null (mp_pool_result_get (results->pdata[i], TIMEOUT, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
        g_clear_error (&error);
      }
    g_assert_true (mp_pool_join (pool, TIMEOUT, NULL, &error));
    g_assert_null (mp_pool_submit (pool, "square", g_variant_new_int64 (1), -1, &error));
    g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
    g_clear_error (&error);
  }
  {
    g_autoptr(MpPool) pool = mp_pool_new (2, NULL);
    g_autoptr(MpPoolResult) last = mp_pool_submit_map (pool, "square", int_array (0, 1000), 10, NULL);

    mp_pool_close (pool);
    g_assert_true (mp_pool_join (pool, TIMEOUT, NULL, &error));
    g_assert_no_error (error);
    /* Work given before close() is done, not dropped. */
    g_assert_true (mp_pool_result_successful (last));
  }
}

/* max-tasks-per-worker replaces workers: every job in a new process. */
static void
test_max_tasks (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, "max-tasks-per-worker", 1, NULL);
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 6; i++)
    {
      g_autoptr(GVariant) v = mp_pool_apply (pool, "pid", NULL, NULL, &error);

      g_assert_no_error (error);
      g_hash_table_add (pids, GINT_TO_POINTER (g_variant_get_int32 (v)));
    }
  g_assert_cmpuint (g_hash_table_size (pids), ==, 6);
}

/* Free workers take waiting jobs: two tasks given to two workers run at
 * the same time, even when more work waits behind them (Python's
 * behaviour; a second job sent ahead must not queue behind the first). */
static void
test_idle_workers_take_jobs (void)
{
  g_autoptr(MpPool) pool = mp_pool_new (2, NULL);
  g_autofree char *fifo = g_build_filename (scratch_dir, "rendezvous", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  for (int round = 0; round < 3; round++)
    {
      g_autoptr(MpPoolResult) w = mp_pool_submit (pool, "rendezvous", g_variant_new_string ("w"), -1, &error);
      g_autoptr(MpPoolResult) r = mp_pool_submit (pool, "rendezvous", g_variant_new_string ("r"), -1, &error);
      g_autoptr(MpPoolResult) after = mp_pool_submit (pool, "square", g_variant_new_int64 (3), -1, &error);
      g_autoptr(GVariant) v = NULL;

      g_assert_no_error (error);
      v = mp_pool_result_get (r, TIMEOUT, &error);
      g_assert_no_error (error);
      g_clear_pointer (&v, g_variant_unref);
      v = mp_pool_result_get (w, TIMEOUT, &error);
      g_assert_no_error (error);
      g_assert_true (mp_pool_result_wait (after, TIMEOUT));
    }
  unlink (fifo);
}

/* A worker killed while it holds a message of jobs, some done with their
 * answers held: only the job it was running fails; the others (done
 * ones included, their answers lost) run again and complete. */
static void
test_batch_death (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MpPoolResult) doomed = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-death");
  submit_squares (pool, before, 0, 10);
  doomed = mp_pool_submit (pool, "die", g_variant_new_string ("kill"), -1, &error);
  g_assert_no_error (error);
  submit_squares (pool, after, 10, 200);
  gate_close (&gate);

  g_assert_null (mp_pool_result_get (doomed, TIMEOUT, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_WORKER_DIED);
  g_assert_nonnull (strstr (error->message, "“die”"));
  check_squares (before, 0);
  check_squares (after, 10);
  g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 1);
  g_assert_cmpuint (mp_pool_get_n_completed (pool), ==, 201);
}

/* With retries, the job whose worker died in the middle of a message of
 * jobs runs again; no other job fails. */
static void
test_batch_retry (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "retries", 1, NULL);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MpPoolResult) once = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-retry");
  submit_squares (pool, before, 0, 30);
  once = mp_pool_submit (pool, "die-once", g_variant_new_string ("batch-retry"), -1, &error);
  g_assert_no_error (error);
  submit_squares (pool, after, 30, 100);
  gate_close (&gate);

  v = mp_pool_result_get (once, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "second time");
  check_squares (before, 0);
  check_squares (after, 30);
  g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 0);
}

/* A job sent to a worker in a message of several can still be
 * cancelled: it fails at once, and if it starts (this one would hang)
 * its worker is killed; the jobs around it complete. */
static void
test_batch_cancel (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MpPoolResult) hung = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-cancel");
  submit_squares (pool, before, 0, 10);
  hung = mp_pool_submit (pool, "hang", NULL, -1, &error);
  g_assert_no_error (error);
  submit_squares (pool, after, 10, 100);
  mp_pool_result_cancel (hung);
  g_assert_null (mp_pool_result_get (hung, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  gate_close (&gate);

  check_squares (before, 0);
  check_squares (after, 10);
}

/* A worker holds an answer only while it runs the next jobs of the same
 * message, and never for long: the answer of a job followed by one that
 * hangs comes back while that one still runs. */
static void
test_batch_held_reply (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GPtrArray) first = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MpPoolResult) hung = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-held");
  submit_squares (pool, first, 0, 20);
  hung = mp_pool_submit (pool, "hang", NULL, -1, &error);
  g_assert_no_error (error);
  submit_squares (pool, after, 20, 60);
  gate_close (&gate);

  /* While "hang" runs. */
  check_squares (first, 0);
  g_assert_false (mp_pool_result_ready (hung));
  mp_pool_result_cancel (hung);
  g_assert_null (mp_pool_result_get (hung, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  check_squares (after, 20);
}

/* A job's clock starts when its worker gets to it, not when it is sent:
 * queued behind a long job, a job with a timeout does not time out;
 * once it runs, it does, and only it fails. */
static void
test_batch_timeout (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) after = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(MpPoolResult) hung = NULL;
  g_autoptr(MpPoolResult) quick = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-timeout");
  submit_squares (pool, before, 0, 20);
  hung = mp_pool_submit (pool, "hang", NULL, 0.3, &error);
  quick = mp_pool_submit (pool, "square", g_variant_new_int64 (9), 0.3, &error);
  g_assert_no_error (error);
  submit_squares (pool, after, 20, 60);
  /* Not while the gate holds the worker. */
  g_assert_false (mp_pool_result_wait (hung, 0.6));
  g_assert_false (mp_pool_result_ready (quick));
  gate_close (&gate);

  g_assert_null (mp_pool_result_get (hung, TIMEOUT, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  v = mp_pool_result_get (quick, TIMEOUT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 81);
  check_squares (before, 0);
  check_squares (after, 20);
  g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 1);
}

/* Arguments with descriptors in them travel among many plain jobs (a
 * job whose payload may hold a handle goes in a message of its own). */
static void
test_batch_handles (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
  g_autoptr(GPtrArray) squares = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) reads = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  int fds[5][2];

  for (int i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("pipe %d", i);

      g_assert_cmpint (pipe (fds[i]), ==, 0);
      g_assert_cmpint (write (fds[i][1], text, strlen (text)), ==, (gssize) strlen (text));
      close (fds[i][1]);
    }
  for (int i = 0; i < 5; i++)
    {
      g_autoptr(GPtrArray) some = g_ptr_array_new_with_free_func (g_object_unref);

      submit_squares (pool, some, 0, 50);
      g_ptr_array_extend_and_steal (squares, g_steal_pointer (&some));
      g_ptr_array_add (reads, mp_pool_submit (pool, "read-fd", g_variant_new ("(h)", fds[i][0]), -1, &error));
      g_assert_no_error (error);
    }
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("pipe %d", i);
      g_autoptr(GVariant) v = mp_pool_result_get (reads->pdata[i], TIMEOUT, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (v, NULL), ==, text);
      close (fds[i][0]);
    }
  for (guint i = 0; i < squares->len; i++)
    {
      g_autoptr(GVariant) v = mp_pool_result_get (squares->pdata[i], TIMEOUT, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (v), ==, (gint64) (i % 50) * (gint64) (i % 50));
    }
}

typedef struct
{
  guint  n;
  guint  expected;
  gint64 sum;
  guint  ticks_between;   /* of a 1 ms timer, between the first and last callbacks */
  guint  paints_between;  /* of a 1 ms timer at GTK's paint priority */
} Slow;

/* A callback that takes 20 us of the loop's time. */
static void
slow_done (GObject      *source,
           GAsyncResult *res,
           gpointer      data)
{
  Slow *slow = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mp_pool_apply_finish (MP_POOL (source), res, &error);
  gint64 until = g_get_monotonic_time () + 20;

  g_assert_no_error (error);
  slow->sum += g_variant_get_int64 (v);
  slow->n++;
  while (g_get_monotonic_time () < until)
    ;
}

static gboolean
slow_tick (gpointer data)
{
  Slow *slow = data;

  if (slow->n > 0 && slow->n < slow->expected)
    slow->ticks_between++;
  return G_SOURCE_CONTINUE;
}

static gboolean
slow_paint (gpointer data)
{
  Slow *slow = data;

  if (slow->n > 0 && slow->n < slow->expected)
    slow->paints_between++;
  return G_SOURCE_CONTINUE;
}

/* Results that come back in batches still reach the loop a few
 * milliseconds of callbacks at a time: a timer runs between them, and so
 * does a source at GTK's paint priority (below the default), which a
 * backlog at the default priority would starve. */
static void
test_delivery_budget (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(MpPoolResult) last = NULL;
  g_autoptr(GError) error = NULL;
  GMainContext *context = g_main_context_default ();
  gint64 deadline = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;
  Slow slow = { 0, 1000, 0, 0, 0 };
  g_autoptr(GSource) paint = g_timeout_source_new (1);
  gint64 sum = 0;
  guint tick;

  for (guint i = 0; i < slow.expected; i++)
    {
      mp_pool_apply_async (pool, "square", g_variant_new_int64 (i), NULL, slow_done, &slow);
      sum += (gint64) i * i;
    }
  /* One worker runs them in order: once this one is done, so are they. */
  last = mp_pool_submit (pool, "square", g_variant_new_int64 (1), -1, &error);
  g_assert_no_error (error);
  g_assert_true (mp_pool_result_wait (last, TIMEOUT));

  tick = g_timeout_add (1, slow_tick, &slow);
  g_source_set_priority (paint, G_PRIORITY_HIGH_IDLE + 20);
  g_source_set_callback (paint, slow_paint, &slow, NULL);
  g_source_attach (paint, context);
  while (slow.n < slow.expected && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_source_remove (tick);
  g_source_destroy (paint);
  g_assert_cmpuint (slow.n, ==, slow.expected);
  g_assert_cmpint (slow.sum, ==, sum);
  g_assert_cmpuint (slow.ticks_between, >, 0);
  g_assert_cmpuint (slow.paints_between, >, 0);
}

/* An apply or a map that must fail: its error in *data. */
static void
cancelled_done (GObject      *source,
                GAsyncResult *res,
                gpointer      data)
{
  GError **error = data;

  if (g_async_result_is_tagged (res, mp_pool_map_async))
    g_assert_null (mp_pool_map_finish (MP_POOL (source), res, error));
  else
    g_assert_null (mp_pool_apply_finish (MP_POOL (source), res, error));
  g_assert_nonnull (*error);
}

/* An outcome known outside of a worker's answer (a cancelled call, here
 * one waiting behind another) reaches its callback at once, not with the
 * next answer of some worker. */
static void
test_cancel_async (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  GMainContext *context = g_main_context_default ();
  gint64 deadline = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;
  Gate gate;

  /* Answers have come already. */
  v = mp_pool_apply (pool, "square", g_variant_new_int64 (3), NULL, &error);
  g_assert_no_error (error);

  gate_open (&gate, pool, "gate-cancel-async");
  mp_pool_apply_async (pool, "square", g_variant_new_int64 (4), cancellable, cancelled_done, &error);
  g_cancellable_cancel (cancellable);
  /* While the worker is held in the gate: no answer comes meanwhile. */
  while (error == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  gate_close (&gate);
}

/* Results of every kind come back among batched ones: a descriptor (its
 * answer travels alone, with it), a value whose type could hold one but
 * does not, plain values. */
static void
test_batch_results (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GPtrArray) squares = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) pipes = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) nothings = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  Gate gate;

  gate_open (&gate, pool, "gate-results");
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("from worker %d", i);
      g_autoptr(GPtrArray) some = g_ptr_array_new_with_free_func (g_object_unref);

      submit_squares (pool, some, 20 * i, 20 * i + 20);
      g_ptr_array_extend_and_steal (squares, g_steal_pointer (&some));
      g_ptr_array_add (pipes, mp_pool_submit (pool, "make-pipe", g_variant_new_string (text), -1, &error));
      g_assert_no_error (error);
      g_ptr_array_add (nothings, mp_pool_submit (pool, "nothing", NULL, -1, &error));
      g_assert_no_error (error);
    }
  gate_close (&gate);

  check_squares (squares, 0);
  for (int i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("from worker %d", i);
      g_autoptr(GVariant) v = mp_pool_result_get (pipes->pdata[i], TIMEOUT, &error);
      char buf[64];
      gssize n;

      g_assert_no_error (error);
      g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_HANDLE));
      n = read (g_variant_get_handle (v), buf, sizeof buf - 1);
      g_assert_cmpint (n, ==, (gssize) strlen (text));
      buf[n] = '\0';
      g_assert_cmpstr (buf, ==, text);
      g_clear_pointer (&v, g_variant_unref);

      v = mp_pool_result_get (nothings->pdata[i], TIMEOUT, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_type_string (v), ==, "mv");
      g_assert_null (g_variant_get_maybe (v));
    }
}

/* A copy of a pool in a forked child goes away there without waiting for
 * the parent's thread and workers (they do not exist in the child). */
static void
test_dispose_in_fork_child (void)
{
  g_autoptr(MpPool) pool = mp_pool_new (1, NULL);
  g_autoptr(GVariant) v = mp_pool_apply (pool, "square", g_variant_new_int64 (3), NULL, NULL);
  int status;
  pid_t pid;

  pid = fork ();
  if (pid == 0)
    {
      g_object_unref (pool);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_clear_pointer (&v, g_variant_unref);
  v = mp_pool_apply (pool, "square", g_variant_new_int64 (4), NULL, NULL);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 16);
}

/* A pool never forks from its own thread: fork means forkserver. */
static void
test_fork_is_forkserver (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_FORK, 1, "n-workers", 1,
                                     "start-method", MP_START_METHOD_FORK, NULL);
  MpStartMethod method;

  g_object_get (pool, "start-method", &method, NULL);
  g_assert_cmpint (method, ==, MP_START_METHOD_FORKSERVER);
}

/* ---- blocking applies over a worker's line ---------------------------------- */

/* Blocking applies until one borrows a worker's line: the workers are
 * ready, and the next apply on an idle pool goes over a line. */
static void
await_line (MpPool *pool)
{
  guint64 before = mp_pool_get_n_line_calls (pool);
  gint64 end = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;

  while (mp_pool_get_n_line_calls (pool) == before)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mp_pool_apply (pool, "square", g_variant_new_int64 (3), NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (v), ==, 9);
      g_assert_cmpint (g_get_monotonic_time (), <, end);
    }
}

static int
only_worker_pid (MpPool *pool)
{
  g_autoptr(GArray) pids = mp_pool_get_worker_pids (pool);

  g_assert_cmpuint (pids->len, ==, 1);
  return g_array_index (pids, int, 0);
}

/* Answers and task errors come back over the line; bad input costs no
 * worker. */
static void
test_line_answers (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  guint64 before;
  int pid;

  await_line (pool);
  pid = only_worker_pid (pool);
  before = mp_pool_get_n_line_calls (pool);
  v = mp_pool_apply (pool, "add", g_variant_new ("(xx)", (gint64) 40, (gint64) 2), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 42);
  g_assert_null (mp_pool_apply (pool, "fail", g_variant_new_string ("x"), NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_cmpstr (error->message, ==, "no such thing as x");
  g_clear_error (&error);
  g_assert_null (mp_pool_apply (pool, "square", g_variant_new_string ("7"), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 3);
  g_assert_cmpint (only_worker_pid (pool), ==, pid);
  g_assert_cmpuint (mp_pool_get_n_completed (pool) + mp_pool_get_n_failed (pool), ==,
                    mp_pool_get_n_submitted (pool));
}

/* A worker that dies during a call over its line: the call fails naming
 * how, the worker is replaced, the next call works. */
static void
test_line_worker_dies (void)
{
  const struct { const char *how; const char *says; } deaths[] = {
    { "kill", "signal 9" }, { "segv", "signal 11" }, { "abort", "signal 6" }, { "exit", "status 3" },
  };
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "max-restarts", 10, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (deaths); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 before;
      int pid;

      await_line (pool);
      pid = only_worker_pid (pool);
      before = mp_pool_get_n_line_calls (pool);
      g_assert_null (mp_pool_apply (pool, "die", g_variant_new_string (deaths[i].how), NULL, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_WORKER_DIED);
      g_assert_nonnull (strstr (error->message, deaths[i].says));
      g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);
      await_line (pool);
      g_assert_cmpint (only_worker_pid (pool), !=, pid);
    }
}

/* With retries, a call whose worker died on the line runs again. */
static void
test_line_retries (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "retries", 1, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  guint64 before;

  await_line (pool);
  before = mp_pool_get_n_line_calls (pool);
  v = mp_pool_apply (pool, "die-once", g_variant_new_string ("line-retries"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "second time");
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);
}

/* A call over the line that times out or is cancelled kills its worker;
 * that is no unexpected death (with max-restarts 0 one would break the
 * pool), and the pool goes on. */
typedef struct
{
  MpPool       *pool;
  GCancellable *cancellable;
  guint64       before;
} CancelOnLine;

/* Cancels once the call has borrowed a line (a call cancelled before
 * it is made is not made at all). */
static gpointer
cancel_once_on_line (gpointer data)
{
  CancelOnLine *c = data;
  gint64 deadline = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;

  while (mp_pool_get_n_line_calls (c->pool) == c->before && g_get_monotonic_time () < deadline)
    g_thread_yield ();
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
test_line_timeout_cancel (void)
{
  CancelOnLine canceller_data;
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "max-restarts", 0, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  GThread *canceller;
  guint64 before;
  int pid;

  await_line (pool);
  pid = only_worker_pid (pool);
  before = mp_pool_get_n_line_calls (pool);
  g_object_set (pool, "task-timeout", 0.2, NULL);
  g_assert_null (mp_pool_apply (pool, "hang", NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);
  g_object_set (pool, "task-timeout", 0.0, NULL);

  await_line (pool);
  g_assert_cmpint (only_worker_pid (pool), !=, pid);
  pid = only_worker_pid (pool);
  before = mp_pool_get_n_line_calls (pool);
  canceller_data.pool = pool;
  canceller_data.cancellable = cancellable;
  canceller_data.before = before;
  canceller = g_thread_new ("canceller", cancel_once_on_line, &canceller_data);
  g_assert_null (mp_pool_apply (pool, "hang", NULL, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);

  v = mp_pool_apply (pool, "square", g_variant_new_int64 (6), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 36);
  g_assert_cmpint (only_worker_pid (pool), !=, pid);
}

/* A call whose cancellable fired before it was made is not submitted:
 * every form fails with CANCELLED at once, nothing is counted, no worker
 * is sent the work only to be killed for it (the idle pool's blocking
 * apply would otherwise go straight down a worker's line). */
static void
test_cancel_before_submit (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  GMainContext *context = g_main_context_default ();
  gint64 deadline = g_get_monotonic_time () + TIMEOUT * G_USEC_PER_SEC;
  guint64 submitted, lines;
  int pid;

  await_line (pool);
  pid = only_worker_pid (pool);
  submitted = mp_pool_get_n_submitted (pool);
  lines = mp_pool_get_n_line_calls (pool);
  g_cancellable_cancel (cancellable);

  g_assert_null (mp_pool_apply (pool, "square", g_variant_new_int64 (7), cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (mp_pool_map (pool, "square", int_array (0, 10), 1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  mp_pool_apply_async (pool, "square", g_variant_new_int64 (7), cancellable, cancelled_done, &error);
  while (error == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  mp_pool_map_async (pool, "square", int_array (0, 10), 1, cancellable, cancelled_done, &error);
  while (error == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_cmpuint (mp_pool_get_n_submitted (pool), ==, submitted);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, lines);
  v = mp_pool_apply (pool, "square", g_variant_new_int64 (6), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (v), ==, 36);
  g_assert_cmpint (only_worker_pid (pool), ==, pid);
}

typedef struct
{
  MpPool   *pool;
  char     *gate;
  GError   *error;
  GVariant *value;
} LineCall;

static gpointer
line_call_thread (gpointer data)
{
  LineCall *call = data;

  call->value = mp_pool_apply (call->pool, "gate", g_variant_new_string (call->gate), NULL, &call->error);
  return NULL;
}

/* Starts a blocking "gate" call on the line in a thread; returns once
 * the task runs, with the gate's writing end in *@fd. */
static GThread *
line_call_in_gate (MpPool   *pool,
                   LineCall *call,
                   int      *fd)
{
  g_autofree char *fifo = NULL;
  guint64 before;
  GThread *thread;

  await_line (pool);
  before = mp_pool_get_n_line_calls (pool);
  call->pool = pool;
  call->gate = g_strdup_printf ("line-gate-%d", g_random_int_range (0, G_MAXINT));
  fifo = g_build_filename (scratch_dir, call->gate, NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  thread = g_thread_new ("line-call", line_call_thread, call);
  *fd = open (fifo, O_WRONLY);
  g_assert_cmpint (*fd, >=, 0);
  unlink (fifo);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);
  return thread;
}

/* A worker killed from outside while it runs a call over its line, and a
 * pool terminated meanwhile: the call ends with the reason. */
static void
test_line_killed_terminated (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
  LineCall call = { 0 };
  GThread *thread;
  int fd;

  thread = line_call_in_gate (pool, &call, &fd);
  g_assert_cmpint (kill (only_worker_pid (pool), SIGKILL), ==, 0);
  g_thread_join (thread);
  close (fd);
  g_assert_null (call.value);
  g_assert_error (call.error, MP_ERROR, MP_ERROR_WORKER_DIED);
  g_assert_nonnull (strstr (call.error->message, "signal 9"));
  g_clear_error (&call.error);
  g_free (call.gate);

  memset (&call, 0, sizeof call);
  thread = line_call_in_gate (pool, &call, &fd);
  mp_pool_terminate (pool);
  g_thread_join (thread);
  close (fd);
  g_assert_null (call.value);
  g_assert_error (call.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&call.error);
  g_free (call.gate);
}

typedef struct
{
  MpPool *pool;
  gint64  from;
} Applier;

static gpointer
applier_thread (gpointer data)
{
  Applier *a = data;

  for (gint64 i = a->from; i < a->from + 300; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mp_pool_apply (a->pool, "square", g_variant_new_int64 (i), NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (v), ==, i * i);
    }
  return NULL;
}

/* Blocking applies from four threads while the queue is busy with
 * submitted jobs: every answer is right, some went over the lines, and a
 * closed pool still ends. */
static void
test_line_concurrent (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  Applier appliers[4];
  GThread *threads[4];

  await_line (pool);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      appliers[i].pool = pool;
      appliers[i].from = 1000 * i;
      threads[i] = g_thread_new ("applier", applier_thread, &appliers[i]);
    }
  submit_squares (pool, results, 0, 2000);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  check_squares (results, 0);
  g_assert_cmpuint (mp_pool_get_n_line_calls (pool), >, 1);
  g_assert_cmpuint (mp_pool_get_n_completed (pool), ==, mp_pool_get_n_submitted (pool));
  mp_pool_close (pool);
  g_assert_true (mp_pool_join (pool, TIMEOUT, NULL, &error));
  g_assert_no_error (error);
}

/* ---- maps in place ------------------------------------------------------------ */

static void
check_square_array (GVariant *squares,
                    gint64    from,
                    gint64    to)
{
  const gint64 *v;
  gsize n;

  g_assert_cmpstr (g_variant_get_type_string (squares), ==, "ax");
  v = g_variant_get_fixed_array (squares, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, to - from);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (v[i], ==, (from + (gint64) i) * (from + (gint64) i));
}

/* Maps of numbers large enough go through the pool's shared arena: the
 * results are right whatever their type's size against the items', and
 * when chunks answer with strings. */
static void
test_in_place_types (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
  g_autoptr(GError) error = NULL;

  {
    g_autofree guint8 *bytes = g_new (guint8, 40000);
    g_autoptr(GVariant) v = NULL;
    const guint8 *r;
    gsize n;

    for (guint i = 0; i < 40000; i++)
      bytes[i] = i % 100;
    v = mp_pool_map (pool, "twice", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, 40000, 1), 0, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (v), ==, "ay");
    r = g_variant_get_fixed_array (v, &n, 1);
    g_assert_cmpuint (n, ==, 40000);
    for (guint i = 0; i < n; i++)
      g_assert_cmpuint (r[i], ==, 2 * (i % 100));
  }
  {
    g_autofree gint32 *ints = g_new (gint32, 20000);
    g_autoptr(GVariant) v = NULL;
    const gint64 *r;
    gsize n;

    for (gint32 i = 0; i < 20000; i++)
      ints[i] = i - 10000;
    v = mp_pool_map (pool, "twice", g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, ints, 20000, 4), 333, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (v), ==, "ax");
    r = g_variant_get_fixed_array (v, &n, 8);
    g_assert_cmpuint (n, ==, 20000);
    for (gsize i = 0; i < n; i++)
      g_assert_cmpint (r[i], ==, 2 * ((gint64) i - 10000));
  }
  {
    g_autofree double *doubles = g_new (double, 10000);
    g_autoptr(GVariant) v = NULL;
    const double *r;
    gsize n;

    for (guint i = 0; i < 10000; i++)
      doubles[i] = i / 4.0;
    v = mp_pool_map (pool, "twice", g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, doubles, 10000, 8), 0, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (v), ==, "ad");
    r = g_variant_get_fixed_array (v, &n, 8);
    g_assert_cmpuint (n, ==, 10000);
    for (gsize i = 0; i < n; i++)
      g_assert_cmpfloat (r[i], ==, i / 2.0);
  }
  {
    g_autoptr(GVariant) v = mp_pool_map (pool, "number-or-string", int_array (0, 10000), 1000 - 3, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (v), ==, "av");
    g_assert_cmpuint (g_variant_n_children (v), ==, 10000);
    for (gsize i = 0; i < 10000; i += 7)
      {
        g_autoptr(GVariant) boxed = g_variant_get_child_value (v, i);
        g_autoptr(GVariant) one = g_variant_get_variant (boxed);

        if (i < 5000)
          g_assert_cmpint (g_variant_get_int64 (one), ==, (gint64) i);
        else
          g_assert_cmpint (g_ascii_strtoll (g_variant_get_string (one, NULL), NULL, 10), ==, (gint64) i);
      }
  }
}

/* A worker that dies in a map in place, with answers it held for chunks
 * it finished (their results written over their items) lost with it:
 * those chunks run again on their items, not on their results. */
static void
test_in_place_retry (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, "retries", 1, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = mp_pool_map (pool, "square-dies-at-5000", int_array (0, 8192), 64, NULL, &error);
  g_assert_no_error (error);
  check_square_array (v, 0, 8192);
}

/* A task its worker's language runtime refused (GJS while its garbage
 * collector sweeps; here a task that does what GJS does) is not taken for
 * a task that returned nothing: the worker is replaced and the job runs
 * again there, without spending a retry (the pool has none), in a map in
 * place (the chunk gets its items back), over a worker's line and
 * through the queue. A task refused every time breaks the pool after
 * max-restarts instead of going round for ever. */
static void
test_refused (void)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
    g_autoptr(GVariant) v = mp_pool_map (pool, "square-refused-at-5000", int_array (0, 8192), 64, NULL, &error);

    g_assert_no_error (error);
    check_square_array (v, 0, 8192);
    g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 0);
  }
  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
    g_autoptr(GVariant) on_line = NULL;
    g_autoptr(GVariant) queued = NULL;
    g_autoptr(MpPoolResult) result = NULL;
    guint64 before;
    int pid;

    await_line (pool);
    pid = only_worker_pid (pool);
    before = mp_pool_get_n_line_calls (pool);
    on_line = mp_pool_apply (pool, "refused-once", g_variant_new_string ("refused-on-line"), NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_string (on_line, NULL), ==, "second time");
    g_assert_cmpuint (mp_pool_get_n_line_calls (pool), ==, before + 1);
    g_assert_cmpint (only_worker_pid (pool), !=, pid);

    result = mp_pool_submit (pool, "refused-once", g_variant_new_string ("refused-queued"), -1, &error);
    g_assert_no_error (error);
    queued = mp_pool_result_get (result, TIMEOUT, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_string (queued, NULL), ==, "second time");
    g_assert_cmpuint (mp_pool_get_n_failed (pool), ==, 0);
  }
  {
    /* A task's own exit with the refusal's status is a death like any
     * other: not run again. */
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, NULL);
    g_autoptr(GVariant) v = NULL;

    g_assert_null (mp_pool_apply (pool, "exit-75", NULL, NULL, &error));
    g_assert_error (error, MP_ERROR, MP_ERROR_WORKER_DIED);
    g_assert_nonnull (strstr (error->message, "status 75"));
    g_clear_error (&error);
    v = mp_pool_apply (pool, "square", g_variant_new_int64 (5), NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int64 (v), ==, 25);
  }
  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 1, "n-workers", 1, "max-restarts", 2, NULL);

    g_assert_null (mp_pool_apply (pool, "refused", NULL, NULL, &error));
    g_assert_error (error, MP_ERROR, MP_ERROR_POOL_BROKEN);
    g_assert_nonnull (strstr (error->message, "refused"));
  }
}

/* The arena is used again only where no result lives: a result kept
 * while the next map runs stays right, and outlives its pool. */
static void
test_in_place_reuse (void)
{
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);

    for (int round = 0; round < 3; round++)
      {
        g_autoptr(GVariant) next = mp_pool_map (pool, "square-batch", int_array (100000, 200000), 0, NULL, &error);

        g_assert_no_error (error);
        check_square_array (next, 100000, 200000);
        if (first == NULL)
          first = g_steal_pointer (&next);
        check_square_array (first, 100000, 200000);
      }
  }
  check_square_array (first, 100000, 200000);
}

/* A pool leaves no descriptor, thread or process behind. */
static void
test_no_leaks (void)
{
  g_autoptr(GError) error = NULL;
  int before;

  /* A first pool starts what lives for the whole program (the
   * forkserver and its connection). */
  {
    g_autoptr(MpPool) pool = mp_pool_new (1, &error);
    g_autoptr(GVariant) v = mp_pool_apply (pool, "square", g_variant_new_int64 (1), NULL, &error);
    g_assert_no_error (error);
  }
  before = count_fds ();

  for (int round = 0; round < 5; round++)
    {
      g_autoptr(MpPool) pool = mp_pool_new (2, &error);
      g_autoptr(GVariant) v = mp_pool_map (pool, "square", int_array (0, 100), 0, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (v);
    }
  g_assert_cmpint (count_fds (), ==, before);
  {
    GList *children = mp_active_children ();

    g_assert_cmpuint (g_list_length (children), ==, 0);
  }
}

/* A batch task: "ax" in, the squares out, or too few of them when the
 * chunk holds -1. */
static GVariant *
task_square_batch (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  gsize n;
  const gint64 *in;
  g_autofree gint64 *out = NULL;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "square-batch wants ax, not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  in = g_variant_get_fixed_array (args, &n, sizeof (gint64));
  out = g_new (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      if (in[i] == -1)
        return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, out, i, sizeof (gint64));
      out[i] = in[i] * in[i];
    }
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, out, n, sizeof (gint64));
}

/* A batch task runs once per chunk of a map, and alone as a batch of one;
 * one that gives the wrong number of results fails its chunk. */
static void
test_batch_task (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) squares = NULL;
  g_autoptr(GVariant) one = NULL;
  g_autoptr(GVariant) bad = NULL;
  gint64 items[] = { 1, 2, -1, 4 };

  squares = mp_pool_map (pool, "square-batch", int_array (0, 10000), 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (squares), ==, "ax");
  g_assert_cmpuint (g_variant_n_children (squares), ==, 10000);
  for (gsize i = 0; i < 10000; i++)
    {
      gint64 v;
      g_variant_get_child (squares, i, "x", &v);
      g_assert_cmpint (v, ==, (gint64) i * (gint64) i);
    }

  one = mp_pool_apply (pool, "square-batch", g_variant_new_int64 (7), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 49);
  g_clear_pointer (&one, g_variant_unref);
  one = mp_run_task ("square-batch", g_variant_new_int64 (-3), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 9);

  bad = mp_pool_map (pool, "square-batch",
                     g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, 4, sizeof (gint64)),
                     4, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, MP_ERROR, MP_ERROR_TASK_FAILED);
  g_assert_nonnull (strstr (error->message, "2 results for 4 items"));
}

/* ---- task families ------------------------------------------------------------ */

/* "scale/<k>": a batch family that multiplies its items by k, which it
 * reads from the name it was called under. */
static GVariant *
task_scale_family (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  const char *name = mp_task_get_current_name ();
  const gint64 *in;
  g_autofree gint64 *out = NULL;
  gint64 k;
  gsize n;

  g_assert_nonnull (name);
  g_assert_true (g_str_has_prefix (name, "scale/"));
  if (!g_ascii_string_to_signed (name + strlen ("scale/"), 10, -1000, 1000, &k, error))
    return NULL;
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s wants ax, not %s",
                   name, g_variant_get_type_string (args));
      return NULL;
    }
  in = g_variant_get_fixed_array (args, &n, sizeof (gint64));
  out = g_new (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    out[i] = k * in[i];
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, out, n, sizeof (gint64));
}

/* "named/...": a family whose value is the name it was called under, and
 * "named/deep/...", a family inside it. */
static GVariant *
task_named_family (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  return g_variant_new_string (mp_task_get_current_name ());
}

static GVariant *
task_named_deep_family (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  return g_variant_new_printf ("deep %s", mp_task_get_current_name ());
}

/* "fail-as/...": a family that fails with its name, which is what comes
 * back from a process. */
static GVariant *
task_fail_as_family (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, mp_task_get_current_name ());
  return NULL;
}

/* "nest/": runs "named/inner" and gives its name before and after, and
 * the inner task's value. */
static GVariant *
task_nest_family (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autofree char *before = g_strdup (mp_task_get_current_name ());
  g_autoptr(GVariant) inner = mp_run_task ("named/inner", NULL, c, error);

  if (inner == NULL)
    return NULL;
  return g_variant_new ("(s@ss)", before, inner, mp_task_get_current_name ());
}

static gint64
scaled_at (GVariant *results,
           gsize     i)
{
  gint64 v;

  g_variant_get_child (results, i, "x", &v);
  return v;
}

static void
assert_unknown_task (const char *task)
{
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(MpProcess) process = mp_process_new (task, NULL);
  g_autoptr(GVariant) none = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (mp_task_is_registered (task));
  none = mp_run_task (task, NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
  g_clear_error (&error);
  g_assert_false (mp_process_start (process, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
  g_assert_cmpint (mp_process_get_pid (process), ==, 0);
}

/* One function registered under a name ending in "/" runs for every name
 * under it, in a pool's map (in place and in messages) and apply, in a
 * process and here, and tells the names apart by the name it was called
 * under; a name in no family stays unknown at submit. */
static void
test_task_family (void)
{
  g_autoptr(MpPool) pool = new_pool (MP_START_METHOD_DEFAULT, 2, "n-workers", 2, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) by2 = NULL;
  g_autoptr(GVariant) by3 = NULL;
  g_autoptr(GVariant) small = NULL;
  g_autoptr(GVariant) one = NULL;
  const char *unknown[] = { "scale", "scales/2", "nofamily/x", "Scale/2", "/scale/2" };
  MpStartMethod methods[] = { MP_START_METHOD_FORK, MP_START_METHOD_SPAWN, MP_START_METHOD_FORKSERVER };

  g_assert_null (mp_task_get_current_name ());
  g_assert_true (mp_task_is_registered ("scale/"));
  g_assert_true (mp_task_is_registered ("scale/2"));
  g_assert_true (mp_task_is_registered ("named/a/b/"));

  /* A map of 10,000 ints goes in place; both names in one pool, their
   * chunks through the same workers. */
  by2 = mp_pool_map (pool, "scale/2", int_array (0, 10000), 128, NULL, &error);
  g_assert_no_error (error);
  by3 = mp_pool_map (pool, "scale/3", int_array (0, 10000), 128, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (by2), ==, "ax");
  g_assert_cmpuint (g_variant_n_children (by2), ==, 10000);
  g_assert_cmpuint (g_variant_n_children (by3), ==, 10000);
  for (gsize i = 0; i < 10000; i++)
    {
      g_assert_cmpint (scaled_at (by2, i), ==, 2 * (gint64) i);
      g_assert_cmpint (scaled_at (by3, i), ==, 3 * (gint64) i);
    }
  /* Small maps travel in messages, several jobs of either name in one. */
  for (int k = -2; k <= 2; k++)
    {
      g_autofree char *task = g_strdup_printf ("scale/%d", k);

      small = mp_pool_map (pool, task, int_array (0, 100), 3, NULL, &error);
      g_assert_no_error (error);
      for (gsize i = 0; i < 100; i++)
        g_assert_cmpint (scaled_at (small, i), ==, k * (gint64) i);
      g_clear_pointer (&small, g_variant_unref);
    }
  /* What the rest of the name says is the task's to check. */
  small = mp_pool_map (pool, "scale/x", int_array (0, 10), 0, NULL, &error);
  g_assert_null (small);
  g_assert_error (error, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_INVALID);
  g_clear_error (&error);

  /* apply: through the line on an idle pool, and through the queue. */
  one = mp_pool_apply (pool, "scale/7", g_variant_new_int64 (6), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 42);
  g_clear_pointer (&one, g_variant_unref);
  one = mp_pool_apply (pool, "named/one", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (one, NULL), ==, "named/one");
  g_clear_pointer (&one, g_variant_unref);
  {
    g_autoptr(MpPoolResult) a = mp_pool_submit (pool, "named/two", NULL, -1, &error);
    g_autoptr(MpPoolResult) b = mp_pool_submit (pool, "named/deep/three", NULL, -1, &error);
    g_autoptr(GVariant) va = NULL;
    g_autoptr(GVariant) vb = NULL;

    g_assert_no_error (error);
    va = mp_pool_result_get (a, -1, &error);
    g_assert_no_error (error);
    vb = mp_pool_result_get (b, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_string (va, NULL), ==, "named/two");
    g_assert_cmpstr (g_variant_get_string (vb, NULL), ==, "deep named/deep/three");
  }
  /* A task of its own inside a family's names is that task. */
  one = mp_pool_apply (pool, "named/square", g_variant_new_int64 (9), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 81);
  g_clear_pointer (&one, g_variant_unref);
  /* The family's own name is a name of the family. */
  one = mp_pool_apply (pool, "named/", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (one, NULL), ==, "named/");
  g_clear_pointer (&one, g_variant_unref);

  /* In a process, with every start method. */
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr(MpProcess) p = mp_process_new (i % 2 ? "fail-as/first" : "fail-as/second", NULL);
      const char *expected = i % 2 ? "fail-as/first" : "fail-as/second";

      mp_process_set_start_method (p, methods[i]);
      g_assert_true (mp_process_start (p, &error));
      g_assert_no_error (error);
      g_assert_true (mp_process_join (p, 60, &error));
      g_assert_false (mp_process_check_error (p, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
    }

  /* Here, nested: the inner name while the inner task runs, the outer
   * one again after it, none outside. */
  one = mp_run_task ("nest/outer", NULL, NULL, &error);
  g_assert_no_error (error);
  {
    const char *before, *inner, *after;

    g_variant_get (one, "(&s&s&s)", &before, &inner, &after);
    g_assert_cmpstr (before, ==, "nest/outer");
    g_assert_cmpstr (inner, ==, "named/inner");
    g_assert_cmpstr (after, ==, "nest/outer");
  }
  g_clear_pointer (&one, g_variant_unref);
  g_assert_null (mp_task_get_current_name ());

  /* Names in no family fail at the caller, in a pool at submit. */
  for (guint i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_autoptr(GVariant) none = NULL;
      g_autoptr(MpPoolResult) result = NULL;

      assert_unknown_task (unknown[i]);
      none = mp_pool_map (pool, unknown[i], int_array (0, 10), 0, NULL, &error);
      g_assert_null (none);
      g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
      g_clear_error (&error);
      none = mp_pool_apply (pool, unknown[i], NULL, NULL, &error);
      g_assert_null (none);
      g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
      g_clear_error (&error);
      result = mp_pool_submit (pool, unknown[i], NULL, -1, &error);
      g_assert_null (result);
      g_assert_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK);
      g_clear_error (&error);
    }
  /* And the pool goes on. */
  one = mp_pool_apply (pool, "scale/-1", g_variant_new_int64 (5), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, -5);
  g_assert_null (mp_task_get_current_name ());
}

int
main (int    argc,
      char **argv)
{
  int ret;

  mp_register_task ("square", task_square, NULL, NULL);
  mp_register_batch_task ("square-batch", task_square_batch, NULL, NULL);
  mp_register_task ("add", task_add, NULL, NULL);
  mp_register_task ("fail", task_fail, NULL, NULL);
  mp_register_task ("fail-on-3", task_fail_on_3, NULL, NULL);
  mp_register_task ("pid", task_pid, NULL, NULL);
  mp_register_task ("mixed", task_mixed, NULL, NULL);
  mp_register_task ("twice", task_twice, NULL, NULL);
  mp_register_task ("number-or-string", task_number_or_string, NULL, NULL);
  mp_register_task ("square-dies-at-5000", task_square_dies_at_5000, NULL, NULL);
  mp_register_task ("hang", task_hang, NULL, NULL);
  mp_register_task ("die", task_die, NULL, NULL);
  mp_register_task ("die-once", task_die_once, NULL, NULL);
  mp_register_task ("square-refused-at-5000", task_square_refused_at_5000, NULL, NULL);
  mp_register_task ("refused-once", task_refused_once, NULL, NULL);
  mp_register_task ("refused", task_refused, NULL, NULL);
  mp_register_task ("exit-75", task_exit_75, NULL, NULL);
  mp_register_task ("rendezvous", task_rendezvous, NULL, NULL);
  mp_register_task ("gate", task_gate, NULL, NULL);
  mp_register_task ("read-fd", task_read_fd, NULL, NULL);
  mp_register_task ("make-pipe", task_make_pipe, NULL, NULL);
  mp_register_task ("nothing", task_nothing, NULL, NULL);
  mp_register_task ("init", task_init, NULL, NULL);
  mp_register_task ("get-init", task_get_init, NULL, NULL);
  mp_register_batch_task ("scale/", task_scale_family, NULL, NULL);
  mp_register_task ("named/", task_named_family, NULL, NULL);
  mp_register_task ("named/deep/", task_named_deep_family, NULL, NULL);
  mp_register_task ("named/square", task_square, NULL, NULL);
  mp_register_task ("fail-as/", task_fail_as_family, NULL, NULL);
  mp_register_task ("nest/", task_nest_family, NULL, NULL);
  /* One scratch directory for the parent and every worker, however they
   * start (a spawned worker runs main() again). */
  if (g_getenv ("TEST_POOL_SCRATCH") == NULL)
    {
      g_autofree char *made = g_dir_make_tmp ("test-pool-XXXXXX", NULL);

      made_scratch = TRUE;
      g_setenv ("TEST_POOL_SCRATCH", made, TRUE);
    }
  scratch_dir = g_strdup (g_getenv ("TEST_POOL_SCRATCH"));
  mp_init (argc, argv);
  g_test_init (&argc, &argv, NULL);

  /* fork is forkserver for a pool (test_fork_is_forkserver). */
  for (guint i = 1; i < G_N_ELEMENTS (test_methods); i++)
    {
      g_autofree char *calls = g_strdup_printf ("/pool/%s/calls", test_method_names[test_methods[i]]);
      g_autofree char *dies = g_strdup_printf ("/pool/%s/worker-dies", test_method_names[test_methods[i]]);

      g_test_add_data_func (calls, GINT_TO_POINTER (test_methods[i]), test_calls);
      g_test_add_data_func (dies, GINT_TO_POINTER (test_methods[i]), test_worker_dies);
    }
  g_test_add_func ("/pool/async", test_async);
  g_test_add_func ("/pool/imap", test_imap);
  g_test_add_func ("/pool/retries", test_retries);
  g_test_add_func ("/pool/timeout", test_timeout);
  g_test_add_func ("/pool/cancel", test_cancel);
  g_test_add_func ("/pool/restart-intensity", test_restart_intensity);
  g_test_add_func ("/pool/initializer", test_initializer);
  g_test_add_func ("/pool/close-terminate-join", test_close_terminate_join);
  g_test_add_func ("/pool/max-tasks", test_max_tasks);
  g_test_add_func ("/pool/idle-workers-take-jobs", test_idle_workers_take_jobs);
  g_test_add_func ("/pool/batch/death", test_batch_death);
  g_test_add_func ("/pool/batch/retry", test_batch_retry);
  g_test_add_func ("/pool/batch/cancel", test_batch_cancel);
  g_test_add_func ("/pool/batch/held-reply", test_batch_held_reply);
  g_test_add_func ("/pool/batch/timeout", test_batch_timeout);
  g_test_add_func ("/pool/batch/handles", test_batch_handles);
  g_test_add_func ("/pool/batch/results", test_batch_results);
  g_test_add_func ("/pool/batch/delivery-budget", test_delivery_budget);
  g_test_add_func ("/pool/batch-task", test_batch_task);
  g_test_add_func ("/pool/task-family", test_task_family);
  g_test_add_func ("/pool/cancel-async", test_cancel_async);
  g_test_add_func ("/pool/cancel-before-submit", test_cancel_before_submit);
  g_test_add_func ("/pool/fork-is-forkserver", test_fork_is_forkserver);
  g_test_add_func ("/pool/dispose-in-fork-child", test_dispose_in_fork_child);
  g_test_add_func ("/pool/line/answers", test_line_answers);
  g_test_add_func ("/pool/line/worker-dies", test_line_worker_dies);
  g_test_add_func ("/pool/line/retries", test_line_retries);
  g_test_add_func ("/pool/line/timeout-cancel", test_line_timeout_cancel);
  g_test_add_func ("/pool/line/killed-terminated", test_line_killed_terminated);
  g_test_add_func ("/pool/line/concurrent", test_line_concurrent);
  g_test_add_func ("/pool/in-place/types", test_in_place_types);
  g_test_add_func ("/pool/in-place/retry", test_in_place_retry);
  g_test_add_func ("/pool/in-place/reuse", test_in_place_reuse);
  g_test_add_func ("/pool/refused", test_refused);
  g_test_add_func ("/pool/no-leaks", test_no_leaks);
  ret = g_test_run ();
  if (made_scratch)
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", scratch_dir);
    if (system (cmd) != 0)
      g_warning ("could not remove %s", scratch_dir);
  }
  return ret;
}
