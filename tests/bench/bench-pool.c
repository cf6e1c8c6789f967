/* bench-pool.c: what MpPool does per second, per task, and what it leaves
 * of a main loop's time while results come back
 *
 *   bench-pool [--what map,imap,apply_async,apply_async_gio,apply,ui,ui_backlog]
 *              [--workers N] [--map-items N] [--imap-items N]
 *              [--async-tasks N] [--apply-calls N] [--ui-tasks N]
 *              [--repeat N] [--start-method M] [--quick] [--json]
 *
 * Every measurement runs on a new pool of --workers (2) workers, made with
 * g_initable_new (n-workers, start-method) and warmed up before the clock
 * starts: one mp_pool_map of "square" over 2 x workers items with
 * chunksize 1, so that every worker has started and answered. The task is
 * "square" (int64 x -> int64 x * x) throughout. After the run the pool is
 * closed and joined, untimed.
 *
 * map              mp_pool_map over --map-items (1,000,000) int64s 0..N-1
 *                  as one "ax" GVariant (built before the clock), default
 *                  chunksize (0: about four chunks per worker, Python's
 *                  rule). One sample: the call.
 * imap             mp_pool_imap over --imap-items (100,000) int64s with
 *                  chunksize 1, and mp_pool_iterator_next until the end.
 *                  One sample: from the imap call to the end.
 * apply_async      --async-tasks (10,000) mp_pool_submit calls of square(i),
 *                  then mp_pool_result_get on each in turn: Python's
 *                  apply_async and AsyncResult.get, without a main loop.
 *                  One sample: from the first submit to the last value.
 * apply_async_gio  the same calls with mp_pool_apply_async, each with a
 *                  callback that calls mp_pool_apply_finish; all are made,
 *                  then a GMainLoop runs until the last callback. One sample:
 *                  from the first call to the last callback.
 * apply            --apply-calls (2,000) blocking mp_pool_apply of square(i),
 *                  one after the other; every call is timed on its own (the
 *                  per-call times are given as call_seconds).
 * ui               a GMainLoop in which a 60 Hz frame source (16.667 ms,
 *                  ready times on a fixed grid from the loop's start, as a
 *                  frame clock's) records how late it runs (actual minus
 *                  scheduled time), while --ui-tasks (100,000) apply_async
 *                  calls are made from the same loop (a default-priority
 *                  source making calls for at most 1 ms per iteration) and
 *                  their callbacks come back on it. The run ends at the last
 *                  callback. A frame so late that the next one is due too is
 *                  counted as missed (the grid moves on). Per run: the worst
 *                  and the 99th percentile lateness, frames, missed frames,
 *                  and, for the worst frame, how long since the frame before
 *                  the loop's thread waited for a CPU (runnable, not running:
 *                  the run_delay of /proc/thread-self/schedstat) and how long
 *                  it ran (CLOCK_THREAD_CPUTIME_ID), the rest being sleep
 *                  (in poll, or on a lock): a frame late because the machine
 *                  had no CPU for the loop is told from one late because the
 *                  loop was busy or blocked. And the longest dispatch phase
 *                  of an iteration (from the check after the poll to the next
 *                  prepare of a never-ready probe source at G_PRIORITY_HIGH).
 * ui_backlog       the same, with all the calls made before the loop starts
 *                  (the pool works meanwhile): the loop then has a backlog
 *                  of up to --ui-tasks callbacks to deliver from its first
 *                  iteration. The frame grid starts with the loop.
 *
 * Everything is checked: every value must be its item's square and the
 * sum of the values that of the squares of 0..N-1; a failed task fails
 * the program. The clock is CLOCK_MONOTONIC.
 *
 * run-bench-pool.py runs this program and CPython's multiprocessing.Pool
 * (bench_pool_cpython.py) in turns and prints the comparison; this
 * program alone prints its own figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mp.h>

#include "bench-util.h"

#define FRAME_HZ 60
#define SUBMIT_SLICE_US 1000     /* ui: the calls made per loop iteration, at most */

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ---- the task ------------------------------------------------------------ */

static GVariant *
task_square (GVariant      *args,
             GCancellable  *cancellable,
             gpointer       user_data,
             GError       **error)
{
  gint64 x;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "square wants an int64, not %s",
                   args ? g_variant_get_type_string (args) : "nothing");
      return NULL;
    }
  x = g_variant_get_int64 (args);
  return g_variant_new_int64 (x * x);
}

/* The same as a batch task (mp_register_batch_task()): a whole chunk
 * ("ax") in one call, no value per item. */
static GVariant *
task_square_batch (GVariant      *args,
                   GCancellable  *cancellable,
                   gpointer       user_data,
                   GError       **error)
{
  const gint64 *in;
  gint64 *out;
  gsize n;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "square_batch wants ax, not %s",
                   g_variant_get_type_string (args));
      return NULL;
    }
  in = g_variant_get_fixed_array (args, &n, sizeof (gint64));
  out = g_new (gint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    out[i] = in[i] * in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

/* ---- measurements -------------------------------------------------------- */

typedef enum
{
  M_MAP,
  M_MAP_BATCH,
  M_IMAP,
  M_APPLY_ASYNC,
  M_APPLY_ASYNC_GIO,
  M_APPLY,
  M_UI,
  M_UI_BACKLOG,
} MeasureKind;

typedef struct
{
  const char  *name;
  MeasureKind  kind;
  guint64      items;         /* per run */
  guint        chunksize;     /* map and imap: as given to the pool */
  const char  *start_method;
  GArray      *seconds;       /* per run: the whole workload */
  GArray      *call_seconds;  /* apply: every call */
  GArray      *worst_late;    /* ui: per run, seconds */
  GArray      *p99_late;      /* ui: per run, seconds */
  GArray      *frames;        /* ui: per run */
  GArray      *missed;        /* ui: per run */
  GArray      *worst_gap;     /* ui: per run, the worst frame's: seconds since the frame before ... */
  GArray      *worst_wait;    /* ... of which the loop's thread waited for a CPU ... */
  GArray      *worst_oncpu;   /* ... and of which it ran */
  GArray      *longest_dispatch; /* ui: per run, the longest dispatch phase of a loop iteration, s */
} Measure;

static guint n_workers = 2;

static const char *
method_name (MpStartMethod method)
{
  switch (method)
    {
    case MP_START_METHOD_FORK: return "fork";
    case MP_START_METHOD_SPAWN: return "spawn";
    case MP_START_METHOD_FORKSERVER: return "forkserver";
    default: return "default";
    }
}

static void
add_double (GArray *array,
            double  x)
{
  g_array_append_val (array, x);
}

static gboolean
fail (GError     **error,
      const char  *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError     **error,
      const char  *format,
      ...)
{
  va_list ap;
  g_autofree char *text = NULL;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, text);
  return FALSE;
}

/* The sum of x * x for x in 0..n-1, which a run's values must add up to
 * (wrapping as the values' sum does; exact for every n used here). */
static guint64
sum_of_squares (guint64 n)
{
  guint64 s = 0;

  for (guint64 x = 0; x < n; x++)
    s += x * x;
  return s;
}

static GVariant *
int_array (guint64 n)
{
  gint64 *data = g_new (gint64, MAX (n, 1));

  for (guint64 i = 0; i < n; i++)
    data[i] = (gint64) i;
  return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE ("ax"), data, n * sizeof (gint64),
                                                      TRUE, g_free, data));
}

/* Adds up an "ax" of squares, checking each against its index. */
static gboolean
check_squares (const char  *name,
               GVariant    *values,
               guint64      n,
               GError     **error)
{
  const gint64 *xs;
  gsize got;

  if (!g_variant_is_of_type (values, G_VARIANT_TYPE ("ax")))
    return fail (error, "%s: the values are a %s, not an ax", name, g_variant_get_type_string (values));
  xs = g_variant_get_fixed_array (values, &got, sizeof (gint64));
  if (got != n)
    return fail (error, "%s: %" G_GSIZE_FORMAT " values for %" G_GUINT64_FORMAT " items", name, got, n);
  for (guint64 i = 0; i < n; i++)
    if (xs[i] != (gint64) (i * i))
      return fail (error, "%s: value %" G_GUINT64_FORMAT " is %" G_GINT64_FORMAT, name, i, xs[i]);
  return TRUE;
}

static gboolean
check_value (const char  *name,
             GVariant    *value,
             guint64      i,
             guint64     *sum,
             GError     **error)
{
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return fail (error, "%s: a value of type %s", name, g_variant_get_type_string (value));
  if (g_variant_get_int64 (value) != (gint64) (i * i))
    return fail (error, "%s: square(%" G_GUINT64_FORMAT ") gave %" G_GINT64_FORMAT, name, i,
                 g_variant_get_int64 (value));
  *sum += (guint64) g_variant_get_int64 (value);
  return TRUE;
}

static MpPool *
pool_new_warm (Measure        *m,
               MpStartMethod   method,
               GError        **error)
{
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(GVariant) items = int_array (2 * n_workers);
  g_autoptr(GVariant) warm = NULL;
  MpStartMethod used;

  pool = g_initable_new (MP_TYPE_POOL, NULL, error, "n-workers", n_workers, "start-method", method, NULL);
  if (pool == NULL)
    return NULL;
  warm = mp_pool_map (pool, "square", items, 1, NULL, error);
  if (warm == NULL || !check_squares ("warm-up", warm, 2 * n_workers, error))
    return NULL;
  used = method == MP_START_METHOD_DEFAULT ? mp_get_start_method () : method;
  m->start_method = method_name (used);
  return g_steal_pointer (&pool);
}

/* Untimed: the pool goes, and what it left for the default main context
 * (ready notifications of results nobody waited for in a loop) is run. */
static gboolean
pool_finish (MpPool   *pool,
             gboolean  ok,
             GError  **error)
{
  if (ok)
    {
      mp_pool_close (pool);
      ok = mp_pool_join (pool, -1, NULL, error);
    }
  g_object_unref (pool);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return ok;
}

static gboolean
measure_map (Measure  *m,
             MpPool   *pool,
             GError  **error)
{
  g_autoptr(GVariant) items = int_array (m->items);
  g_autoptr(GVariant) values = NULL;
  gint64 t0, t1;

  t0 = now_ns ();
  values = mp_pool_map (pool, m->kind == M_MAP_BATCH ? "square_batch" : "square", items, m->chunksize,
                        NULL, error);
  t1 = now_ns ();
  if (values == NULL || !check_squares (m->name, values, m->items, error))
    return FALSE;
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_imap (Measure  *m,
              MpPool   *pool,
              GError  **error)
{
  g_autoptr(GVariant) items = int_array (m->items);
  g_autoptr(MpPoolIterator) iter = NULL;
  guint64 i = 0, sum = 0;
  gint64 t0, t1;

  t0 = now_ns ();
  iter = mp_pool_imap (pool, "square", items, m->chunksize, error);
  if (iter == NULL)
    return FALSE;
  for (;; i++)
    {
      g_autoptr(GVariant) value = NULL;
      GError *local_error = NULL;

      if (!mp_pool_iterator_next (iter, -1, &value, &local_error))
        {
          if (local_error != NULL)
            {
              g_propagate_error (error, local_error);
              return FALSE;
            }
          break;
        }
      if (!check_value (m->name, value, i, &sum, error))
        return FALSE;
    }
  t1 = now_ns ();
  if (i != m->items || sum != sum_of_squares (m->items))
    return fail (error, "%s: %" G_GUINT64_FORMAT " values for %" G_GUINT64_FORMAT " items", m->name, i, m->items);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_apply_async (Measure  *m,
                     MpPool   *pool,
                     GError  **error)
{
  g_autoptr(GPtrArray) results = g_ptr_array_new_full (m->items, g_object_unref);
  guint64 sum = 0;
  gint64 t0, t1;

  t0 = now_ns ();
  for (guint64 i = 0; i < m->items; i++)
    {
      MpPoolResult *result = mp_pool_submit (pool, "square", g_variant_new_int64 ((gint64) i), -1, error);

      if (result == NULL)
        return FALSE;
      g_ptr_array_add (results, result);
    }
  for (guint64 i = 0; i < m->items; i++)
    {
      g_autoptr(GVariant) value = mp_pool_result_get (results->pdata[i], -1, error);

      if (value == NULL || !check_value (m->name, value, i, &sum, error))
        return FALSE;
    }
  t1 = now_ns ();
  if (sum != sum_of_squares (m->items))
    return fail (error, "%s: the values add up to %" G_GUINT64_FORMAT, m->name, sum);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

/* ---- apply_async with callbacks, and the ui runs ----------------------------- */

typedef struct
{
  const char *name;
  MpPool     *pool;
  GMainLoop  *loop;
  guint64     n;
  guint64     submitted;
  guint64     done;
  guint64     sum;
  GError     *error;
  gint64      t_last;       /* ns: the last callback */

  /* ui */
  GSource    *frame;
  gint64      grid_start;   /* us, g_get_monotonic_time () */
  guint64     frame_no;     /* the frame due next */
  GArray     *late;         /* seconds, per frame run */
  guint64     missed;
  int         schedstat;    /* /proc/thread-self/schedstat, or -1 */
  gint64      last_frame;   /* us: the frame before ran */
  guint64     last_oncpu;   /* ns, then */
  guint64     last_wait;
  double      worst;        /* the latest frame: s late */
  double      worst_gap;    /* s since the frame before */
  double      worst_wait;   /* s waiting for a CPU since the frame before */
  double      worst_oncpu;  /* s on a CPU since the frame before */

  /* the loop's iterations, seen from a probe source */
  gint64      probe_check;  /* us: the last check, after the poll */
  gint64      longest_dispatch;
} Calls;

typedef struct
{
  Calls   *calls;
  guint64  i;
} Call;

static void
call_done (GObject      *source,
           GAsyncResult *res,
           gpointer      data)
{
  Call *call = data;
  Calls *calls = call->calls;
  g_autoptr(GVariant) value = NULL;
  GError *local_error = NULL;

  value = mp_pool_apply_finish (MP_POOL (source), res, &local_error);
  if (value == NULL)
    {
      if (calls->error == NULL)
        calls->error = local_error;
      else
        g_error_free (local_error);
    }
  else if (calls->error == NULL)
    check_value (calls->name, value, call->i, &calls->sum, &calls->error);
  g_free (call);
  if (++calls->done == calls->n)
    {
      calls->t_last = now_ns ();
      g_main_loop_quit (calls->loop);
    }
}

static void
call_one (Calls *calls)
{
  Call *call = g_new (Call, 1);

  call->calls = calls;
  call->i = calls->submitted++;
  mp_pool_apply_async (calls->pool, "square", g_variant_new_int64 ((gint64) call->i), NULL, call_done, call);
}

static gboolean
measure_apply_async_gio (Measure  *m,
                         MpPool   *pool,
                         GError  **error)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Calls calls = { .name = m->name, .pool = pool, .loop = loop, .n = m->items };
  gint64 t0;

  t0 = now_ns ();
  while (calls.submitted < calls.n)
    call_one (&calls);
  g_main_loop_run (loop);
  if (calls.error != NULL)
    {
      g_propagate_error (error, calls.error);
      return FALSE;
    }
  if (calls.sum != sum_of_squares (m->items))
    return fail (error, "%s: the values add up to %" G_GUINT64_FORMAT, m->name, calls.sum);
  add_double (m->seconds, (calls.t_last - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_apply (Measure  *m,
               MpPool   *pool,
               GError  **error)
{
  guint64 sum = 0;
  gint64 start = now_ns ();

  for (guint64 i = 0; i < m->items; i++)
    {
      g_autoptr(GVariant) value = NULL;
      gint64 t0, t1;

      t0 = now_ns ();
      value = mp_pool_apply (pool, "square", g_variant_new_int64 ((gint64) i), NULL, error);
      t1 = now_ns ();
      if (value == NULL || !check_value (m->name, value, i, &sum, error))
        return FALSE;
      add_double (m->call_seconds, (t1 - t0) / 1e9);
    }
  add_double (m->seconds, (now_ns () - start) / 1e9);
  if (sum != sum_of_squares (m->items))
    return fail (error, "%s: the values add up to %" G_GUINT64_FORMAT, m->name, sum);
  return TRUE;
}

/* When frame @k is due, in g_get_monotonic_time () microseconds. */
static gint64
frame_time (Calls   *calls,
            guint64  k)
{
  return calls->grid_start + (gint64) ((k * G_USEC_PER_SEC + FRAME_HZ / 2) / FRAME_HZ);
}

typedef struct
{
  GSource  source;
  Calls   *calls;
} FrameSource;

/* The thread's time on a CPU (CLOCK_THREAD_CPUTIME_ID) and waiting for one
 * (runnable, not running: the scheduler's run_delay in its schedstat),
 * in ns. */
static gboolean
read_schedstat (int      fd,
                guint64 *oncpu,
                guint64 *wait)
{
  struct timespec ts;
  guint64 ignored;
  char buf[128];
  ssize_t r;

  if (fd < 0 || (r = pread (fd, buf, sizeof buf - 1, 0)) <= 0)
    return FALSE;
  buf[r] = '\0';
  if (sscanf (buf, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &ignored, wait) != 2 ||
      clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return FALSE;
  *oncpu = (guint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
  return TRUE;
}

/* A source that is never ready, at a high priority so that every
 * iteration prepares and checks it: from the check (after the poll) to
 * the next prepare is one iteration's dispatching. */
typedef struct
{
  GSource  source;
  Calls   *calls;
} ProbeSource;

static gboolean
probe_prepare (GSource *source,
               gint    *timeout)
{
  Calls *calls = ((ProbeSource *) source)->calls;

  if (calls->probe_check > 0)
    calls->longest_dispatch = MAX (calls->longest_dispatch, g_get_monotonic_time () - calls->probe_check);
  *timeout = -1;
  return FALSE;
}

static gboolean
probe_check (GSource *source)
{
  ((ProbeSource *) source)->calls->probe_check = g_get_monotonic_time ();
  return FALSE;
}

static GSourceFuncs probe_funcs = { probe_prepare, probe_check, NULL, NULL, NULL, NULL };

static gboolean
frame_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  Calls *calls = ((FrameSource *) source)->calls;
  gint64 now = g_get_monotonic_time ();
  gint64 due = frame_time (calls, calls->frame_no);
  guint64 oncpu = 0, wait = 0;

  add_double (calls->late, (now - due) / 1e6);
  if (read_schedstat (calls->schedstat, &oncpu, &wait))
    {
      if ((now - due) / 1e6 > calls->worst && calls->last_oncpu > 0)
        {
          calls->worst = (now - due) / 1e6;
          calls->worst_gap = (now - calls->last_frame) / 1e6;
          calls->worst_wait = (wait - calls->last_wait) / 1e9;
          calls->worst_oncpu = (oncpu - calls->last_oncpu) / 1e9;
        }
      calls->last_oncpu = oncpu;
      calls->last_wait = wait;
    }
  calls->last_frame = now;
  calls->frame_no++;
  /* A frame clock does not run the frames it missed: the next one due
   * after now. */
  while (frame_time (calls, calls->frame_no) <= now)
    {
      calls->frame_no++;
      calls->missed++;
    }
  g_source_set_ready_time (source, frame_time (calls, calls->frame_no));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs frame_funcs = { NULL, NULL, frame_dispatch, NULL, NULL, NULL };

static gboolean
submit_slice_cb (gpointer data)
{
  Calls *calls = data;
  gint64 until = g_get_monotonic_time () + SUBMIT_SLICE_US;

  for (guint n = 0; calls->submitted < calls->n; n++)
    {
      if ((n & 63) == 63 && g_get_monotonic_time () > until)
        return G_SOURCE_CONTINUE;
      call_one (calls);
    }
  return G_SOURCE_REMOVE;
}

static double
percentile (GArray *values,
            double  p)
{
  g_autoptr(GArray) sorted = NULL;
  guint k;

  if (values->len == 0)
    return 0;
  sorted = g_array_sized_new (FALSE, FALSE, sizeof (double), values->len);
  g_array_append_vals (sorted, values->data, values->len);
  g_array_sort (sorted, compare_doubles);
  k = (guint) ceil (p * values->len) - 1;
  return g_array_index (sorted, double, MIN (k, values->len - 1));
}

static gboolean
measure_ui (Measure  *m,
            MpPool   *pool,
            GError  **error)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GArray) late = g_array_new (FALSE, FALSE, sizeof (double));
  Calls calls = { .name = m->name, .pool = pool, .loop = loop, .n = m->items, .late = late };
  GSource *probe;
  double worst = 0;
  gint64 t0;

  calls.schedstat = open ("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);

  t0 = now_ns ();
  if (m->kind == M_UI_BACKLOG)
    while (calls.submitted < calls.n)
      call_one (&calls);
  else
    g_idle_add_full (G_PRIORITY_DEFAULT, submit_slice_cb, &calls, NULL);

  /* The frame source, as g_timeout_add()'s: default priority. */
  calls.frame = g_source_new (&frame_funcs, sizeof (FrameSource));
  ((FrameSource *) calls.frame)->calls = &calls;
  g_source_set_static_name (calls.frame, "bench frame clock");
  read_schedstat (calls.schedstat, &calls.last_oncpu, &calls.last_wait);
  calls.grid_start = calls.last_frame = g_get_monotonic_time ();
  calls.frame_no = 1;
  g_source_set_ready_time (calls.frame, frame_time (&calls, 1));
  g_source_attach (calls.frame, NULL);
  probe = g_source_new (&probe_funcs, sizeof (ProbeSource));
  ((ProbeSource *) probe)->calls = &calls;
  g_source_set_priority (probe, G_PRIORITY_HIGH);
  g_source_attach (probe, NULL);

  g_main_loop_run (loop);

  g_source_destroy (calls.frame);
  g_source_unref (calls.frame);
  g_source_destroy (probe);
  g_source_unref (probe);
  if (calls.schedstat >= 0)
    close (calls.schedstat);
  if (calls.error != NULL)
    {
      g_propagate_error (error, calls.error);
      return FALSE;
    }
  if (calls.sum != sum_of_squares (m->items))
    return fail (error, "%s: the values add up to %" G_GUINT64_FORMAT, m->name, calls.sum);
  for (guint i = 0; i < late->len; i++)
    worst = MAX (worst, g_array_index (late, double, i));
  add_double (m->seconds, (calls.t_last - t0) / 1e9);
  add_double (m->worst_late, worst);
  add_double (m->p99_late, percentile (late, 0.99));
  add_double (m->frames, late->len);
  add_double (m->missed, calls.missed);
  /* Only when the scheduler's figures were there for the worst frame. */
  add_double (m->worst_gap, calls.worst == worst ? calls.worst_gap : -1);
  add_double (m->worst_wait, calls.worst == worst ? calls.worst_wait : -1);
  add_double (m->worst_oncpu, calls.worst == worst ? calls.worst_oncpu : -1);
  add_double (m->longest_dispatch, calls.longest_dispatch / 1e6);
  return TRUE;
}

static gboolean
measure_once (Measure        *m,
              MpStartMethod   method,
              GError        **error)
{
  MpPool *pool = pool_new_warm (m, method, error);
  gboolean ok;

  if (pool == NULL)
    return FALSE;
  switch (m->kind)
    {
    case M_MAP:
    case M_MAP_BATCH: ok = measure_map (m, pool, error); break;
    case M_IMAP: ok = measure_imap (m, pool, error); break;
    case M_APPLY_ASYNC: ok = measure_apply_async (m, pool, error); break;
    case M_APPLY_ASYNC_GIO: ok = measure_apply_async_gio (m, pool, error); break;
    case M_APPLY: ok = measure_apply (m, pool, error); break;
    case M_UI:
    case M_UI_BACKLOG: ok = measure_ui (m, pool, error); break;
    default: g_assert_not_reached ();
    }
  return pool_finish (pool, ok, ok ? error : NULL) && ok;
}

/* ---- output ------------------------------------------------------------ */

static void
append_array (GString    *out,
              const char *name,
              GArray     *a)
{
  g_string_append_printf (out, ", \"%s\": [", name);
  for (guint j = 0; j < a->len; j++)
    g_string_append_printf (out, "%s%.9g", j ? ", " : "", g_array_index (a, double, j));
  g_string_append (out, "]");
}

static void
print_json (Measure *measures,
            guint    n)
{
  g_autoptr(GString) out = g_string_new ("{\"program\": \"libmp\", \"pid\": ");

  g_string_append_printf (out, "%d, \"workers\": %u, \"results\": {", (int) getpid (), n_workers);
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);

      g_string_append_printf (out, "%s\n  \"%s\": {\"kind\": \"libmp\", \"start_method\": \"%s\", "
                                   "\"unit\": \"s\", \"items\": %" G_GUINT64_FORMAT ", \"chunksize\": %u, "
                                   "\"workers\": %u, \"runs\": %u, \"mean\": %.6f, \"median\": %.6f, "
                                   "\"min\": %.6f, \"max\": %.6f",
                              i ? "," : "", m->name, m->start_method ? m->start_method : "", m->items,
                              m->chunksize, n_workers, m->seconds->len, s.mean, s.median, s.min, s.max);
      append_array (out, "samples", m->seconds);
      if (m->kind == M_APPLY)
        append_array (out, "call_seconds", m->call_seconds);
      if (m->kind == M_UI || m->kind == M_UI_BACKLOG)
        {
          append_array (out, "worst_late", m->worst_late);
          append_array (out, "p99_late", m->p99_late);
          append_array (out, "frames", m->frames);
          append_array (out, "missed", m->missed);
          append_array (out, "worst_gap", m->worst_gap);
          append_array (out, "worst_wait", m->worst_wait);
          append_array (out, "worst_oncpu", m->worst_oncpu);
          append_array (out, "longest_dispatch", m->longest_dispatch);
        }
      g_string_append (out, "}");
    }
  g_string_append (out, "\n}}\n");
  fputs (out->str, stdout);
}

static void
print_table (Measure *measures,
             guint    n)
{
  g_print ("%-16s %-11s %8s %5s %10s %10s  %s\n", "what", "method", "items", "runs", "mean s", "median s",
           "figure (median)");
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);
      g_autofree char *figure = NULL;

      switch (m->kind)
        {
        case M_MAP:
        case M_MAP_BATCH:
        case M_IMAP:
          figure = g_strdup_printf ("%.0f items/s", s.median > 0 ? m->items / s.median : 0);
          break;
        case M_APPLY_ASYNC:
        case M_APPLY_ASYNC_GIO:
          figure = g_strdup_printf ("%.2f us per task", s.median * 1e6 / m->items);
          break;
        case M_APPLY:
          {
            Summary c = summarize (m->call_seconds);
            figure = g_strdup_printf ("%.1f us per call (mean %.1f)", c.median * 1e6, c.mean * 1e6);
          }
          break;
        case M_UI:
        case M_UI_BACKLOG:
          {
            Summary w = summarize (m->worst_late);
            figure = g_strdup_printf ("worst frame lateness %.2f ms (worst run), %.2f ms (median run)",
                                      w.max * 1e3, w.median * 1e3);
          }
          break;
        default:
          g_assert_not_reached ();
        }
      g_print ("%-16s %-11s %8" G_GUINT64_FORMAT " %5u %10.4f %10.4f  %s\n", m->name,
               m->start_method ? m->start_method : "-", m->items, m->seconds->len, s.mean, s.median, figure);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *what = NULL, *start_method = NULL;
  g_auto(GStrv) wanted = NULL;
  g_autoptr(GArray) measures = NULL;
  int map_items = -1, imap_items = -1, async_tasks = -1, apply_calls = -1, ui_tasks = -1, repeat = -1;
  int workers = 2;
  gboolean quick = FALSE, json = FALSE;
  MpStartMethod method = MP_START_METHOD_DEFAULT;
  GOptionEntry entries[] = {
    { "what", 'm', 0, G_OPTION_ARG_STRING, &what,
      "What to measure, comma-separated: map, imap, apply_async, apply_async_gio, apply, ui, ui_backlog "
      "(default: all)", "LIST" },
    { "workers", 'w', 0, G_OPTION_ARG_INT, &workers, "Worker processes of each pool (default: 2)", "N" },
    { "map-items", 0, 0, G_OPTION_ARG_INT, &map_items, "Items of a map run (default: 1000000)", "N" },
    { "imap-items", 0, 0, G_OPTION_ARG_INT, &imap_items, "Items of an imap run (default: 100000)", "N" },
    { "async-tasks", 0, 0, G_OPTION_ARG_INT, &async_tasks,
      "Calls of an apply_async run (default: 10000)", "N" },
    { "apply-calls", 0, 0, G_OPTION_ARG_INT, &apply_calls, "Calls of an apply run (default: 2000)", "N" },
    { "ui-tasks", 0, 0, G_OPTION_ARG_INT, &ui_tasks, "Calls of a ui run (default: 100000)", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Runs of each measurement, taking turns (default: 3)", "N" },
    { "start-method", 0, 0, G_OPTION_ARG_STRING, &start_method,
      "default, fork, forkserver or spawn (default: default)", "METHOD" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
      "A few items only: checks that everything runs, measures nothing", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "Print the results as JSON (with every sample)", NULL },
    { NULL }
  };

  mp_register_task ("square", task_square, NULL, NULL);
  mp_register_batch_task ("square_batch", task_square_batch, NULL, NULL);
  /* A spawn child never returns from here: it becomes the worker. */
  mp_init (argc, argv);

  context = g_option_context_new ("- time MpPool's calls");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (quick)
    {
      if (map_items < 0)
        map_items = 20000;
      if (imap_items < 0)
        imap_items = 2000;
      if (async_tasks < 0)
        async_tasks = 1000;
      if (apply_calls < 0)
        apply_calls = 200;
      if (ui_tasks < 0)
        ui_tasks = 2000;
      if (repeat < 0)
        repeat = 1;
    }
  if (map_items < 0)
    map_items = 1000000;
  if (imap_items < 0)
    imap_items = 100000;
  if (async_tasks < 0)
    async_tasks = 10000;
  if (apply_calls < 0)
    apply_calls = 2000;
  if (ui_tasks < 0)
    ui_tasks = 100000;
  if (repeat < 1)
    repeat = 3;
  if (map_items < 1 || imap_items < 1 || async_tasks < 1 || apply_calls < 1 || ui_tasks < 1 || workers < 1)
    {
      g_printerr ("the item counts and --workers must be positive\n");
      return 2;
    }
  n_workers = workers;

  if (start_method == NULL || g_str_equal (start_method, "default"))
    method = MP_START_METHOD_DEFAULT;
  else if (g_str_equal (start_method, "fork"))
    method = MP_START_METHOD_FORK;
  else if (g_str_equal (start_method, "forkserver"))
    method = MP_START_METHOD_FORKSERVER;
  else if (g_str_equal (start_method, "spawn"))
    method = MP_START_METHOD_SPAWN;
  else
    {
      g_printerr ("Unknown start method “%s” (default, fork, forkserver, spawn)\n", start_method);
      return 2;
    }

  wanted = g_strsplit (what ? what : "map,imap,apply_async,apply_async_gio,apply,ui,ui_backlog", ",", -1);
  measures = g_array_new (FALSE, TRUE, sizeof (Measure));
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      const char *w = g_strstrip (wanted[i]);
      Measure m = { 0 };

      if (*w == '\0')
        continue;
      for (guint j = 0; j < measures->len; j++)
        if (g_str_equal (g_array_index (measures, Measure, j).name, w))
          {
            g_printerr ("Measurement “%s” asked for twice\n", w);
            return 2;
          }
      if (g_str_equal (w, "map"))
        m.name = "map", m.kind = M_MAP, m.items = map_items, m.chunksize = 0;
      else if (g_str_equal (w, "map_batch"))
        m.name = "map_batch", m.kind = M_MAP_BATCH, m.items = map_items, m.chunksize = 0;
      else if (g_str_equal (w, "imap"))
        m.name = "imap", m.kind = M_IMAP, m.items = imap_items, m.chunksize = 1;
      else if (g_str_equal (w, "apply_async"))
        m.name = "apply_async", m.kind = M_APPLY_ASYNC, m.items = async_tasks;
      else if (g_str_equal (w, "apply_async_gio"))
        m.name = "apply_async_gio", m.kind = M_APPLY_ASYNC_GIO, m.items = async_tasks;
      else if (g_str_equal (w, "apply"))
        m.name = "apply", m.kind = M_APPLY, m.items = apply_calls;
      else if (g_str_equal (w, "ui"))
        m.name = "ui", m.kind = M_UI, m.items = ui_tasks;
      else if (g_str_equal (w, "ui_backlog"))
        m.name = "ui_backlog", m.kind = M_UI_BACKLOG, m.items = ui_tasks;
      else
        {
          g_printerr ("Unknown measurement “%s” (map, map_batch, imap, apply_async, apply_async_gio, apply, ui, "
                      "ui_backlog)\n", w);
          return 2;
        }
      m.seconds = g_array_new (FALSE, FALSE, sizeof (double));
      m.call_seconds = g_array_new (FALSE, FALSE, sizeof (double));
      m.worst_late = g_array_new (FALSE, FALSE, sizeof (double));
      m.p99_late = g_array_new (FALSE, FALSE, sizeof (double));
      m.frames = g_array_new (FALSE, FALSE, sizeof (double));
      m.missed = g_array_new (FALSE, FALSE, sizeof (double));
      m.worst_gap = g_array_new (FALSE, FALSE, sizeof (double));
      m.worst_wait = g_array_new (FALSE, FALSE, sizeof (double));
      m.worst_oncpu = g_array_new (FALSE, FALSE, sizeof (double));
      m.longest_dispatch = g_array_new (FALSE, FALSE, sizeof (double));
      g_array_append_val (measures, m);
    }

  for (int rep = 0; rep < repeat; rep++)
    for (guint j = 0; j < measures->len; j++)
      {
        Measure *m = &g_array_index (measures, Measure, rep % 2 ? measures->len - 1 - j : j);

        if (!measure_once (m, method, &error))
          {
            g_printerr ("bench-pool: %s\n", error->message);
            return 1;
          }
      }

  if (json)
    print_json ((Measure *) measures->data, measures->len);
  else
    print_table ((Measure *) measures->data, measures->len);

  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = &g_array_index (measures, Measure, i);

      g_array_unref (m->seconds);
      g_array_unref (m->call_seconds);
      g_array_unref (m->worst_late);
      g_array_unref (m->p99_late);
      g_array_unref (m->frames);
      g_array_unref (m->missed);
      g_array_unref (m->worst_gap);
      g_array_unref (m->worst_wait);
      g_array_unref (m->worst_oncpu);
      g_array_unref (m->longest_dispatch);
    }
  return 0;
}
