/* mp-condition.c: a condition variable shared between processes
 *
 * The cell's state counts the waiters that no notify has picked yet
 * (state[0]), the notifications not yet taken (state[1]) and the notifies
 * so far (state[2], the epoch): notify(n) moves up to n waiters from the
 * first count to the second and starts a new epoch, and a woken waiter
 * takes one notification. A waiter may take one only if it began waiting
 * before the last notify, so a notifier that waits right after notifying
 * never takes its own notification. That is how notify(n) wakes exactly
 * n of those waiting. A waiter that times out takes a notification if it
 * may and one is left (it was notified after all) or leaves the count.
 *
 * Waiters sleep on the cell's eventfd, and every one sleeping there may
 * take every notification left: a waiter that clears the eventfd and
 * sleeps again never swallows a wake-up meant for another. Those that
 * began after the last notify while its notifications are still being
 * taken wait at a gate until they are all taken or a new notify comes.
 * There are two gates, for odd and even epochs, so that those who may
 * pass (an older epoch) do not share an eventfd with those who may not
 * (this epoch). As a safety net against a wake-up swallowed all the same
 * (a waiter that slept through two notifies), gate waits look again
 * every few milliseconds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-lock-private.h"
#include "mp-wire-private.h"

/**
 * MpCondition:
 *
 * Python's `multiprocessing.Condition`: waiters release the condition's
 * lock, sleep until notified, and hold the lock again when they return.
 * The lock is an #MpLock or an #MpRLock (a new #MpRLock by default) and
 * travels with the condition to other processes.
 */
struct _MpCondition
{
  GObject      parent_instance;
  MpSyncCell  *cell;
  MpSyncCell  *gates[2];   /* by epoch parity */
  GObject     *lock;
};

#define GATE_RECHECK_US (5 * 1000)

static void mp_condition_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpCondition, mp_condition, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_condition_shareable_init))

#define UNPICKED(shared)  ((shared)->state[0])
#define NOTIFIED(shared)  ((shared)->state[1])
#define EPOCH(shared)     ((shared)->state[2])

typedef struct
{
  MpCondition *self;
  guint64      epoch;   /* when the waiter began */
  gboolean     taken;   /* a notification, by a give-up at the gate too */
} Waiting;

/* On the gate: until the notifications of the last notify, which this
 * waiter may not take, are all taken, or a new notify picks it too. */
static MpSyncStatus
pass_gate (MpSyncCell  *gate,
           gpointer     data,
           pid_t       *watch,
           GError     **error)
{
  Waiting *waiting = data;
  MpSyncCell *cell = waiting->self->cell;
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  gboolean open;

  mp_sync_cell_guard (cell);
  open = NOTIFIED (shared) == 0 || EPOCH (shared) > waiting->epoch;
  mp_sync_cell_unguard (cell);
  return open ? MP_SYNC_DONE_PASS_ON : MP_SYNC_WAIT;
}

static void
open_gates (MpCondition *self)
{
  mp_sync_cell_wake (self->gates[0]);
  mp_sync_cell_wake (self->gates[1]);
}

/* Takes a notification this waiter may take, under the guard. */
static gboolean
take_locked (MpSyncShared *shared,
             Waiting      *waiting,
             gboolean     *open_gate)
{
  if (NOTIFIED (shared) == 0 || EPOCH (shared) <= waiting->epoch)
    return FALSE;
  if (--NOTIFIED (shared) == 0)
    *open_gate = TRUE;
  waiting->taken = TRUE;
  return TRUE;
}

static MpSyncStatus
take_notification (MpSyncCell  *cell,
                   gpointer     data,
                   pid_t       *watch,
                   GError     **error)
{
  Waiting *waiting = data;
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  MpSyncStatus status = MP_SYNC_WAIT;
  gboolean open_gate = FALSE;

  mp_sync_cell_guard (cell);
  if (take_locked (shared, waiting, &open_gate))
    status = NOTIFIED (shared) > 0 ? MP_SYNC_DONE_PASS_ON : MP_SYNC_DONE;
  mp_sync_cell_unguard (cell);
  if (open_gate)
    open_gates (waiting->self);
  return status;
}

static MpSyncStatus
stop_waiting (MpSyncCell  *cell,
              gpointer     data,
              GError     **error)
{
  Waiting *waiting = data;
  MpSyncCell *main_cell = waiting->self->cell;
  MpSyncShared *shared = mp_sync_cell_shared (main_cell);
  MpSyncStatus status = MP_SYNC_FAILED;
  gboolean open_gate = FALSE;

  mp_sync_cell_guard (main_cell);
  if (take_locked (shared, waiting, &open_gate))
    status = MP_SYNC_DONE;
  else if (UNPICKED (shared) > 0)
    UNPICKED (shared)--;
  mp_sync_cell_unguard (main_cell);
  if (open_gate)
    open_gates (waiting->self);
  return status;
}

/* No give_up: a gate wait times out every few milliseconds to look again
 * (see above); the caller gives up at its own deadline. */
static const MpSyncWaitFuncs gate_funcs = {
  .attempt = pass_gate,
};

static const MpSyncWaitFuncs wait_funcs = {
  .attempt = take_notification,
  .give_up = stop_waiting,
};

static GVariant *
mp_condition_to_variant (MpShareable *shareable)
{
  MpCondition *self = MP_CONDITION (shareable);

  return mp_sync_cell_to_variant (self->cell, "mp:condition",
                                  g_variant_new ("(vvv)", mp_shareable_to_variant (MP_SHAREABLE (self->lock)),
                                                 mp_sync_cell_to_variant (self->gates[0], "mp:condition-gate", NULL),
                                                 mp_sync_cell_to_variant (self->gates[1], "mp:condition-gate", NULL)));
}

static void
mp_condition_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_condition_to_variant;
}

static void
mp_condition_finalize (GObject *object)
{
  MpCondition *self = MP_CONDITION (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  g_clear_pointer (&self->gates[0], mp_sync_cell_unref);
  g_clear_pointer (&self->gates[1], mp_sync_cell_unref);
  g_clear_object (&self->lock);
  G_OBJECT_CLASS (mp_condition_parent_class)->finalize (object);
}

/* A bare g_object_new() (`new Mp.Condition()` in GJS) waits with a new
 * RLock, as Python's Condition() does. */
static void
mp_condition_constructed (GObject *object)
{
  MpCondition *self = MP_CONDITION (object);

  G_OBJECT_CLASS (mp_condition_parent_class)->constructed (object);
  self->cell = mp_sync_cell_take_handed ();
  if (self->cell == NULL)
    {
      self->cell = mp_sync_cell_new_default (MP_SYNC_KIND_CONDITION);
      self->gates[0] = mp_sync_cell_new_default (MP_SYNC_KIND_CONDITION);
      self->gates[1] = mp_sync_cell_new_default (MP_SYNC_KIND_CONDITION);
      self->lock = g_object_new (MP_TYPE_RLOCK, NULL);
      if (self->gates[0] == NULL || self->gates[1] == NULL)
        g_clear_pointer (&self->cell, mp_sync_cell_unref);
    }
}

static void
mp_condition_class_init (MpConditionClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = mp_condition_constructed;
  G_OBJECT_CLASS (klass)->finalize = mp_condition_finalize;
}

static void
mp_condition_init (MpCondition *self)
{
}

/* Takes @cell, @gates and @lock. */
static MpCondition *
condition_new (MpSyncCell *cell,
               MpSyncCell *gate0,
               MpSyncCell *gate1,
               GObject    *lock)
{
  MpCondition *self;

  if (cell == NULL || gate0 == NULL || gate1 == NULL || lock == NULL)
    {
      g_clear_pointer (&cell, mp_sync_cell_unref);
      g_clear_pointer (&gate0, mp_sync_cell_unref);
      g_clear_pointer (&gate1, mp_sync_cell_unref);
      g_clear_object (&lock);
      return NULL;
    }
  mp_sync_cell_hand_over (cell);
  self = g_object_new (MP_TYPE_CONDITION, NULL);
  self->gates[0] = gate0;
  self->gates[1] = gate1;
  self->lock = lock;
  return self;
}

/**
 * mp_condition_new:
 * @lock: (nullable): an #MpLock or #MpRLock, or %NULL for a new #MpRLock
 * @error: return location for a #GError
 *
 * A new condition variable that waits with @lock.
 *
 * Returns: (transfer full): the condition, or %NULL with @error set
 */
MpCondition *
mp_condition_new (GObject  *lock,
                  GError  **error)
{
  g_autoptr(GObject) own_lock = NULL;
  MpSyncCell *cell;

  g_return_val_if_fail (lock == NULL || G_IS_OBJECT (lock), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (lock != NULL && !MP_IS_LOCK (lock) && !MP_IS_RLOCK (lock))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A condition needs an MpLock or an MpRLock, not a %s"), G_OBJECT_TYPE_NAME (lock));
      return NULL;
    }
  own_lock = lock != NULL ? g_object_ref (lock) : G_OBJECT (mp_rlock_new (error));
  if (own_lock == NULL)
    return NULL;
  cell = mp_sync_cell_new (MP_SYNC_KIND_CONDITION, 0, error);
  if (cell == NULL)
    return NULL;
  return condition_new (cell, mp_sync_cell_new (MP_SYNC_KIND_CONDITION, 0, error),
                        mp_sync_cell_new (MP_SYNC_KIND_CONDITION, 0, error),
                        g_steal_pointer (&own_lock));
}

/**
 * mp_condition_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a condition,
 *   as received
 * @error: return location for a #GError
 *
 * The condition (and its lock) that @reference stands for, in this
 * process.
 *
 * Returns: (transfer full): the condition, or %NULL with @error set
 */
MpCondition *
mp_condition_new_from_variant (GVariant  *reference,
                               GError   **error)
{
  g_autoptr(GVariant) extra = NULL;
  g_autoptr(GVariant) lock_reference = NULL;
  g_autoptr(GVariant) gate0_reference = NULL;
  g_autoptr(GVariant) gate1_reference = NULL;
  g_autoptr(MpShareable) lock = NULL;
  MpSyncCell *cell, *gate0 = NULL, *gate1 = NULL;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  cell = mp_sync_cell_new_from_variant (reference, "mp:condition", MP_SYNC_KIND_CONDITION,
                                        &extra, error);
  if (cell == NULL)
    return NULL;
  if (!g_variant_is_of_type (extra, G_VARIANT_TYPE ("(vvv)")))
    {
      mp_sync_cell_unref (cell);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The reference of a condition is malformed"));
      return NULL;
    }
  g_variant_get (extra, "(vvv)", &lock_reference, &gate0_reference, &gate1_reference);
  lock = mp_shareable_new_from_variant (lock_reference, error);
  if (lock != NULL && !MP_IS_LOCK (lock) && !MP_IS_RLOCK (lock))
    {
      g_clear_object (&lock);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The reference of a condition does not hold a lock"));
    }
  if (lock != NULL)
    gate0 = mp_sync_cell_new_from_variant (gate0_reference, "mp:condition-gate",
                                           MP_SYNC_KIND_CONDITION, NULL, error);
  if (gate0 != NULL)
    gate1 = mp_sync_cell_new_from_variant (gate1_reference, "mp:condition-gate",
                                           MP_SYNC_KIND_CONDITION, NULL, error);
  return condition_new (cell, gate0, gate1, G_OBJECT (g_steal_pointer (&lock)));
}

/**
 * mp_condition_get_lock:
 * @self: an #MpCondition
 *
 * The lock that the condition waits with.
 *
 * Returns: (transfer none): an #MpLock or #MpRLock
 */
GObject *
mp_condition_get_lock (MpCondition *self)
{
  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, NULL);

  return self->lock;
}

/**
 * mp_condition_acquire:
 * @self: an #MpCondition
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Acquires the condition's lock (see mp_lock_acquire()).
 *
 * Returns: %TRUE when the caller holds the lock
 */
gboolean
mp_condition_acquire (MpCondition   *self,
                      double         timeout,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);

  if (MP_IS_LOCK (self->lock))
    return mp_lock_acquire (MP_LOCK (self->lock), timeout, cancellable, error);
  return mp_rlock_acquire (MP_RLOCK (self->lock), timeout, cancellable, error);
}

/**
 * mp_condition_release:
 * @self: an #MpCondition
 * @error: return location for a #GError
 *
 * Releases the condition's lock.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE
 */
gboolean
mp_condition_release (MpCondition  *self,
                      GError      **error)
{
  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);

  if (MP_IS_LOCK (self->lock))
    return mp_lock_release (MP_LOCK (self->lock), error);
  return mp_rlock_release (MP_RLOCK (self->lock), error);
}

static gboolean
check_holder (MpCondition  *self,
              GError      **error)
{
  if (mp_lockable_is_mine (self->lock))
    return TRUE;
  g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                       _("The condition's lock is not held by this thread"));
  return FALSE;
}

/* Counts the caller as a waiter and lets go of the lock. */
static guint
begin_wait (MpCondition *self,
            Waiting     *waiting)
{
  MpSyncShared *shared = mp_sync_cell_shared (self->cell);

  waiting->self = self;
  waiting->taken = FALSE;
  mp_sync_cell_guard (self->cell);
  UNPICKED (shared)++;
  waiting->epoch = EPOCH (shared);
  mp_sync_cell_unguard (self->cell);
  return mp_lockable_release_save (self->lock);
}

static gint64
gate_deadline (gint64 deadline)
{
  gint64 recheck = g_get_monotonic_time () + GATE_RECHECK_US;

  return deadline >= 0 && deadline < recheck ? deadline : recheck;
}

/* A gate wait that ran out of time: looks again, unless the caller's own
 * deadline passed or it was cancelled (then it gives up as a waiter). */
static gboolean
gate_wait_ended (Waiting       *waiting,
                 gint64         deadline,
                 GError       **wait_error)
{
  if (g_error_matches (*wait_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
      (deadline < 0 || g_get_monotonic_time () < deadline))
    {
      g_clear_error (wait_error);
      return FALSE;
    }
  if (stop_waiting (waiting->self->cell, waiting, wait_error) == MP_SYNC_DONE)
    g_clear_error (wait_error);
  return TRUE;
}

static gboolean
wait_at_gate (Waiting       *waiting,
              gint64         deadline,
              GCancellable  *cancellable,
              GError       **wait_error)
{
  MpSyncCell *gate = waiting->self->gates[waiting->epoch % 2];

  for (;;)
    {
      if (mp_sync_cell_wait (gate, &gate_funcs, waiting, gate_deadline (deadline), cancellable, wait_error))
        return TRUE;
      if (gate_wait_ended (waiting, deadline, wait_error))
        return *wait_error == NULL;
    }
}

/* The waiter holds the lock again however the wait ended; a report that
 * the lock's holder died wins over the wait's own outcome. */
static gboolean
end_wait (MpCondition  *self,
          guint         saved,
          gboolean      woken,
          GError      **wait_error,
          GError      **error)
{
  g_autoptr(GError) lock_error = NULL;

  mp_sync_cell_wait (mp_lockable_get_cell (self->lock), &mp_lock_word_acquire_funcs, NULL,
                     -1, NULL, &lock_error);
  mp_lockable_restore (self->lock, saved);
  if (lock_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&lock_error));
      g_clear_error (wait_error);
      return FALSE;
    }
  if (!woken)
    {
      g_propagate_error (error, g_steal_pointer (wait_error));
      return FALSE;
    }
  return TRUE;
}

/**
 * mp_condition_wait:
 * @self: an #MpCondition
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Releases the lock (all levels of an #MpRLock), waits for a notification
 * and takes the lock again, however the wait ends.
 *
 * Returns: %TRUE when notified; %FALSE with %G_IO_ERROR_TIMED_OUT,
 *   %G_IO_ERROR_CANCELLED, %MP_ERROR_INVALID_STATE when the caller does not
 *   hold the lock, or %MP_ERROR_OWNER_DIED
 */
gboolean
mp_condition_wait (MpCondition   *self,
                   double         timeout,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GError) wait_error = NULL;
  Waiting waiting;
  gint64 deadline;
  gboolean woken;
  guint saved;

  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_holder (self, error))
    return FALSE;
  deadline = mp_deadline_from_timeout (timeout);
  saved = begin_wait (self, &waiting);
  woken = wait_at_gate (&waiting, deadline, cancellable, &wait_error) &&
          (waiting.taken ||
           mp_sync_cell_wait (self->cell, &wait_funcs, &waiting, deadline, cancellable, &wait_error));
  return end_wait (self, saved, woken, &wait_error, error);
}

typedef struct
{
  Waiting      waiting;
  gint64       deadline;
  guint        saved;
  gboolean     woken;
  GError      *wait_error;
} WaitData;

static void
wait_data_free (WaitData *data)
{
  g_clear_error (&data->wait_error);
  g_free (data);
}

static void
relocked_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WaitData *data = g_task_get_task_data (task);
  GError *lock_error = NULL;

  g_task_propagate_boolean (G_TASK (result), &lock_error);
  mp_lockable_restore (data->waiting.self->lock, data->saved);
  if (lock_error != NULL)
    g_task_return_error (task, lock_error);
  else if (!data->woken)
    g_task_return_error (task, g_steal_pointer (&data->wait_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void relock_async (GTask *task);

static void
woken_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WaitData *data = g_task_get_task_data (task);

  data->woken = g_task_propagate_boolean (G_TASK (result), &data->wait_error);
  relock_async (task);
}

static void gate_passed_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
wait_at_gate_async (GTask *task)
{
  WaitData *data = g_task_get_task_data (task);
  MpCondition *self = data->waiting.self;
  g_autoptr(GTask) wait = g_task_new (self, g_task_get_cancellable (task), gate_passed_cb, g_object_ref (task));

  g_task_set_check_cancellable (wait, FALSE);
  g_task_set_task_data (wait, &data->waiting, NULL);
  mp_sync_cell_wait_async (self->gates[data->waiting.epoch % 2], &gate_funcs, wait,
                           gate_deadline (data->deadline));
}

/* Past the gate: waits for a notification unless it took one there. */
static void
gate_passed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  WaitData *data = g_task_get_task_data (task);
  g_autoptr(GTask) wait = NULL;

  data->woken = g_task_propagate_boolean (G_TASK (result), &data->wait_error);
  if (!data->woken)
    {
      if (!gate_wait_ended (&data->waiting, data->deadline, &data->wait_error))
        {
          wait_at_gate_async (task);
          return;
        }
      data->woken = data->wait_error == NULL;
    }
  if (!data->woken || data->waiting.taken)
    {
      relock_async (task);
      return;
    }
  wait = g_task_new (data->waiting.self, g_task_get_cancellable (task), woken_cb, g_object_ref (task));
  g_task_set_check_cancellable (wait, FALSE);
  g_task_set_task_data (wait, &data->waiting, NULL);
  mp_sync_cell_wait_async (data->waiting.self->cell, &wait_funcs, wait, data->deadline);
}

static void
relock_async (GTask *task)
{
  WaitData *data = g_task_get_task_data (task);
  g_autoptr(GTask) relock = NULL;

  /* Not cancellable: the caller gets the lock back in any case. */
  relock = g_task_new (data->waiting.self, NULL, relocked_cb, g_object_ref (task));
  g_task_set_check_cancellable (relock, FALSE);
  mp_sync_cell_wait_async (mp_lockable_get_cell (data->waiting.self->lock), &mp_lock_word_acquire_funcs,
                           relock, -1);
}

/**
 * mp_condition_wait_async:
 * @self: an #MpCondition
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once the lock is held again
 * @user_data: data for @callback
 *
 * mp_condition_wait() without blocking the main loop. The caller must hold
 * the lock; the thread that runs the main loop holds it again afterwards.
 */
void
mp_condition_wait_async (MpCondition         *self,
                         double               timeout,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) wait = NULL;
  GError *error = NULL;
  WaitData *data;

  g_return_if_fail (MP_IS_CONDITION (self) && self->cell != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_condition_wait_async);
  if (!check_holder (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  data = g_new0 (WaitData, 1);
  data->deadline = mp_deadline_from_timeout (timeout);
  g_task_set_task_data (task, data, (GDestroyNotify) wait_data_free);
  data->saved = begin_wait (self, &data->waiting);
  wait_at_gate_async (task);
}

/**
 * mp_condition_wait_finish:
 * @self: an #MpCondition
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_condition_wait_async(); the lock is held again either way.
 *
 * Returns: %TRUE when notified
 */
gboolean
mp_condition_wait_finish (MpCondition   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mp_condition_wait_for:
 * @self: an #MpCondition
 * @predicate: (scope call): the awaited state, tested with the lock held
 * @user_data: data for @predicate
 * @timeout: seconds to wait at most in all; negative waits for as long as
 *   it takes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until @predicate returns %TRUE, testing it first and after each
 * notification.
 *
 * Returns: %TRUE when @predicate returned %TRUE; %FALSE with an error as
 *   for mp_condition_wait() otherwise
 */
gboolean
mp_condition_wait_for (MpCondition           *self,
                       MpConditionPredicate   predicate,
                       gpointer               user_data,
                       double                 timeout,
                       GCancellable          *cancellable,
                       GError               **error)
{
  gint64 deadline;

  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (predicate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  deadline = mp_deadline_from_timeout (timeout);
  while (!predicate (user_data))
    {
      double left = -1;

      if (deadline >= 0)
        left = MAX (0, (double) (deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC);
      if (!mp_condition_wait (self, left, cancellable, error))
        {
          /* Timed out: the state may have come in the meantime. */
          if (predicate (user_data))
            {
              g_clear_error (error);
              return TRUE;
            }
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
notify (MpCondition  *self,
        guint64       n,
        GError      **error)
{
  MpSyncShared *shared = mp_sync_cell_shared (self->cell);
  guint64 picked;

  if (!check_holder (self, error))
    return FALSE;
  mp_sync_cell_guard (self->cell);
  picked = MIN (n, UNPICKED (shared));
  if (picked > 0)
    {
      UNPICKED (shared) -= picked;
      NOTIFIED (shared) += picked;
      EPOCH (shared)++;
    }
  mp_sync_cell_unguard (self->cell);
  if (picked > 0)
    {
      mp_sync_cell_wake (self->cell);
      open_gates (self);
    }
  return TRUE;
}

/**
 * mp_condition_notify:
 * @self: an #MpCondition
 * @n: how many waiters to wake
 * @error: return location for a #GError
 *
 * Wakes @n of the waiters (fewer if fewer wait). The caller must hold the
 * lock.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE when the caller
 *   does not hold the lock
 */
gboolean
mp_condition_notify (MpCondition  *self,
                     guint         n,
                     GError      **error)
{
  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return notify (self, n, error);
}

/**
 * mp_condition_notify_all:
 * @self: an #MpCondition
 * @error: return location for a #GError
 *
 * Wakes every waiter. The caller must hold the lock.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE
 */
gboolean
mp_condition_notify_all (MpCondition  *self,
                         GError      **error)
{
  g_return_val_if_fail (MP_IS_CONDITION (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return notify (self, G_MAXUINT64, error);
}
