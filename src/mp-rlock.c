/* mp-rlock.c: a recursive lock shared between processes
 *
 * The holder word of MpLock (mp-lock-private.h) plus a count that only the
 * holder touches, in the cell's state[1].
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-lock-private.h"
#include "mp-wire-private.h"

/**
 * MpRLock:
 *
 * Python's `multiprocessing.RLock`: a lock that the thread holding it may
 * acquire again; it is free once that thread released it as many times.
 * Only the holder may release it. Like #MpLock, it is shared with every
 * process that gets a reference, and a holder that dies hands it on with
 * %MP_ERROR_OWNER_DIED.
 */
struct _MpRLock
{
  GObject      parent_instance;
  MpSyncCell  *cell;
};

static void mp_rlock_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpRLock, mp_rlock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_rlock_shareable_init))

#define COUNT(shared) ((shared)->state[1])

/* Taking the word makes the count 1, in the same step, so that nothing
 * that runs between an async acquire and its callback sees 0. */
static MpSyncStatus
rlock_attempt (MpSyncCell  *cell,
               gpointer     data,
               pid_t       *watch,
               GError     **error)
{
  MpSyncStatus status = mp_lock_word_attempt (cell, data, watch, error);

  if (status == MP_SYNC_DONE ||
      (status == MP_SYNC_FAILED && g_error_matches (*error, MP_ERROR, MP_ERROR_OWNER_DIED)))
    COUNT (mp_sync_cell_shared (cell)) = 1;
  return status;
}

static const MpSyncWaitFuncs rlock_funcs = {
  .attempt = rlock_attempt,
  .holder_died = mp_lock_word_holder_died,
};

static GVariant *
mp_rlock_to_variant (MpShareable *shareable)
{
  return mp_sync_cell_to_variant (MP_RLOCK (shareable)->cell, "mp:rlock", NULL);
}

static void
mp_rlock_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_rlock_to_variant;
}

static void
mp_rlock_finalize (GObject *object)
{
  MpRLock *self = MP_RLOCK (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  G_OBJECT_CLASS (mp_rlock_parent_class)->finalize (object);
}

static void
mp_rlock_constructed (GObject *object)
{
  MpRLock *self = MP_RLOCK (object);

  G_OBJECT_CLASS (mp_rlock_parent_class)->constructed (object);
  self->cell = mp_sync_cell_take_handed ();
  if (self->cell == NULL)
    self->cell = mp_sync_cell_new_default (MP_SYNC_KIND_RLOCK);
}

static void
mp_rlock_class_init (MpRLockClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = mp_rlock_constructed;
  G_OBJECT_CLASS (klass)->finalize = mp_rlock_finalize;
}

static void
mp_rlock_init (MpRLock *self)
{
}

static MpRLock *
rlock_new_for_cell (MpSyncCell *cell)
{
  MpRLock *self;

  if (cell == NULL)
    return NULL;
  mp_sync_cell_hand_over (cell);
  self = g_object_new (MP_TYPE_RLOCK, NULL);
  return self;
}

/**
 * mp_rlock_new:
 * @error: return location for a #GError
 *
 * A new recursive lock, free, in shared memory of its own.
 *
 * Returns: (transfer full): the lock, or %NULL with @error set when the
 *   system is out of descriptors or memory
 */
MpRLock *
mp_rlock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return rlock_new_for_cell (mp_sync_cell_new (MP_SYNC_KIND_RLOCK, 0, error));
}

/**
 * mp_rlock_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a recursive
 *   lock, as received
 * @error: return location for a #GError
 *
 * The recursive lock that @reference stands for, in this process.
 *
 * Returns: (transfer full): the lock, or %NULL with @error set when
 *   @reference is not a recursive lock's
 */
MpRLock *
mp_rlock_new_from_variant (GVariant  *reference,
                           GError   **error)
{
  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return rlock_new_for_cell (mp_sync_cell_new_from_variant (reference, "mp:rlock", MP_SYNC_KIND_RLOCK,
                                                            NULL, error));
}

static gboolean
acquire_again (MpRLock *self)
{
  MpSyncShared *shared = mp_sync_cell_shared (self->cell);

  if (__atomic_load_n (&shared->word, __ATOMIC_ACQUIRE) != mp_sync_self_id ())
    return FALSE;
  COUNT (shared)++;
  return TRUE;
}

/**
 * mp_rlock_acquire:
 * @self: an #MpRLock
 * @timeout: seconds to wait at most; negative waits for as long as it
 *   takes, 0 only tries
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the lock, or counts one more acquisition when the calling thread
 * holds it already. Errors as for mp_lock_acquire(): with
 * %MP_ERROR_OWNER_DIED the caller holds the lock once.
 *
 * Returns: %TRUE when the caller holds the lock
 */
gboolean
mp_rlock_acquire (MpRLock       *self,
                  double         timeout,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_return_val_if_fail (MP_IS_RLOCK (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (acquire_again (self))
    return TRUE;
  if (mp_lock_word_try_take (mp_sync_cell_shared (self->cell)))
    {
      COUNT (mp_sync_cell_shared (self->cell)) = 1;
      return TRUE;
    }
  return mp_sync_cell_wait (self->cell, &rlock_funcs, NULL, mp_deadline_from_timeout (timeout),
                            cancellable, error);
}

/**
 * mp_rlock_acquire_async:
 * @self: an #MpRLock
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once the lock is held or the wait failed
 * @user_data: data for @callback
 *
 * Takes the lock without blocking the main loop; the thread that runs the
 * loop holds it afterwards. See mp_rlock_acquire().
 */
void
mp_rlock_acquire_async (MpRLock             *self,
                        double               timeout,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_RLOCK (self) && self->cell != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_rlock_acquire_async);
  if (acquire_again (self))
    g_task_return_boolean (task, TRUE);
  else
    mp_sync_cell_wait_async (self->cell, &rlock_funcs, task, mp_deadline_from_timeout (timeout));
}

/**
 * mp_rlock_acquire_finish:
 * @self: an #MpRLock
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_rlock_acquire_async().
 *
 * Returns: %TRUE when the caller holds the lock
 */
gboolean
mp_rlock_acquire_finish (MpRLock       *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mp_rlock_release:
 * @self: an #MpRLock
 * @error: return location for a #GError
 *
 * Counts one release; the last one frees the lock and wakes a waiter.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE when the calling
 *   thread does not hold the lock
 */
gboolean
mp_rlock_release (MpRLock  *self,
                  GError  **error)
{
  MpSyncShared *shared;

  g_return_val_if_fail (MP_IS_RLOCK (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shared = mp_sync_cell_shared (self->cell);
  if (__atomic_load_n (&shared->word, __ATOMIC_ACQUIRE) != mp_sync_self_id ())
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("Cannot release a recursive lock that this thread does not hold"));
      return FALSE;
    }
  if (--COUNT (shared) > 0)
    return TRUE;
  __atomic_store_n (&shared->word, 0, __ATOMIC_SEQ_CST);
  mp_sync_cell_wake (self->cell);
  return TRUE;
}

/**
 * mp_rlock_is_owned:
 * @self: an #MpRLock
 *
 * Whether the calling thread holds the lock.
 *
 * Returns: %TRUE when it does
 */
gboolean
mp_rlock_is_owned (MpRLock *self)
{
  g_return_val_if_fail (MP_IS_RLOCK (self) && self->cell != NULL, FALSE);

  return __atomic_load_n (&mp_sync_cell_shared (self->cell)->word, __ATOMIC_ACQUIRE) == mp_sync_self_id ();
}

/**
 * mp_rlock_get_count:
 * @self: an #MpRLock
 *
 * How many times the calling thread holds the lock.
 *
 * Returns: the count, 0 when the calling thread does not hold it
 */
guint
mp_rlock_get_count (MpRLock *self)
{
  g_return_val_if_fail (MP_IS_RLOCK (self) && self->cell != NULL, 0);

  return mp_rlock_is_owned (self) ? (guint) COUNT (mp_sync_cell_shared (self->cell)) : 0;
}

MpSyncCell *
mp_rlock_get_cell (MpRLock *self)
{
  return self->cell;
}
