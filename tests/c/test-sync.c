/* test-sync.c: locks, semaphores, conditions, events, barriers, shared
 * values, arrays and memory, in one process and across each start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <mp.h>

#include "test-util.h"

#define N_COUNTERS 10
#define N_ADDS     50
#define N_PASSES   1000

/* ---- helpers ------------------------------------------------------------- */

static gpointer
child_object (GVariant *args, guint index, GType type, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, index);
  MpShareable *object = mp_shareable_new_from_variant (ref, error);

  if (object != NULL)
    g_assert_true (g_type_is_a (G_OBJECT_TYPE (object), type));
  return object;
}

static GVariant *
ref (gpointer object)
{
  return mp_shareable_to_variant (MP_SHAREABLE (object));
}

/* ---- tasks ------------------------------------------------------------- */

/* The seeds' counter: 50 increments, each a read and a write, under the
 * lock when there is one. */
static GVariant *
task_count (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpValue) value = child_object (args, 0, MP_TYPE_VALUE, error);
  g_autoptr(MpLock) lock = NULL;
  g_autoptr(GVariant) maybe_lock = g_variant_get_child_value (args, 1);

  if (value == NULL)
    return NULL;
  if (g_variant_n_children (maybe_lock) > 0 &&
      (lock = MP_LOCK (mp_shareable_new_from_variant (maybe_lock, error))) == NULL)
    return NULL;
  for (int i = 0; i < N_ADDS; i++)
    {
      g_autoptr(GVariant) old = NULL;
      if (lock != NULL && !mp_lock_acquire (lock, -1, NULL, error))
        return NULL;
      old = g_variant_ref_sink (mp_value_get (value));
      if (!mp_value_set (value, g_variant_new_int32 (g_variant_get_int32 (old) + 1), error))
        return NULL;
      if (lock != NULL && !mp_lock_release (lock, error))
        return NULL;
    }
  return g_variant_new ("()");
}

static GVariant *
task_add (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpValue) value = child_object (args, 0, MP_TYPE_VALUE, error);

  if (value == NULL)
    return NULL;
  for (int i = 0; i < N_ADDS; i++)
    if (mp_value_add (value, g_variant_new_int32 (1), error) == NULL)
      return NULL;
  return g_variant_new ("()");
}

/* Takes the lock, says so, and never lets go: killed while holding. */
static GVariant *
task_hold_forever (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GObject) lock = child_object (args, 0, G_TYPE_OBJECT, error);
  g_autoptr(MpEvent) holding = child_object (args, 1, MP_TYPE_EVENT, error);
  g_autoptr(MpEvent) never = NULL;

  if (lock == NULL || holding == NULL)
    return NULL;
  if (MP_IS_LOCK (lock) ? !mp_lock_acquire (MP_LOCK (lock), -1, NULL, error)
                        : !mp_rlock_acquire (MP_RLOCK (lock), -1, NULL, error))
    return NULL;
  mp_event_set (holding);
  never = mp_event_new (error);
  mp_event_wait (never, -1, NULL, error);
  return NULL;
}

/* Takes the lock, says so, waits for the word, releases. */
static GVariant *
task_hold_until (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpLock) lock = child_object (args, 0, MP_TYPE_LOCK, error);
  g_autoptr(MpEvent) holding = child_object (args, 1, MP_TYPE_EVENT, error);
  g_autoptr(MpEvent) go = child_object (args, 2, MP_TYPE_EVENT, error);

  if (lock == NULL || holding == NULL || go == NULL)
    return NULL;
  if (!mp_lock_acquire (lock, -1, NULL, error))
    return NULL;
  mp_event_set (holding);
  if (!mp_event_wait (go, -1, NULL, error))
    return NULL;
  if (!mp_lock_release (lock, error))
    return NULL;
  return g_variant_new ("()");
}

/* Waits on the condition after saying so through @waiting (released with
 * the lock held: once the parent holds the lock, this one is inside wait),
 * then counts itself in @woken and reports through @done. */
static GVariant *
task_condition_waiter (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpCondition) cond = child_object (args, 0, MP_TYPE_CONDITION, error);
  g_autoptr(MpSemaphore) waiting = child_object (args, 1, MP_TYPE_SEMAPHORE, error);
  g_autoptr(MpValue) woken = child_object (args, 2, MP_TYPE_VALUE, error);
  g_autoptr(MpValue) phase = child_object (args, 3, MP_TYPE_VALUE, error);
  g_autoptr(MpValue) early = child_object (args, 4, MP_TYPE_VALUE, error);
  g_autoptr(MpSemaphore) done = child_object (args, 5, MP_TYPE_SEMAPHORE, error);
  g_autoptr(GVariant) seen = NULL;

  if (!cond || !waiting || !woken || !phase || !early || !done)
    return NULL;
  if (!mp_condition_acquire (cond, -1, NULL, error) ||
      !mp_semaphore_release (waiting, error) ||
      !mp_condition_wait (cond, -1, NULL, error))
    return NULL;
  seen = g_variant_ref_sink (mp_value_get (phase));
  if (g_variant_get_int32 (seen) == 0)
    mp_value_add (early, g_variant_new_int32 (1), NULL);
  mp_value_add (woken, g_variant_new_int32 (1), NULL);
  if (!mp_condition_release (cond, error) || !mp_semaphore_release (done, error))
    return NULL;
  return g_variant_new ("()");
}

#define N_TURNS 300

static gboolean
turn_is (MpValue *turn, gint32 want)
{
  g_autoptr(GVariant) now = g_variant_ref_sink (mp_value_get (turn));
  return g_variant_get_int32 (now) == want;
}

/* Takes turns with the parent through one condition: waits for turn 1,
 * gives turn 0 back and notifies, N_TURNS times. */
static GVariant *
task_take_turns (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpCondition) cond = child_object (args, 0, MP_TYPE_CONDITION, error);
  g_autoptr(MpValue) turn = child_object (args, 1, MP_TYPE_VALUE, error);

  if (cond == NULL || turn == NULL)
    return NULL;
  for (int i = 0; i < N_TURNS; i++)
    {
      if (!mp_condition_acquire (cond, -1, NULL, error))
        return NULL;
      while (!turn_is (turn, 1))
        if (!mp_condition_wait (cond, 120, NULL, error))
          return NULL;
      mp_value_set (turn, g_variant_new_int32 (0), NULL);
      if (!mp_condition_notify (cond, 1, error) || !mp_condition_release (cond, error))
        return NULL;
    }
  return g_variant_new ("()");
}

/* Passes the barrier N_PASSES times, counting the passes where it got
 * index 0. */
static GVariant *
task_barrier_party (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpBarrier) barrier = child_object (args, 0, MP_TYPE_BARRIER, error);
  g_autoptr(MpValue) zeros = child_object (args, 1, MP_TYPE_VALUE, error);

  if (barrier == NULL || zeros == NULL)
    return NULL;
  for (int i = 0; i < N_PASSES; i++)
    {
      int index = mp_barrier_wait (barrier, -1, NULL, error);
      if (index < 0)
        return NULL;
      if (index == 0)
        mp_value_add (zeros, g_variant_new_int64 (1), NULL);
    }
  return g_variant_new ("()");
}

/* The barrier's action: counts the passes. */
static GVariant *
task_barrier_action (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpValue) actions = child_object (args, 0, MP_TYPE_VALUE, error);

  if (actions == NULL || mp_value_add (actions, g_variant_new_int64 (1), error) == NULL)
    return NULL;
  return g_variant_new ("()");
}

static GVariant *
task_barrier_wait_once (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpBarrier) barrier = child_object (args, 0, MP_TYPE_BARRIER, error);

  if (barrier == NULL || mp_barrier_wait (barrier, -1, NULL, error) < 0)
    return NULL;
  return g_variant_new ("()");
}

static GVariant *
task_set_event (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpEvent) event = child_object (args, 0, MP_TYPE_EVENT, error);

  if (event == NULL)
    return NULL;
  mp_event_set (event);
  return g_variant_new ("()");
}

static GVariant *
task_semaphore_release (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpSemaphore) sem = child_object (args, 0, MP_TYPE_SEMAPHORE, error);
  gint32 n;

  if (sem == NULL)
    return NULL;
  g_variant_get_child (args, 1, "i", &n);
  for (int i = 0; i < n; i++)
    if (!mp_semaphore_release (sem, error))
      return NULL;
  return g_variant_new ("()");
}

/* Writes into shared memory and an array handed over by reference, and
 * into a named block opened by name. */
static GVariant *
task_write_memory (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpSharedMemory) anon = child_object (args, 0, MP_TYPE_SHARED_MEMORY, error);
  g_autoptr(MpArray) array = child_object (args, 1, MP_TYPE_ARRAY, error);
  g_autoptr(MpSharedMemory) named = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) world = g_bytes_new_static ("world", 5);
  const char *name;

  if (anon == NULL || array == NULL)
    return NULL;
  g_variant_get_child (args, 2, "&s", &name);
  named = mp_shared_memory_open (name, error);
  if (named == NULL)
    return NULL;
  if (!mp_shared_memory_write (anon, 3, hello, error) ||
      !mp_shared_memory_write (named, 0, world, error) ||
      !mp_array_set (array, 2, g_variant_new_double (2.5), error))
    return NULL;
  return g_variant_new ("()");
}

/* ---- in one process ------------------------------------------------------ */

static void
test_lock_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpLock) lock = mp_lock_new (&error);
  gint64 start, elapsed;

  g_assert_no_error (error);
  g_assert_false (mp_lock_is_locked (lock));
  g_assert_true (mp_lock_acquire (lock, -1, NULL, &error));
  g_assert_true (mp_lock_is_locked (lock));

  /* Not recursive: a second acquire waits, then times out after about
   * the timeout. */
  start = g_get_monotonic_time ();
  g_assert_false (mp_lock_acquire (lock, 0.2, NULL, &error));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, >=, 190000);
  g_assert_cmpint (elapsed, <, 10 * G_USEC_PER_SEC);

  /* Only tries. */
  g_assert_false (mp_lock_acquire (lock, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_assert_true (mp_lock_release (lock, &error));
  g_assert_false (mp_lock_is_locked (lock));
  g_assert_false (mp_lock_release (lock, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Cancelled while waiting. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    g_assert_true (mp_lock_acquire (lock, 0, NULL, &error));
    g_cancellable_cancel (cancellable);
    g_assert_false (mp_lock_acquire (lock, -1, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_true (mp_lock_release (lock, &error));
  }
}

static gpointer
release_from_thread (gpointer data)
{
  return GINT_TO_POINTER (mp_rlock_release (data, NULL));
}

static void
test_rlock_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpRLock) lock = mp_rlock_new (&error);
  GThread *thread;

  g_assert_no_error (error);
  g_assert_false (mp_rlock_is_owned (lock));
  g_assert_true (mp_rlock_acquire (lock, -1, NULL, &error));
  g_assert_true (mp_rlock_acquire (lock, 0, NULL, &error));
  g_assert_cmpuint (mp_rlock_get_count (lock), ==, 2);

  /* Another thread is not the owner. */
  thread = g_thread_new ("release", release_from_thread, lock);
  g_assert_false (GPOINTER_TO_INT (g_thread_join (thread)));

  g_assert_true (mp_rlock_release (lock, &error));
  g_assert_true (mp_rlock_is_owned (lock));
  g_assert_true (mp_rlock_release (lock, &error));
  g_assert_false (mp_rlock_is_owned (lock));
  g_assert_false (mp_rlock_release (lock, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
}

static void
test_semaphore_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpSemaphore) sem = mp_semaphore_new (2, TRUE, &error);
  g_autoptr(MpSemaphore) none = NULL;

  g_assert_no_error (error);
  g_assert_true (mp_semaphore_is_bounded (sem));
  g_assert_true (mp_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_true (mp_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_cmpuint (mp_semaphore_get_value (sem), ==, 0);
  g_assert_false (mp_semaphore_acquire (sem, 0.05, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mp_semaphore_release (sem, &error));
  g_assert_true (mp_semaphore_release (sem, &error));
  g_assert_false (mp_semaphore_release (sem, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_cmpuint (mp_semaphore_get_value (sem), ==, 2);

  none = mp_semaphore_new (0, TRUE, &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_condition_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpLock) plain = mp_lock_new (&error);
  g_autoptr(MpCondition) cond = mp_condition_new (G_OBJECT (plain), &error);
  g_autoptr(MpCondition) default_cond = mp_condition_new (NULL, &error);
  g_autoptr(MpQueue) not_a_lock = mp_queue_new (0, &error);
  g_autoptr(MpCondition) bad = NULL;
  gboolean flag = FALSE;

  g_assert_no_error (error);
  g_assert_true (MP_IS_RLOCK (mp_condition_get_lock (default_cond)));
  bad = mp_condition_new (G_OBJECT (not_a_lock), &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Waiting and notifying need the lock. */
  g_assert_false (mp_condition_wait (cond, 0, NULL, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (mp_condition_notify (cond, 1, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* A timed-out wait holds the lock again. */
  g_assert_true (mp_condition_acquire (cond, -1, NULL, &error));
  g_assert_false (mp_condition_wait (cond, 0.05, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mp_lock_is_locked (plain));
  /* Nobody waits: notify wakes nobody and leaves nothing behind. */
  g_assert_true (mp_condition_notify_all (cond, &error));
  g_assert_false (mp_condition_wait (cond, 0.01, NULL, &error));
  g_clear_error (&error);
  g_assert_false (mp_condition_wait_for (cond, is_true, &flag, 0.05, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  flag = TRUE;
  g_assert_true (mp_condition_wait_for (cond, is_true, &flag, 0.05, NULL, &error));
  g_assert_true (mp_condition_release (cond, &error));

  /* An RLock held twice is released fully by wait and restored. */
  g_assert_true (mp_condition_acquire (default_cond, -1, NULL, &error));
  g_assert_true (mp_condition_acquire (default_cond, -1, NULL, &error));
  g_assert_false (mp_condition_wait (default_cond, 0.01, NULL, &error));
  g_clear_error (&error);
  g_assert_cmpuint (mp_rlock_get_count (MP_RLOCK (mp_condition_get_lock (default_cond))), ==, 2);
}

static void
test_event_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpEvent) event = mp_event_new (&error);

  g_assert_false (mp_event_is_set (event));
  g_assert_false (mp_event_wait (event, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  mp_event_set (event);
  g_assert_true (mp_event_wait (event, 0, NULL, &error));
  g_assert_true (mp_event_wait (event, -1, NULL, &error));
  mp_event_clear (event);
  g_assert_false (mp_event_wait (event, 0.01, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static void
test_value_and_array (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpValue) value = mp_value_new ("i", g_variant_new_int32 (41), TRUE, &error);
  g_autoptr(MpValue) byte = mp_value_new ("y", NULL, FALSE, &error);
  g_autoptr(MpValue) dbl = mp_value_new ("d", g_variant_new_double (0.5), FALSE, &error);
  g_autoptr(MpValue) bad = NULL;
  g_autoptr(MpArray) array = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *printed = NULL;
  gint32 ints[] = { 1, 2, 3, 4 };

  g_assert_no_error (error);
  got = g_variant_ref_sink (mp_value_get (value));
  g_assert_cmpint (g_variant_get_int32 (got), ==, 41);
  g_clear_pointer (&got, g_variant_unref);
  got = g_variant_ref_sink (mp_value_add (value, g_variant_new_int64 (1), &error));
  g_assert_cmpint (g_variant_get_int32 (got), ==, 42);
  g_clear_pointer (&got, g_variant_unref);
  g_assert_nonnull (mp_value_get_lock (value));
  g_assert_null (mp_value_get_lock (byte));
  g_assert_cmpstr (mp_value_get_type_string (byte), ==, "y");

  /* Integers wrap as in C. */
  got = g_variant_ref_sink (mp_value_add (byte, g_variant_new_int32 (-1), &error));
  g_assert_cmpuint (g_variant_get_byte (got), ==, 255);
  g_clear_pointer (&got, g_variant_unref);
  got = g_variant_ref_sink (mp_value_add (dbl, g_variant_new_double (0.25), &error));
  g_assert_cmpfloat (g_variant_get_double (got), ==, 0.75);
  g_clear_pointer (&got, g_variant_unref);

  /* Typed, without GVariants. */
  g_assert_cmpint (mp_value_get_int (value, &error), ==, 42);
  g_assert_true (mp_value_set_int (value, -5, &error));
  g_assert_cmpint (mp_value_get_int (value, &error), ==, -5);
  g_assert_false (mp_value_set_int (value, G_MAXINT32 + (gint64) 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mp_value_set_int (byte, -1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpint (mp_value_get_int (dbl, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpfloat (mp_value_get_double (dbl), ==, 0.75);
  g_assert_cmpfloat (mp_value_get_double (value), ==, -5.0);
  g_assert_true (mp_value_set_double (dbl, 1.5, &error));
  g_assert_false (mp_value_set_double (value, 1.5, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (mp_value_set (value, g_variant_new_string ("no"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (mp_value_add (value, g_variant_new_string ("no"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = mp_value_new ("s", NULL, FALSE, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = mp_value_new ("i", g_variant_new_int64 (1), FALSE, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  array = mp_array_new_with_values (g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, ints, 4, sizeof (gint32)),
                                    FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mp_array_get_length (array), ==, 4);
  got = g_variant_ref_sink (mp_array_get_slice (array, 1, 3, &error));
  printed = g_variant_print (got, FALSE);
  g_assert_cmpstr (printed, ==, "[2, 3]");
  g_clear_pointer (&printed, g_free);
  g_clear_pointer (&got, g_variant_unref);
  g_assert_true (mp_array_set (array, 3, g_variant_new_int32 (40), &error));
  bytes = mp_array_get_bytes (array);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 16);
  g_assert_cmpint (((const gint32 *) g_bytes_get_data (bytes, NULL))[3], ==, 40);
  /* The view is the memory itself. */
  g_assert_true (mp_array_set (array, 0, g_variant_new_int32 (-7), &error));
  g_assert_cmpint (((const gint32 *) g_bytes_get_data (bytes, NULL))[0], ==, -7);

  g_assert_null (mp_array_get (array, 4, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mp_array_set (array, 0, g_variant_new_double (1), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (mp_array_set_slice (array, 3, g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, ints, 2, sizeof (gint32)), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (mp_array_get_slice (array, 3, 2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Zero-filled. */
  g_clear_object (&array);
  array = mp_array_new ("b", 3, TRUE, &error);
  got = g_variant_ref_sink (mp_array_get_slice (array, 0, 3, &error));
  printed = g_variant_print (got, FALSE);
  g_assert_cmpstr (printed, ==, "[false, false, false]");
}

static void
test_shareable_refusals (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpLock) lock = mp_lock_new (&error);
  g_autoptr(GVariant) lock_ref = g_variant_ref_sink (ref (lock));
  g_autoptr(MpShareable) wrong = NULL;
  g_autoptr(MpEvent) event = NULL;

  g_assert_true (mp_shareable_is_reference (lock_ref));
  g_assert_false (mp_shareable_is_reference (g_variant_new_int32 (1)));
  wrong = mp_shareable_new_from_variant (g_variant_new ("(sh)", "mp:nothing", 0), &error);
  g_assert_null (wrong);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* A lock's reference is not an event's. */
  event = mp_event_new_from_variant (lock_ref, &error);
  g_assert_null (event);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* The handles in a reference must be this process's descriptors. */
  event = mp_event_new_from_variant (g_variant_new ("(shhv)", "mp:event", 900, 901, g_variant_new ("()")), &error);
  g_assert_null (event);
  g_assert_nonnull (error);
}

static void
test_shared_memory_basics (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("mp-test-%d-basics", getpid ());
  g_autoptr(MpSharedMemory) block = mp_shared_memory_new (name, 4096, &error);
  g_autoptr(MpSharedMemory) again = NULL;
  g_autoptr(MpSharedMemory) other = NULL;
  g_autoptr(GBytes) view = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static ("abc", 3);
  g_autoptr(GBytes) copy = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (mp_shared_memory_get_name (block), ==, name);
  g_assert_cmpuint (mp_shared_memory_get_size (block), ==, 4096);
  again = mp_shared_memory_new (name, 10, &error);
  g_assert_null (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  other = mp_shared_memory_open (name, &error);
  g_assert_no_error (error);
  g_assert_true (mp_shared_memory_write (other, 4093, data, &error));
  view = mp_shared_memory_get_bytes (block, &error);
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (view, NULL) + 4093, 3, "abc", 3);
  g_assert_false (mp_shared_memory_write (other, 4094, data, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (mp_shared_memory_unlink (block, &error));
  g_clear_object (&again);
  again = mp_shared_memory_open (name, &error);
  g_assert_null (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The view outlives the object's own mapping. */
  mp_shared_memory_close (block);
  mp_shared_memory_close (block);
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (view, NULL) + 4093, 3, "abc", 3);
  copy = mp_shared_memory_read (block, 0, 1, &error);
  g_assert_null (copy);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  g_clear_object (&again);
  again = mp_shared_memory_new ("a/b", 10, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  again = mp_shared_memory_new (NULL, 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Every object lets go of its memory and descriptors, references too. */
static void
test_no_leaks (void)
{
  guint before = count_fds ();

  for (int i = 0; i < 50; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpCondition) cond = mp_condition_new (NULL, &error);
      g_autoptr(MpSemaphore) sem = mp_semaphore_new (1, FALSE, &error);
      g_autoptr(MpEvent) event = mp_event_new (&error);
      g_autoptr(MpBarrier) barrier = mp_barrier_new (2, &error);
      g_autoptr(MpValue) value = mp_value_new ("d", NULL, TRUE, &error);
      g_autoptr(MpArray) array = mp_array_new ("x", 100, TRUE, &error);
      g_autoptr(MpSharedMemory) memory = mp_shared_memory_new (NULL, 100, &error);
      gpointer objects[] = { cond, sem, event, barrier, value, array, memory };
      GBytes *view = mp_array_get_bytes (array);

      g_assert_no_error (error);
      for (guint j = 0; j < G_N_ELEMENTS (objects); j++)
        {
          g_autoptr(GVariant) reference = g_variant_ref_sink (ref (objects[j]));
          g_autoptr(MpShareable) again = mp_shareable_new_from_variant (reference, &error);
          g_assert_no_error (error);
          g_assert_true (G_OBJECT_TYPE (again) == G_OBJECT_TYPE (objects[j]));
        }
      g_bytes_unref (view);
    }
  g_assert_cmpuint (count_fds (), ==, before);
}

/* ---- across processes ---------------------------------------------------- */

static void
test_counter (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpValue) locked_value = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(MpValue) added = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(MpLock) lock = mp_lock_new (&error);
  g_autoptr(GVariant) result = NULL;
  MpProcess *procs[2 * N_COUNTERS];

  for (int i = 0; i < N_COUNTERS; i++)
    {
      procs[i] = test_start (method, "count", g_variant_new ("(vv)", ref (locked_value), ref (lock)));
      procs[N_COUNTERS + i] = test_start (method, "add", g_variant_new ("(v)", ref (added)));
    }
  for (int i = 0; i < 2 * N_COUNTERS; i++)
    {
      test_join_ok (procs[i]);
      g_object_unref (procs[i]);
    }
  result = g_variant_ref_sink (mp_value_get (locked_value));
  g_assert_cmpint (g_variant_get_int32 (result), ==, N_COUNTERS * N_ADDS);
  g_clear_pointer (&result, g_variant_unref);
  result = g_variant_ref_sink (mp_value_get (added));
  g_assert_cmpint (g_variant_get_int32 (result), ==, N_COUNTERS * N_ADDS);
}

typedef struct
{
  GMainLoop *loop;
  GError    *error;
  gboolean   ok;
  gboolean   done;
} AsyncWait;

static void
lock_acquired_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncWait *wait = data;

  wait->ok = mp_lock_acquire_finish (MP_LOCK (source), result, &wait->error);
  wait->done = TRUE;
  g_main_loop_quit (wait->loop);
}

static gboolean
fail_on_timeout (gpointer data)
{
  g_error ("a wait that only fires on a bug fired");
  return G_SOURCE_REMOVE;
}

static void
run_until_done (AsyncWait *wait)
{
  guint id = g_timeout_add_seconds (120, fail_on_timeout, NULL);

  while (!wait->done)
    g_main_loop_run (wait->loop);
  g_source_remove (id);
}

/* A holder killed while holding: the next acquirer, blocking or async,
 * gets the lock with an owner-died report naming the holder. */
static void
test_owner_died (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpLock) lock = mp_lock_new (&error);
  g_autoptr(MpRLock) rlock = mp_rlock_new (&error);
  g_autoptr(MpEvent) holding = mp_event_new (&error);
  g_autoptr(MpProcess) holder = NULL;
  g_autofree char *pid_text = NULL;
  AsyncWait wait = { g_main_loop_new (NULL, FALSE), NULL, FALSE, FALSE };

  /* Blocking waiter, already waiting when the holder dies. */
  holder = test_start (method, "hold-forever", g_variant_new ("(vv)", ref (lock), ref (holding)));
  g_assert_true (mp_event_wait (holding, 120, NULL, &error));
  g_assert_false (mp_lock_acquire (lock, 0.05, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  pid_text = g_strdup_printf ("%d", mp_process_get_pid (holder));

  /* Async waiter first: it is woken by the holder's end, no thread. */
  mp_lock_acquire_async (lock, -1, NULL, lock_acquired_cb, &wait);
  g_assert_true (mp_process_kill (holder, &error));
  run_until_done (&wait);
  g_assert_false (wait.ok);
  g_assert_error (wait.error, MP_ERROR, MP_ERROR_OWNER_DIED);
  g_assert_nonnull (strstr (wait.error->message, pid_text));
  g_clear_error (&wait.error);
  g_assert_true (mp_lock_is_locked (lock));
  g_assert_true (mp_lock_release (lock, &error));
  g_assert_true (mp_lock_acquire (lock, 0, NULL, &error));
  g_assert_true (mp_lock_release (lock, &error));
  g_assert_true (mp_process_join (holder, 120, &error));
  g_clear_object (&holder);

  /* Nobody waiting when it dies: a later blocking acquire finds out. */
  mp_event_clear (holding);
  holder = test_start (method, "hold-forever", g_variant_new ("(vv)", ref (rlock), ref (holding)));
  g_assert_true (mp_event_wait (holding, 120, NULL, &error));
  g_assert_true (mp_process_kill (holder, &error));
  g_assert_true (mp_process_join (holder, 120, &error));
  g_assert_false (mp_rlock_acquire (rlock, 60, NULL, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_OWNER_DIED);
  g_clear_error (&error);
  g_assert_true (mp_rlock_is_owned (rlock));
  g_assert_cmpuint (mp_rlock_get_count (rlock), ==, 1);
  g_assert_true (mp_rlock_release (rlock, &error));
  g_assert_false (mp_rlock_is_owned (rlock));

  g_main_loop_unref (wait.loop);
}

/* A lock held by a child is taken async once the child lets go. */
static void
test_async_acquire (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpLock) lock = mp_lock_new (&error);
  g_autoptr(MpEvent) holding = mp_event_new (&error);
  g_autoptr(MpEvent) go = mp_event_new (&error);
  g_autoptr(MpProcess) holder = NULL;
  AsyncWait wait = { g_main_loop_new (NULL, FALSE), NULL, FALSE, FALSE };

  holder = test_start (method, "hold-until", g_variant_new ("(vvv)", ref (lock), ref (holding), ref (go)));
  g_assert_true (mp_event_wait (holding, 120, NULL, &error));
  mp_lock_acquire_async (lock, -1, NULL, lock_acquired_cb, &wait);
  g_assert_false (wait.done);
  mp_event_set (go);
  run_until_done (&wait);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
  g_assert_true (mp_lock_release (lock, &error));
  test_join_ok (holder);

  /* A cancelled async wait. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    g_assert_true (mp_lock_acquire (lock, 0, NULL, &error));
    wait.done = FALSE;
    mp_lock_acquire_async (lock, -1, cancellable, lock_acquired_cb, &wait);
    g_cancellable_cancel (cancellable);
    run_until_done (&wait);
    g_assert_false (wait.ok);
    g_assert_error (wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&wait.error);
    /* And a timed-out one. */
    wait.done = FALSE;
    mp_lock_acquire_async (lock, 0.05, NULL, lock_acquired_cb, &wait);
    run_until_done (&wait);
    g_assert_error (wait.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error (&wait.error);
    g_assert_true (mp_lock_release (lock, &error));
  }
  g_main_loop_unref (wait.loop);
}

#define N_WAITERS 5

/* notify(2) wakes exactly two of five waiting children. */
static void
test_condition_notify_n (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpCondition) cond = mp_condition_new (NULL, &error);
  g_autoptr(MpSemaphore) waiting = mp_semaphore_new (0, FALSE, &error);
  g_autoptr(MpSemaphore) done = mp_semaphore_new (0, FALSE, &error);
  g_autoptr(MpValue) woken = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(MpValue) phase = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(MpValue) early = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(GVariant) n = NULL;
  MpProcess *procs[N_WAITERS];

  for (int i = 0; i < N_WAITERS; i++)
    procs[i] = test_start (method, "condition-waiter",
                           g_variant_new ("(vvvvvv)", ref (cond), ref (waiting), ref (woken),
                                          ref (phase), ref (early), ref (done)));
  for (int i = 0; i < N_WAITERS; i++)
    g_assert_true (mp_semaphore_acquire (waiting, 120, NULL, &error));
  /* Each released the semaphore holding the lock: holding it now means
   * every one of them is inside wait. */
  g_assert_true (mp_condition_acquire (cond, 120, NULL, &error));
  g_assert_true (mp_condition_notify (cond, 2, &error));
  g_assert_true (mp_condition_release (cond, &error));
  for (int i = 0; i < 2; i++)
    g_assert_true (mp_semaphore_acquire (done, 120, NULL, &error));

  g_assert_true (mp_condition_acquire (cond, 120, NULL, &error));
  g_assert_true (mp_value_set (phase, g_variant_new_int32 (1), &error));
  n = g_variant_ref_sink (mp_value_get (woken));
  g_assert_cmpint (g_variant_get_int32 (n), ==, 2);
  g_assert_true (mp_condition_notify_all (cond, &error));
  g_assert_true (mp_condition_release (cond, &error));
  for (int i = 0; i < N_WAITERS; i++)
    {
      test_join_ok (procs[i]);
      g_object_unref (procs[i]);
    }
  g_clear_pointer (&n, g_variant_unref);
  n = g_variant_ref_sink (mp_value_get (early));
  g_assert_cmpint (g_variant_get_int32 (n), ==, 2);
  g_clear_pointer (&n, g_variant_unref);
  n = g_variant_ref_sink (mp_value_get (woken));
  g_assert_cmpint (g_variant_get_int32 (n), ==, N_WAITERS);
}

/* Ping-pong through one condition: the notifier waits right after it
 * notifies, and must not take its own notification (both would sleep). */
static void
test_condition_turns (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpCondition) cond = mp_condition_new (NULL, &error);
  g_autoptr(MpValue) turn = mp_value_new ("i", NULL, FALSE, &error);
  g_autoptr(MpProcess) child = NULL;

  child = test_start (method, "take-turns", g_variant_new ("(vv)", ref (cond), ref (turn)));
  for (int i = 0; i < N_TURNS; i++)
    {
      g_assert_true (mp_condition_acquire (cond, -1, NULL, &error));
      mp_value_set (turn, g_variant_new_int32 (1), NULL);
      g_assert_true (mp_condition_notify (cond, 1, &error));
      while (!turn_is (turn, 0))
        {
          g_assert_true (mp_condition_wait (cond, 120, NULL, &error));
          g_assert_no_error (error);
        }
      g_assert_true (mp_condition_release (cond, &error));
    }
  test_join_ok (child);
}

/* Three parties pass 1000 times: one index 0 and one action per pass. */
static void
test_barrier_passes (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpBarrier) barrier = mp_barrier_new (3, &error);
  g_autoptr(MpValue) zeros = mp_value_new ("x", NULL, FALSE, &error);
  g_autoptr(MpValue) actions = mp_value_new ("x", NULL, FALSE, &error);
  g_autoptr(GVariant) n = NULL;
  MpProcess *procs[2];

  mp_barrier_set_action (barrier, "barrier-action", g_variant_new ("(v)", ref (actions)));
  for (int i = 0; i < 2; i++)
    procs[i] = test_start (method, "barrier-party", g_variant_new ("(vv)", ref (barrier), ref (zeros)));
  for (int i = 0; i < N_PASSES; i++)
    {
      int index = mp_barrier_wait (barrier, 120, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (index, >=, 0);
      g_assert_cmpint (index, <, 3);
      if (index == 0)
        mp_value_add (zeros, g_variant_new_int64 (1), NULL);
    }
  for (int i = 0; i < 2; i++)
    {
      test_join_ok (procs[i]);
      g_object_unref (procs[i]);
    }
  n = g_variant_ref_sink (mp_value_get (zeros));
  g_assert_cmpint (g_variant_get_int64 (n), ==, N_PASSES);
  g_clear_pointer (&n, g_variant_unref);
  n = g_variant_ref_sink (mp_value_get (actions));
  g_assert_cmpint (g_variant_get_int64 (n), ==, N_PASSES);
  g_assert_false (mp_barrier_get_broken (barrier));
}

/* A timeout breaks the barrier for a waiting child too; reset mends it. */
static void
test_barrier_broken (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpBarrier) barrier = mp_barrier_new (3, &error);
  g_autoptr(MpProcess) child = NULL;

  child = test_start (method, "barrier-wait-once", g_variant_new ("(v)", ref (barrier)));
  /* The child may arrive before or after this wait times out; either way
   * the barrier ends broken and the child fails. */
  g_assert_cmpint (mp_barrier_wait (barrier, 0.2, NULL, &error), ==, -1);
  g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
                 g_error_matches (error, MP_ERROR, MP_ERROR_BROKEN_BARRIER));
  g_clear_error (&error);
  g_assert_true (mp_barrier_get_broken (barrier));
  g_assert_true (mp_process_join (child, 120, &error));
  g_assert_false (mp_process_check_error (child, &error));
  g_assert_nonnull (strstr (error->message, "broken"));
  g_clear_error (&error);

  mp_barrier_reset (barrier);
  g_assert_false (mp_barrier_get_broken (barrier));
  g_assert_cmpuint (mp_barrier_get_n_waiting (barrier), ==, 0);
  mp_barrier_abort (barrier);
  g_assert_cmpint (mp_barrier_wait (barrier, 1, NULL, &error), ==, -1);
  g_assert_error (error, MP_ERROR, MP_ERROR_BROKEN_BARRIER);
  g_clear_error (&error);

  /* A one-party barrier always passes with index 0. */
  {
    g_autoptr(MpBarrier) single = mp_barrier_new (1, &error);
    g_assert_cmpint (mp_barrier_wait (single, -1, NULL, &error), ==, 0);
    g_assert_cmpint (mp_barrier_wait (single, -1, NULL, &error), ==, 0);
    g_assert_null (mp_barrier_new (0, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  }
}

static void
event_set_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncWait *wait = data;

  wait->ok = mp_event_wait_finish (MP_EVENT (source), result, &wait->error);
  wait->done = TRUE;
  g_main_loop_quit (wait->loop);
}

static void
semaphore_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncWait *wait = data;

  wait->ok = mp_semaphore_acquire_finish (MP_SEMAPHORE (source), result, &wait->error);
  wait->done = TRUE;
  g_main_loop_quit (wait->loop);
}

/* Events and semaphores set by a child wake waits on the main loop. */
static void
test_event_and_semaphore (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(MpEvent) event = mp_event_new (&error);
  g_autoptr(MpSemaphore) sem = mp_semaphore_new (0, FALSE, &error);
  g_autoptr(MpProcess) child = NULL;
  AsyncWait wait = { g_main_loop_new (NULL, FALSE), NULL, FALSE, FALSE };

  mp_event_wait_async (event, -1, NULL, event_set_cb, &wait);
  child = test_start (method, "set-event", g_variant_new ("(v)", ref (event)));
  run_until_done (&wait);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
  test_join_ok (child);
  g_clear_object (&child);

  wait.done = FALSE;
  mp_semaphore_acquire_async (sem, -1, NULL, semaphore_cb, &wait);
  child = test_start (method, "semaphore-release", g_variant_new ("(vi)", ref (sem), 3));
  run_until_done (&wait);
  g_assert_true (wait.ok);
  test_join_ok (child);
  g_assert_true (mp_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_true (mp_semaphore_acquire (sem, 0, NULL, &error));
  g_assert_false (mp_semaphore_acquire (sem, 0, NULL, &error));
  g_clear_error (&error);
  g_main_loop_unref (wait.loop);
}

static void
test_memory_across (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("mp-test-%d-%s", getpid (), test_method_names[method]);
  g_autoptr(MpSharedMemory) anon = mp_shared_memory_new (NULL, 64, &error);
  g_autoptr(MpSharedMemory) named = mp_shared_memory_new (name, 16, &error);
  g_autoptr(MpArray) array = mp_array_new ("d", 4, FALSE, &error);
  g_autoptr(MpProcess) child = NULL;
  g_autoptr(GBytes) anon_view = NULL;
  g_autoptr(GBytes) named_view = NULL;
  g_autoptr(GVariant) element = NULL;

  g_assert_no_error (error);
  g_assert_null (mp_shared_memory_get_name (anon));
  child = test_start (method, "write-memory", g_variant_new ("(vvs)", ref (anon), ref (array), name));
  test_join_ok (child);
  anon_view = mp_shared_memory_get_bytes (anon, &error);
  named_view = mp_shared_memory_get_bytes (named, &error);
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (anon_view, NULL) + 3, 5, "hello", 5);
  g_assert_cmpmem (g_bytes_get_data (named_view, NULL), 5, "world", 5);
  element = g_variant_ref_sink (mp_array_get (array, 2, &error));
  g_assert_cmpfloat (g_variant_get_double (element), ==, 2.5);
  g_assert_true (mp_shared_memory_unlink (named, &error));
}

int
main (int   argc,
      char *argv[])
{
  mp_register_task ("count", task_count, NULL, NULL);
  mp_register_task ("add", task_add, NULL, NULL);
  mp_register_task ("hold-forever", task_hold_forever, NULL, NULL);
  mp_register_task ("hold-until", task_hold_until, NULL, NULL);
  mp_register_task ("condition-waiter", task_condition_waiter, NULL, NULL);
  mp_register_task ("barrier-party", task_barrier_party, NULL, NULL);
  mp_register_task ("take-turns", task_take_turns, NULL, NULL);
  mp_register_task ("barrier-action", task_barrier_action, NULL, NULL);
  mp_register_task ("barrier-wait-once", task_barrier_wait_once, NULL, NULL);
  mp_register_task ("set-event", task_set_event, NULL, NULL);
  mp_register_task ("semaphore-release", task_semaphore_release, NULL, NULL);
  mp_register_task ("write-memory", task_write_memory, NULL, NULL);
  mp_init (argc, argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sync/lock", test_lock_basics);
  g_test_add_func ("/sync/rlock", test_rlock_basics);
  g_test_add_func ("/sync/semaphore", test_semaphore_basics);
  g_test_add_func ("/sync/condition", test_condition_basics);
  g_test_add_func ("/sync/event", test_event_basics);
  g_test_add_func ("/sync/value-and-array", test_value_and_array);
  g_test_add_func ("/sync/shareable-refusals", test_shareable_refusals);
  g_test_add_func ("/sync/shared-memory", test_shared_memory_basics);
  g_test_add_func ("/sync/no-leaks", test_no_leaks);
  test_add_per_method ("sync", "counter", test_counter);
  test_add_per_method ("sync", "owner-died", test_owner_died);
  test_add_per_method ("sync", "async-acquire", test_async_acquire);
  test_add_per_method ("sync", "condition-notify-n", test_condition_notify_n);
  test_add_per_method ("sync", "condition-turns", test_condition_turns);
  test_add_per_method ("sync", "barrier-passes", test_barrier_passes);
  test_add_per_method ("sync", "barrier-broken", test_barrier_broken);
  test_add_per_method ("sync", "event-and-semaphore", test_event_and_semaphore);
  test_add_per_method ("sync", "memory-across", test_memory_across);
  return g_test_run ();
}
