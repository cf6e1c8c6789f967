/* mp-lock.c: a lock shared between processes
 *
 * The lock is one atomic word in a shared cell: taking a free lock is a
 * compare-and-swap, releasing it an exchange and, only when somebody
 * sleeps, a write to the cell's eventfd. The word names the holder, so
 * that a waiter can watch the holder's process and take the lock over,
 * with an owner-died report, when it dies holding it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-lock-private.h"
#include "mp-wire-private.h"

/**
 * MpLock:
 *
 * Python's `multiprocessing.Lock`: a non-recursive lock that every process
 * holding a reference to it shares (pass it in task arguments, process
 * properties, pipes or queues). Any process or thread may release it.
 *
 * Unlike Python's, it survives its holder: when a process dies holding
 * the lock, the next acquirer gets it together with %MP_ERROR_OWNER_DIED
 * instead of waiting forever.
 */
struct _MpLock
{
  GObject      parent_instance;
  MpSyncCell  *cell;
};

static void mp_lock_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpLock, mp_lock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_lock_shareable_init))

/* ---- the holder word, shared with MpRLock --------------------------------- */

MpSyncStatus
mp_lock_word_attempt (MpSyncCell  *cell,
                      gpointer     data,
                      pid_t       *watch,
                      GError     **error)
{
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  guint64 self_id = mp_sync_self_id ();

  for (;;)
    {
      guint64 word = __atomic_load_n (&shared->word, __ATOMIC_ACQUIRE);

      if (word == 0)
        {
          if (__atomic_compare_exchange_n (&shared->word, &word, self_id, FALSE,
                                           __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            return MP_SYNC_DONE;
          continue;
        }
      if (word == MP_LOCK_WORD_DIED)
        {
          pid_t dead = (pid_t) __atomic_load_n (&shared->state[0], __ATOMIC_RELAXED);
          if (!__atomic_compare_exchange_n (&shared->word, &word, self_id, FALSE,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            continue;
          g_set_error (error, MP_ERROR, MP_ERROR_OWNER_DIED,
                       _("Process %d died holding the lock; the lock is now held by this caller, "
                         "and the data it protects may be inconsistent"), (int) dead);
          return MP_SYNC_FAILED;
        }
      *watch = MP_SYNC_ID_PID (word);
      return MP_SYNC_WAIT;
    }
}

void
mp_lock_word_holder_died (MpSyncCell *cell,
                  gpointer    data,
                  pid_t       pid)
{
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  guint64 word = __atomic_load_n (&shared->word, __ATOMIC_ACQUIRE);

  while (word > MP_LOCK_WORD_DIED && MP_SYNC_ID_PID (word) == pid)
    {
      __atomic_store_n (&shared->state[0], (guint64) pid, __ATOMIC_RELAXED);
      if (__atomic_compare_exchange_n (&shared->word, &word, MP_LOCK_WORD_DIED, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        break;
    }
}

const MpSyncWaitFuncs mp_lock_word_acquire_funcs = {
  .attempt = mp_lock_word_attempt,
  .holder_died = mp_lock_word_holder_died,
};

/* ---- the lock ------------------------------------------------------------- */

static GVariant *
mp_lock_to_variant (MpShareable *shareable)
{
  return mp_sync_cell_to_variant (MP_LOCK (shareable)->cell, "mp:lock", NULL);
}

static void
mp_lock_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_lock_to_variant;
}

static void
mp_lock_finalize (GObject *object)
{
  MpLock *self = MP_LOCK (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  G_OBJECT_CLASS (mp_lock_parent_class)->finalize (object);
}

static void
mp_lock_constructed (GObject *object)
{
  MpLock *self = MP_LOCK (object);

  G_OBJECT_CLASS (mp_lock_parent_class)->constructed (object);
  self->cell = mp_sync_cell_take_handed ();
  if (self->cell == NULL)
    self->cell = mp_sync_cell_new_default (MP_SYNC_KIND_LOCK);
}

static void
mp_lock_class_init (MpLockClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = mp_lock_constructed;
  G_OBJECT_CLASS (klass)->finalize = mp_lock_finalize;
}

static void
mp_lock_init (MpLock *self)
{
}

static MpLock *
lock_new_for_cell (MpSyncCell *cell)
{
  MpLock *self;

  if (cell == NULL)
    return NULL;
  mp_sync_cell_hand_over (cell);
  self = g_object_new (MP_TYPE_LOCK, NULL);
  return self;
}

/**
 * mp_lock_new:
 * @error: return location for a #GError
 *
 * A new lock, free, in shared memory of its own.
 *
 * Returns: (transfer full): the lock, or %NULL with @error set when the
 *   system is out of descriptors or memory
 */
MpLock *
mp_lock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return lock_new_for_cell (mp_sync_cell_new (MP_SYNC_KIND_LOCK, 0, error));
}

/**
 * mp_lock_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a lock, as
 *   received
 * @error: return location for a #GError
 *
 * The lock that @reference stands for, in this process.
 *
 * Returns: (transfer full): the lock, or %NULL with @error set when
 *   @reference is not a lock's
 */
MpLock *
mp_lock_new_from_variant (GVariant  *reference,
                          GError   **error)
{
  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return lock_new_for_cell (mp_sync_cell_new_from_variant (reference, "mp:lock", MP_SYNC_KIND_LOCK,
                                                           NULL, error));
}

/**
 * mp_lock_acquire:
 * @self: an #MpLock
 * @timeout: seconds to wait at most; negative waits for as long as it
 *   takes, 0 only tries
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the lock, waiting for it while another thread or process holds it.
 * The lock is not recursive: a thread that holds it and acquires it again
 * waits for itself (use #MpRLock for that).
 *
 * When the process that held the lock died holding it, this call takes the
 * lock and fails with %MP_ERROR_OWNER_DIED: the caller holds the lock and
 * should check the data it protects, then release it as usual.
 *
 * Returns: %TRUE when the caller holds the lock; %FALSE with
 *   %G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED or %MP_ERROR_OWNER_DIED
 *   (the lock is held then)
 */
gboolean
mp_lock_acquire (MpLock        *self,
                 double         timeout,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_return_val_if_fail (MP_IS_LOCK (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (mp_lock_word_try_take (mp_sync_cell_shared (self->cell)))
    return TRUE;

  return mp_sync_cell_wait (self->cell, &mp_lock_word_acquire_funcs, NULL,
                            mp_deadline_from_timeout (timeout), cancellable, error);
}

/**
 * mp_lock_acquire_async:
 * @self: an #MpLock
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once the lock is held or the wait failed
 * @user_data: data for @callback
 *
 * Takes the lock without blocking the main loop: the wait is a watch on a
 * descriptor, no thread. The thread that runs the main loop holds the lock
 * afterwards. See mp_lock_acquire().
 */
void
mp_lock_acquire_async (MpLock              *self,
                       double               timeout,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_LOCK (self) && self->cell != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_lock_acquire_async);
  mp_sync_cell_wait_async (self->cell, &mp_lock_word_acquire_funcs, task,
                           mp_deadline_from_timeout (timeout));
}

/**
 * mp_lock_acquire_finish:
 * @self: an #MpLock
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_lock_acquire_async().
 *
 * Returns: %TRUE when the caller holds the lock; %FALSE with an error as
 *   for mp_lock_acquire()
 */
gboolean
mp_lock_acquire_finish (MpLock        *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mp_lock_release:
 * @self: an #MpLock
 * @error: return location for a #GError
 *
 * Releases the lock, which any thread of any process may do, and wakes one
 * waiter.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE when the lock is
 *   not held
 */
gboolean
mp_lock_release (MpLock  *self,
                 GError **error)
{
  MpSyncShared *shared;
  guint64 word;

  g_return_val_if_fail (MP_IS_LOCK (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shared = mp_sync_cell_shared (self->cell);
  word = __atomic_load_n (&shared->word, __ATOMIC_RELAXED);
  while (word > MP_LOCK_WORD_DIED)
    {
      if (__atomic_compare_exchange_n (&shared->word, &word, 0, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        {
          mp_sync_cell_wake (self->cell);
          return TRUE;
        }
    }
  g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                       _("Cannot release a lock that is not held"));
  return FALSE;
}

/**
 * mp_lock_is_locked:
 * @self: an #MpLock
 *
 * Whether some thread of some process holds the lock right now (Python's
 * `locked()`); by the time the caller looks, that may have changed.
 *
 * Returns: %TRUE when the lock is held
 */
gboolean
mp_lock_is_locked (MpLock *self)
{
  g_return_val_if_fail (MP_IS_LOCK (self) && self->cell != NULL, FALSE);

  return __atomic_load_n (&mp_sync_cell_shared (self->cell)->word, __ATOMIC_ACQUIRE) > MP_LOCK_WORD_DIED;
}

MpSyncCell *
mp_lock_get_cell (MpLock *self)
{
  return self->cell;
}

/* ---- what a condition needs of a lock ------------------------------------ */

gboolean
mp_lockable_is_mine (GObject *lock)
{
  MpSyncCell *cell = mp_lockable_get_cell (lock);

  return __atomic_load_n (&mp_sync_cell_shared (cell)->word, __ATOMIC_ACQUIRE) == mp_sync_self_id ();
}

MpSyncCell *
mp_lockable_get_cell (GObject *lock)
{
  return MP_IS_LOCK (lock) ? MP_LOCK (lock)->cell : mp_rlock_get_cell (MP_RLOCK (lock));
}

guint
mp_lockable_release_save (GObject *lock)
{
  MpSyncCell *cell = mp_lockable_get_cell (lock);
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  /* An RLock keeps its count in state[1]; a Lock's is always 1. */
  guint saved = MP_IS_RLOCK (lock) ? (guint) shared->state[1] : 1;

  shared->state[1] = 0;
  __atomic_store_n (&shared->word, 0, __ATOMIC_SEQ_CST);
  mp_sync_cell_wake (cell);
  return saved;
}

void
mp_lockable_restore (GObject *lock,
                     guint    saved)
{
  if (MP_IS_RLOCK (lock))
    mp_sync_cell_shared (mp_lockable_get_cell (lock))->state[1] = saved;
}
