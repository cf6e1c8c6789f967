/* bench-sync.c: how fast libmp's locks, events, conditions and shared
 * values go, in one process and between two
 *
 *   bench-sync [--what lock,rlock,event,condition,condition2,value,
 *                      value_1p,raw_eventfd,raw_futex,raw_lock,raw_value]
 *              [--lock-pairs N] [--round-trips N] [--increments N]
 *              [--repeat N] [--start-method M] [--quick] [--json]
 *
 * lock       uncontended, in this process: --lock-pairs (2000000)
 *            mp_lock_acquire (lock, -1, NULL, NULL) + mp_lock_release
 *            pairs on one MpLock, after 10000 untimed ones.
 * rlock      the same with an MpRLock (not recursive: count 0 -> 1 -> 0),
 *            for the analysis: the lock the value's increments take.
 * event      a ping-pong through two MpEvents between this process (A)
 *            and a child (B): A sets e1 and waits for e2, then clears e2;
 *            B waits for e1, clears it and sets e2. --round-trips (20000)
 *            timed round trips, after 200 untimed ones.
 * condition  a ping-pong through one MpCondition (its default MpRLock)
 *            and a turn kept in an MpValue "i" without a lock: A, holding
 *            the condition, sets the turn to 1, notifies and waits until
 *            the turn is 0; B, holding it, waits until the turn is 1, sets
 *            it to 0 and notifies. --round-trips (20000) timed round trips
 *            after 200 untimed ones. Every wait has a 10 s timeout, which
 *            only a lost notification reaches: the run then fails.
 *            (A waiter takes only notifications made after it began waiting,
 *            so A's own wait, begun right after its notify, does not take
 *            the one meant for B.)
 * condition2 the same with two MpConditions on one lock: A waits on
 *            cond_a and notifies cond_b, B the other way round, so that
 *            a notifier never waits on the condition it just notified.
 *            (a notifier never waits on the condition it just notified).
 * value      two children each add 1 --increments (100000) times to one
 *            MpValue "i" under its lock: mp_value_get_lock,
 *            mp_rlock_acquire, mp_value_get_int, mp_value_set_int of the value + 1,
 *            mp_rlock_release. Both wait on an MpEvent that the parent sets
 *            once both are ready; the clock runs from the earlier child's
 *            first increment to the later child's last (CLOCK_MONOTONIC,
 *            one clock for every process). The value must be 2 x N after.
 * value_1p   the same increments, --increments of them, in this process
 *            alone, for the analysis: what the calls cost without
 *            contention.
 * raw_eventfd  the floor of event and condition, for the analysis: two
 *            processes made by fork() ping-pong through two blocking
 *            eventfds (write 1, read), --round-trips times: what one
 *            sleep and wake-up per hop costs here, with nothing else.
 * raw_futex  the same with a futex word in shared memory (FUTEX_WAIT /
 *            FUTEX_WAKE, no spinning): what a futex-based wait costs.
 * raw_lock   the floor of lock, for the analysis: --lock-pairs
 *            compare-and-swap / exchange pairs on a word in shared memory
 *            and a look at a sleeper count, inlined: what any lock made of
 *            an atomic word costs on this CPU.
 * raw_value  the floor of value, for the analysis: two forked processes
 *            each add 1 --increments times to an int in shared memory under
 *            a bare spin lock (CAS with pause, exchange to release): what
 *            the lock's and the value's cache line moving between CPUs
 *            costs, with nothing else.
 *
 * The children are started with mp_process_new (the start method is
 * --start-method, libmp's default otherwise); the objects reach them in
 * their task arguments (mp_shareable_to_variant and
 * mp_*_new_from_variant). No start is timed. Every run has new objects and
 * new children. With --repeat N each measurement runs N times, taking
 * turns with the others (the order reversed at every turn).
 *
 * What is checked: the pings and pongs each side counted, and the turn
 * (condition) and the value's total (value) at the end.
 *
 * run-bench-sync.py runs this program and CPython's multiprocessing
 * (bench_sync_cpython.py) in turns and prints the comparison; this program
 * alone prints its own figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mp.h>

#include "bench-child.h"
#include "bench-util.h"

#define LOCK_WARMUP 10000
#define PINGPONG_WARMUP 200

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
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

typedef enum
{
  M_LOCK,
  M_RLOCK,
  M_EVENT,
  M_CONDITION,
  M_CONDITION2,
  M_VALUE,
  M_RAW_EVENTFD,
  M_RAW_FUTEX,
  M_RAW_LOCK,
  M_VALUE_1P,
  M_RAW_VALUE,
} Kind;

typedef struct
{
  const char  *name;
  Kind         kind;
  guint64      iterations;   /* pairs, round trips, or increments per child */
  guint64      ops;          /* what the rate counts per run */
  const char  *start_method;
  GArray      *seconds;
} Measure;

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

/* ---- the children's tasks ------------------------------------------------- */

/* Arguments: a tuple whose child 0 is the pipe to the parent. */
static MpPipe *
pipe_from_args (GVariant  *args,
                GError   **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);

  return mp_pipe_new_from_variant (ref, error);
}

static GObject *
object_from_args (GVariant  *args,
                  gsize      index,
                  GError   **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, index);

  return (GObject *) mp_shareable_new_from_variant (ref, error);
}

/* args (pipe, e1, e2, n): B of the event ping-pong. Answers the count. */
static GVariant *
task_event_partner (GVariant      *args,
                    GCancellable  *cancellable,
                    gpointer       user_data,
                    GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_from_args (args, error);
  g_autoptr(GObject) o1 = NULL, o2 = NULL;
  MpEvent *e1, *e2;
  gint64 n, done = 0;

  if (pipe == NULL || !(o1 = object_from_args (args, 1, error)) || !(o2 = object_from_args (args, 2, error)))
    return NULL;
  if (!MP_IS_EVENT (o1) || !MP_IS_EVENT (o2))
    return fail (error, "event_partner: not events"), NULL;
  e1 = MP_EVENT (o1);
  e2 = MP_EVENT (o2);
  g_variant_get_child (args, 3, "x", &n);
  if (!mp_pipe_send (pipe, g_variant_new_string ("ready"), NULL, error))
    return NULL;
  for (; done < n; done++)
    {
      if (!mp_event_wait (e1, -1, NULL, error))
        return NULL;
      mp_event_clear (e1);
      mp_event_set (e2);
    }
  if (!mp_pipe_send (pipe, g_variant_new_int64 (done), NULL, error))
    return NULL;
  return NULL;
}

/* The wait of a ping-pong through conditions: a timeout only fires on a
 * lost notification (the partner answers within microseconds). */
#define CONDITION_TIMEOUT 10.0

static gboolean
condition_wait_checked (MpCondition  *cond,
                        GError      **error)
{
  g_autoptr(GError) local = NULL;

  if (mp_condition_wait (cond, CONDITION_TIMEOUT, NULL, &local))
    return TRUE;
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return fail (error, "a condition wait got no notification in %.0f s although the partner "
                 "notified: a notification was lost (taken by a waiter that began waiting after "
                 "the notify?)", CONDITION_TIMEOUT);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static gint32
turn_get (MpValue *turn)
{
  g_autoptr(GVariant) t = g_variant_ref_sink (mp_value_get (turn));

  return g_variant_get_int32 (t);
}

/* args (pipe, cond_a, cond_b, turn, n): B of the condition ping-pong:
 * waits on cond_b, notifies cond_a (the same condition, or two on one
 * lock). */
static GVariant *
task_condition_partner (GVariant      *args,
                        GCancellable  *cancellable,
                        gpointer       user_data,
                        GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_from_args (args, error);
  g_autoptr(GObject) oa = NULL, ob = NULL, ot = NULL;
  MpCondition *ca, *cb;
  MpValue *turn;
  gint64 n, done = 0;

  if (pipe == NULL || !(oa = object_from_args (args, 1, error)) || !(ob = object_from_args (args, 2, error)) ||
      !(ot = object_from_args (args, 3, error)))
    return NULL;
  if (!MP_IS_CONDITION (oa) || !MP_IS_CONDITION (ob) || !MP_IS_VALUE (ot))
    return fail (error, "condition_partner: wrong objects"), NULL;
  ca = MP_CONDITION (oa);
  cb = MP_CONDITION (ob);
  turn = MP_VALUE (ot);
  g_variant_get_child (args, 4, "x", &n);
  if (!mp_pipe_send (pipe, g_variant_new_string ("ready"), NULL, error))
    return NULL;
  if (!mp_condition_acquire (cb, -1, NULL, error))
    return NULL;
  for (; done < n; done++)
    {
      while (turn_get (turn) != 1)
        if (!condition_wait_checked (cb, error))
          return NULL;
      if (!mp_value_set (turn, g_variant_new_int32 (0), error) ||
          !mp_condition_notify (ca, 1, error))
        return NULL;
    }
  if (!mp_condition_release (cb, error) ||
      !mp_pipe_send (pipe, g_variant_new_int64 (done), NULL, error))
    return NULL;
  return NULL;
}

/* What each incrementer does @n times: the value + 1 under its lock. */
static gboolean
increment_loop (MpValue  *value,
                gint64    n,
                GError  **error)
{
  for (gint64 i = 0; i < n; i++)
    {
      MpRLock *lock = mp_value_get_lock (value);

      /* The typed accessors: what a C caller writes; no GVariant each. */
      if (!mp_rlock_acquire (lock, -1, NULL, error) ||
          !mp_value_set_int (value, mp_value_get_int (value, NULL) + 1, error) ||
          !mp_rlock_release (lock, error))
        return FALSE;
    }
  return TRUE;
}

/* args (pipe, value, go, n): one of the value's incrementers. Answers
 * (t_first, t_end). */
static GVariant *
task_incrementer (GVariant      *args,
                  GCancellable  *cancellable,
                  gpointer       user_data,
                  GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_from_args (args, error);
  g_autoptr(GObject) ov = NULL, og = NULL;
  MpValue *value;
  gint64 n, t0, t1;

  if (pipe == NULL || !(ov = object_from_args (args, 1, error)) || !(og = object_from_args (args, 2, error)))
    return NULL;
  if (!MP_IS_VALUE (ov) || !MP_IS_EVENT (og) || mp_value_get_lock (MP_VALUE (ov)) == NULL)
    return fail (error, "incrementer: wrong objects"), NULL;
  value = MP_VALUE (ov);
  g_variant_get_child (args, 3, "x", &n);
  if (!mp_pipe_send (pipe, g_variant_new_string ("ready"), NULL, error) ||
      !mp_event_wait (MP_EVENT (og), -1, NULL, error))
    return NULL;

  t0 = now_ns ();
  if (!increment_loop (value, n, error))
    return NULL;
  t1 = now_ns ();
  if (!mp_pipe_send (pipe, g_variant_new ("(xx)", t0, t1), NULL, error))
    return NULL;
  return NULL;
}

/* ---- children from the parent's side --------------------------------------- */

static void
note_method (Measure *m,
             Child   *child)
{
  MpStartMethod used = mp_process_get_start_method (child->process);

  m->start_method = method_name (used == MP_START_METHOD_DEFAULT ? mp_get_start_method () : used);
}

static gboolean
expect_count (Child    *child,
              Measure  *m,
              gint64    want,
              GError  **error)
{
  g_autoptr(GVariant) r = mp_pipe_recv (child->mine, G_VARIANT_TYPE_INT64, NULL, error);

  if (r == NULL)
    return FALSE;
  if (g_variant_get_int64 (r) != want)
    return fail (error, "%s: the partner counted %" G_GINT64_FORMAT " round trips, not %" G_GINT64_FORMAT,
                 m->name, g_variant_get_int64 (r), want);
  return TRUE;
}

/* ---- the measurements ------------------------------------------------------ */

static gboolean
measure_lock_once (Measure  *m,
                   GError  **error)
{
  gint64 t0, t1;

  m->start_method = "-";
  if (m->kind == M_LOCK)
    {
      g_autoptr(MpLock) lock = mp_lock_new (error);

      if (lock == NULL)
        return FALSE;
      for (guint64 i = 0; i < LOCK_WARMUP; i++)
        if (!mp_lock_acquire (lock, -1, NULL, error) || !mp_lock_release (lock, error))
          return FALSE;
      t0 = now_ns ();
      for (guint64 i = 0; i < m->iterations; i++)
        if (G_UNLIKELY (!mp_lock_acquire (lock, -1, NULL, error) || !mp_lock_release (lock, error)))
          return FALSE;
      t1 = now_ns ();
      if (mp_lock_is_locked (lock))
        return fail (error, "%s: the lock is still held", m->name);
    }
  else
    {
      g_autoptr(MpRLock) lock = mp_rlock_new (error);

      if (lock == NULL)
        return FALSE;
      for (guint64 i = 0; i < LOCK_WARMUP; i++)
        if (!mp_rlock_acquire (lock, -1, NULL, error) || !mp_rlock_release (lock, error))
          return FALSE;
      t0 = now_ns ();
      for (guint64 i = 0; i < m->iterations; i++)
        if (G_UNLIKELY (!mp_rlock_acquire (lock, -1, NULL, error) || !mp_rlock_release (lock, error)))
          return FALSE;
      t1 = now_ns ();
      if (mp_rlock_get_count (lock) != 0)
        return fail (error, "%s: the lock is still held", m->name);
    }
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_event_once (Measure        *m,
                    MpStartMethod   method,
                    GError        **error)
{
  g_autoptr(MpEvent) e1 = NULL, e2 = NULL;
  Child b = { 0 };
  gint64 total = m->iterations + PINGPONG_WARMUP, t0 = 0, t1 = 0;
  gboolean ok;

  if (!(e1 = mp_event_new (error)) || !(e2 = mp_event_new (error)))
    return FALSE;
  ok = child_start (&b, "event_partner", NULL,
                    g_variant_new ("(@*@*x)",
                                   mp_shareable_to_variant (MP_SHAREABLE (e1)),
                                   mp_shareable_to_variant (MP_SHAREABLE (e2)), total),
                    method, error);
  if (ok)
    note_method (m, &b);
  ok = ok && child_expect_ready (&b, error);
  for (gint64 i = 0; ok && i < total; i++)
    {
      if (i == PINGPONG_WARMUP)
        t0 = now_ns ();
      mp_event_set (e1);
      ok = mp_event_wait (e2, -1, NULL, error);
      mp_event_clear (e2);
    }
  t1 = now_ns ();
  ok = ok && expect_count (&b, m, total, error);
  ok = child_finish (&b, ok, ok ? error : NULL) && ok;
  if (!ok)
    return FALSE;
  if (mp_event_is_set (e1) || mp_event_is_set (e2))
    return fail (error, "%s: an event is still set at the end", m->name);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_condition_once (Measure        *m,
                        MpStartMethod   method,
                        GError        **error)
{
  g_autoptr(MpCondition) ca = NULL, cb = NULL;
  g_autoptr(MpValue) turn = NULL;
  Child b = { 0 };
  gint64 total = m->iterations + PINGPONG_WARMUP, t0 = 0, t1 = 0;
  gboolean ok;

  if (!(ca = mp_condition_new (NULL, error)) || !(turn = mp_value_new ("i", NULL, FALSE, error)))
    return FALSE;
  if (m->kind == M_CONDITION2)
    {
      if (!(cb = mp_condition_new (mp_condition_get_lock (ca), error)))
        return FALSE;
    }
  else
    cb = g_object_ref (ca);
  ok = child_start (&b, "condition_partner", NULL,
                    g_variant_new ("(@*@*@*x)",
                                   mp_shareable_to_variant (MP_SHAREABLE (ca)),
                                   mp_shareable_to_variant (MP_SHAREABLE (cb)),
                                   mp_shareable_to_variant (MP_SHAREABLE (turn)), total),
                    method, error);
  if (ok)
    note_method (m, &b);
  ok = ok && child_expect_ready (&b, error);
  ok = ok && mp_condition_acquire (ca, -1, NULL, error);
  for (gint64 i = 0; ok && i < total; i++)
    {
      if (i == PINGPONG_WARMUP)
        t0 = now_ns ();
      ok = mp_value_set (turn, g_variant_new_int32 (1), error) && mp_condition_notify (cb, 1, error);
      while (ok && turn_get (turn) != 0)
        ok = condition_wait_checked (ca, error);
    }
  t1 = now_ns ();
  ok = ok && mp_condition_release (ca, error);
  ok = ok && expect_count (&b, m, total, error);
  if (!ok)
    g_prefix_error (error, "%s: ", m->name);
  ok = child_finish (&b, ok, ok ? error : NULL) && ok;
  if (!ok)
    return FALSE;
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

static gboolean
measure_value_once (Measure        *m,
                    MpStartMethod   method,
                    GError        **error)
{
  g_autoptr(MpValue) value = NULL;
  g_autoptr(MpEvent) go = NULL;
  g_autoptr(GVariant) final = NULL;
  Child c[2] = { { 0 } };
  gint64 t0 = G_MAXINT64, t1 = 0;
  gboolean ok = TRUE;

  if (!(value = mp_value_new ("i", NULL, TRUE, error)) || !(go = mp_event_new (error)))
    return FALSE;
  for (guint k = 0; ok && k < 2; k++)
    ok = child_start (&c[k], "incrementer", NULL,
                      g_variant_new ("(@*@*x)",
                                     mp_shareable_to_variant (MP_SHAREABLE (value)),
                                     mp_shareable_to_variant (MP_SHAREABLE (go)), (gint64) m->iterations),
                      method, error);
  if (ok)
    note_method (m, &c[0]);
  for (guint k = 0; ok && k < 2; k++)
    ok = child_expect_ready (&c[k], error);
  if (ok)
    mp_event_set (go);
  for (guint k = 0; ok && k < 2; k++)
    {
      g_autoptr(GVariant) r = mp_pipe_recv (c[k].mine, G_VARIANT_TYPE ("(xx)"), NULL, error);
      gint64 a, z;

      if (r == NULL)
        {
          ok = FALSE;
          break;
        }
      g_variant_get (r, "(xx)", &a, &z);
      t0 = MIN (t0, a);
      t1 = MAX (t1, z);
    }
  for (guint k = 0; k < 2; k++)
    ok = child_finish (&c[k], ok, ok ? error : NULL) && ok;
  if (!ok)
    return FALSE;
  final = g_variant_ref_sink (mp_value_get (value));
  if ((guint64) g_variant_get_int32 (final) != 2 * m->iterations)
    return fail (error, "%s: the value is %d after 2 x %" G_GUINT64_FORMAT " increments", m->name,
                 g_variant_get_int32 (final), m->iterations);
  if (t1 <= t0)
    return fail (error, "%s: the clocks make no sense", m->name);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

/* value_1p: the increments of one process alone, no contention: what the
 * calls cost. */
static gboolean
measure_value_1p_once (Measure  *m,
                       GError  **error)
{
  g_autoptr(MpValue) value = mp_value_new ("i", NULL, TRUE, error);
  g_autoptr(GVariant) final = NULL;
  gint64 t0, t1;

  m->start_method = "-";
  if (value == NULL || !increment_loop (value, LOCK_WARMUP, error))
    return FALSE;
  t0 = now_ns ();
  if (!increment_loop (value, m->iterations, error))
    return FALSE;
  t1 = now_ns ();
  final = g_variant_ref_sink (mp_value_get (value));
  if ((guint64) g_variant_get_int32 (final) != m->iterations + LOCK_WARMUP)
    return fail (error, "%s: the value is %d after %" G_GUINT64_FORMAT " increments", m->name,
                 g_variant_get_int32 (final), m->iterations + LOCK_WARMUP);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

/* ---- the raw floors --------------------------------------------------------- */

static int
futex (guint32 *word, int op, guint32 val)
{
  return syscall (SYS_futex, word, op, val, NULL, NULL, 0);
}

/* Waits until *@word is 1 and sets it back to 0. */
static void
futex_take (guint32 *word)
{
  guint32 one = 1;

  while (!__atomic_compare_exchange_n (word, &one, 0, FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
    {
      futex (word, FUTEX_WAIT, 0);
      one = 1;
    }
}

static void
futex_give (guint32 *word)
{
  __atomic_store_n (word, 1, __ATOMIC_SEQ_CST);
  futex (word, FUTEX_WAKE, 1);
}

static gboolean
measure_raw_once (Measure  *m,
                  GError  **error)
{
  gint64 total = m->iterations + PINGPONG_WARMUP, t0 = 0, t1 = 0;
  int e1 = -1, e2 = -1, status = 0;
  guint32 *words;
  guint64 one = 1, got;
  pid_t pid;

  m->start_method = "fork";
  words = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (words == MAP_FAILED)
    return fail (error, "mmap: %s", g_strerror (errno));
  if (m->kind == M_RAW_EVENTFD &&
      ((e1 = eventfd (0, EFD_CLOEXEC)) < 0 || (e2 = eventfd (0, EFD_CLOEXEC)) < 0))
    {
      munmap (words, 4096);
      return fail (error, "eventfd: %s", g_strerror (errno));
    }
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    return fail (error, "fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      for (gint64 i = 0; i < total; i++)
        {
          if (m->kind == M_RAW_EVENTFD)
            {
              if (read (e1, &got, 8) != 8 || write (e2, &one, 8) != 8)
                _exit (1);
            }
          else
            {
              futex_take (&words[0]);
              futex_give (&words[16]);
            }
        }
      _exit (0);
    }
  for (gint64 i = 0; i < total; i++)
    {
      if (i == PINGPONG_WARMUP)
        t0 = now_ns ();
      if (m->kind == M_RAW_EVENTFD)
        {
          if (write (e1, &one, 8) != 8 || read (e2, &got, 8) != 8)
            {
              kill (pid, SIGKILL);
              break;
            }
        }
      else
        {
          futex_give (&words[0]);
          futex_take (&words[16]);
        }
    }
  t1 = now_ns ();
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (e1 >= 0)
    close (e1);
  if (e2 >= 0)
    close (e2);
  munmap (words, 4096);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return fail (error, "%s: the raw partner ended with 0x%x", m->name, status);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

/* The floor of lock: what any lock made of one atomic word costs, a
 * compare-and-swap to take it and an exchange to give it back (both
 * sequentially consistent, as libmp's), plus the look at a sleeper count
 * that a release needs; in shared memory, inlined, no checks. */
static gboolean
measure_raw_lock_once (Measure  *m,
                       GError  **error)
{
  guint64 *words;
  gint64 t0, t1;
  guint64 wakes = 0;

  m->start_method = "-";
  words = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (words == MAP_FAILED)
    return fail (error, "mmap: %s", g_strerror (errno));
  t0 = now_ns ();
  for (guint64 i = 0; i < m->iterations; i++)
    {
      guint64 expected = 0;

      if (!__atomic_compare_exchange_n (&words[0], &expected, i + 1, FALSE,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        break;
      if (__atomic_exchange_n (&words[0], 0, __ATOMIC_SEQ_CST) != i + 1)
        break;
      if (__atomic_load_n (&words[1], __ATOMIC_SEQ_CST) > 0)
        wakes++;
    }
  t1 = now_ns ();
  munmap (words, 4096);
  if (wakes != 0)
    return fail (error, "%s: nobody sleeps, yet there were wake-ups", m->name);
  add_double (m->seconds, (t1 - t0) / 1e9);
  return TRUE;
}

/* The floor of value: two processes made by fork() each add 1 to an int
 * in shared memory --increments times under a bare spin lock (a
 * compare-and-swap with a pause while it is taken, an exchange to give it
 * back): what the cache line's trips between the CPUs cost, with no call,
 * no GVariant and no sleeping. On one CPU a holder can be preempted while
 * the other spins: the spin then yields. */
static gboolean
measure_raw_value_once (Measure  *m,
                        GError  **error)
{
  struct { guint32 lock; gint32 value; gint64 t[2][2]; guint32 go; } *sh;
  pid_t pids[2];
  gint64 t0 = G_MAXINT64, t1 = 0;
  gboolean ok = TRUE;

  m->start_method = "fork";
  sh = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    return fail (error, "mmap: %s", g_strerror (errno));
  fflush (stdout);
  for (guint k = 0; k < 2; k++)
    {
      pids[k] = fork ();
      if (pids[k] < 0)
        return fail (error, "fork: %s", g_strerror (errno));
      if (pids[k] == 0)
        {
          while (__atomic_load_n (&sh->go, __ATOMIC_ACQUIRE) == 0)
            sched_yield ();
          sh->t[k][0] = now_ns ();
          for (guint64 i = 0; i < m->iterations; i++)
            {
              guint spins = 0;

              for (;;)
                {
                  guint32 free_ = 0;

                  if (__atomic_load_n (&sh->lock, __ATOMIC_RELAXED) == 0 &&
                      __atomic_compare_exchange_n (&sh->lock, &free_, 1, FALSE,
                                                   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
                    break;
#if defined(__x86_64__) || defined(__i386__)
                  __builtin_ia32_pause ();
#endif
                  if (++spins % 1024 == 0)
                    sched_yield ();
                }
              sh->value = sh->value + 1;
              __atomic_store_n (&sh->lock, 0, __ATOMIC_SEQ_CST);
            }
          sh->t[k][1] = now_ns ();
          _exit (0);
        }
    }
  __atomic_store_n (&sh->go, 1, __ATOMIC_RELEASE);
  for (guint k = 0; k < 2; k++)
    {
      int status = 0;

      while (waitpid (pids[k], &status, 0) < 0 && errno == EINTR)
        ;
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        ok = fail (error, "%s: a raw child ended with 0x%x", m->name, status);
      t0 = MIN (t0, sh->t[k][0]);
      t1 = MAX (t1, sh->t[k][1]);
    }
  if (ok && (guint64) sh->value != 2 * m->iterations)
    ok = fail (error, "%s: the value is %d after 2 x %" G_GUINT64_FORMAT " increments", m->name,
               sh->value, m->iterations);
  munmap (sh, 4096);
  if (ok)
    add_double (m->seconds, (t1 - t0) / 1e9);
  return ok;
}

/* ---- output ---------------------------------------------------------------- */

static void
print_json (Measure *measures,
            guint    n)
{
  g_autoptr(GString) out = g_string_new ("{\"program\": \"libmp\", \"pid\": ");

  g_string_append_printf (out, "%d, \"results\": {", (int) getpid ());
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);

      g_string_append_printf (out, "%s\n  \"%s\": {\"kind\": \"%s\", \"start_method\": \"%s\", "
                                   "\"unit\": \"s\", \"iterations\": %" G_GUINT64_FORMAT ", "
                                   "\"ops\": %" G_GUINT64_FORMAT ", "
                                   "\"runs\": %u, \"mean\": %.9f, \"median\": %.9f, \"min\": %.9f, "
                                   "\"max\": %.9f, \"samples\": [",
                              i ? "," : "", m->name,
                              m->kind >= M_RAW_EVENTFD && m->kind != M_VALUE_1P ? "baseline" : "libmp",
                              m->start_method ? m->start_method : "", m->iterations, m->ops,
                              m->seconds->len, s.mean, s.median, s.min, s.max);
      for (guint j = 0; j < m->seconds->len; j++)
        g_string_append_printf (out, "%s%.9f", j ? ", " : "", g_array_index (m->seconds, double, j));
      g_string_append (out, "]}");
    }
  g_string_append (out, "\n}}\n");
  fputs (out->str, stdout);
}

static void
print_table (Measure *measures,
             guint    n)
{
  g_print ("%-12s %-11s %10s %5s %10s %10s %12s %12s\n", "what", "method", "ops", "runs",
           "mean s", "median s", "M/s (mean)", "M/s (median)");
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);

      g_print ("%-12s %-11s %10" G_GUINT64_FORMAT " %5u %10.5f %10.5f %12.4f %12.4f\n",
               m->name, m->start_method ? m->start_method : "-", m->ops, m->seconds->len,
               s.mean, s.median, s.mean > 0 ? m->ops / s.mean / 1e6 : 0,
               s.median > 0 ? m->ops / s.median / 1e6 : 0);
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
  int lock_pairs = -1, round_trips = -1, increments = -1, repeat = -1;
  gboolean quick = FALSE, json = FALSE;
  MpStartMethod method = MP_START_METHOD_DEFAULT;
  GOptionEntry entries[] = {
    { "what", 'm', 0, G_OPTION_ARG_STRING, &what,
      "What to measure, comma-separated: lock, rlock, event, condition, condition2, value, value_1p, raw_eventfd, raw_futex, raw_lock, raw_value "
      "(default: lock,event,condition,condition2,value)", "LIST" },
    { "lock-pairs", 0, 0, G_OPTION_ARG_INT, &lock_pairs,
      "Acquire/release pairs per lock run (default: 2000000)", "N" },
    { "round-trips", 0, 0, G_OPTION_ARG_INT, &round_trips,
      "Round trips per ping-pong run (default: 20000)", "N" },
    { "increments", 0, 0, G_OPTION_ARG_INT, &increments,
      "Increments per child per value run (default: 100000)", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Runs of each measurement, taking turns (default: 3)", "N" },
    { "start-method", 0, 0, G_OPTION_ARG_STRING, &start_method,
      "default, fork, forkserver or spawn (default: default)", "METHOD" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
      "A few iterations only: checks that everything runs, measures nothing", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "Print the results as JSON (with every sample)", NULL },
    { NULL }
  };

  mp_register_task ("event_partner", task_event_partner, NULL, NULL);
  mp_register_task ("condition_partner", task_condition_partner, NULL, NULL);
  mp_register_task ("incrementer", task_incrementer, NULL, NULL);
  /* A spawn child never returns from here: it becomes the worker. */
  mp_init (argc, argv);

  context = g_option_context_new ("- time libmp's locks, events, conditions and values");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (quick)
    {
      if (lock_pairs < 0)
        lock_pairs = 20000;
      if (round_trips < 0)
        round_trips = 200;
      if (increments < 0)
        increments = 2000;
      if (repeat < 0)
        repeat = 1;
    }
  if (lock_pairs < 0)
    lock_pairs = 2000000;
  if (round_trips < 0)
    round_trips = 20000;
  if (increments < 0)
    increments = 100000;
  if (repeat < 1)
    repeat = 3;
  if (lock_pairs < 1 || round_trips < 1 || increments < 1 || increments > G_MAXINT32 / 2)
    {
      g_printerr ("--lock-pairs, --round-trips and --increments must be positive "
                  "(--increments at most %d)\n", G_MAXINT32 / 2);
      return 2;
    }

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

  wanted = g_strsplit (what ? what : "lock,event,condition,condition2,value", ",", -1);
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
      m.iterations = round_trips;
      if (g_str_equal (w, "lock"))
        m.name = "lock", m.kind = M_LOCK, m.iterations = lock_pairs;
      else if (g_str_equal (w, "rlock"))
        m.name = "rlock", m.kind = M_RLOCK, m.iterations = lock_pairs;
      else if (g_str_equal (w, "event"))
        m.name = "event", m.kind = M_EVENT;
      else if (g_str_equal (w, "condition"))
        m.name = "condition", m.kind = M_CONDITION;
      else if (g_str_equal (w, "condition2"))
        m.name = "condition2", m.kind = M_CONDITION2;
      else if (g_str_equal (w, "value"))
        m.name = "value", m.kind = M_VALUE, m.iterations = increments;
      else if (g_str_equal (w, "raw_eventfd"))
        m.name = "raw_eventfd", m.kind = M_RAW_EVENTFD;
      else if (g_str_equal (w, "raw_futex"))
        m.name = "raw_futex", m.kind = M_RAW_FUTEX;
      else if (g_str_equal (w, "value_1p"))
        m.name = "value_1p", m.kind = M_VALUE_1P, m.iterations = increments;
      else if (g_str_equal (w, "raw_value"))
        m.name = "raw_value", m.kind = M_RAW_VALUE, m.iterations = increments;
      else if (g_str_equal (w, "raw_lock"))
        m.name = "raw_lock", m.kind = M_RAW_LOCK, m.iterations = lock_pairs;
      else
        {
          g_printerr ("Unknown measurement “%s” (lock, rlock, event, condition, value, raw_eventfd, "
                      "raw_futex)\n", w);
          return 2;
        }
      m.ops = m.kind == M_VALUE || m.kind == M_RAW_VALUE ? 2 * m.iterations : m.iterations;
      m.seconds = g_array_new (FALSE, FALSE, sizeof (double));
      g_array_append_val (measures, m);
    }

  for (int rep = 0; rep < repeat; rep++)
    for (guint j = 0; j < measures->len; j++)
      {
        Measure *m = &g_array_index (measures, Measure, rep % 2 ? measures->len - 1 - j : j);
        gboolean ok;

        switch (m->kind)
          {
          case M_LOCK:
          case M_RLOCK:
            ok = measure_lock_once (m, &error);
            break;
          case M_EVENT:
            ok = measure_event_once (m, method, &error);
            break;
          case M_CONDITION:
          case M_CONDITION2:
            ok = measure_condition_once (m, method, &error);
            break;
          case M_VALUE:
            ok = measure_value_once (m, method, &error);
            break;
          case M_RAW_LOCK:
            ok = measure_raw_lock_once (m, &error);
            break;
          case M_VALUE_1P:
            ok = measure_value_1p_once (m, &error);
            break;
          case M_RAW_VALUE:
            ok = measure_raw_value_once (m, &error);
            break;
          default:
            ok = measure_raw_once (m, &error);
            break;
          }
        if (!ok)
          {
            g_printerr ("bench-sync: %s\n", error->message);
            return 1;
          }
      }

  if (json)
    print_json ((Measure *) measures->data, measures->len);
  else
    print_table ((Measure *) measures->data, measures->len);

  for (guint i = 0; i < measures->len; i++)
    g_array_unref (g_array_index (measures, Measure, i).seconds);
  return 0;
}
