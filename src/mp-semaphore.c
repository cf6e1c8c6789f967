/* mp-semaphore.c: a counting semaphore shared between processes
 *
 * The count is the cell's atomic word; a bounded semaphore keeps its
 * bound in state[0]. Semaphores have no holder, so a process that dies
 * after acquiring simply never releases (as in Python).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-sync-private.h"
#include "mp-wire-private.h"

/**
 * MpSemaphore:
 *
 * Python's `multiprocessing.Semaphore` and `BoundedSemaphore`: a count that
 * acquire takes one from, waiting while it is 0, and release gives one
 * back to. A bounded semaphore refuses to be released above its initial
 * value.
 */
struct _MpSemaphore
{
  GObject      parent_instance;
  MpSyncCell  *cell;
};

static void mp_semaphore_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpSemaphore, mp_semaphore, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_semaphore_shareable_init))

#define BOUND(shared) ((shared)->state[0])   /* 0: unbounded */

static MpSyncStatus
take_one (MpSyncCell  *cell,
          gpointer     data,
          pid_t       *watch,
          GError     **error)
{
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  guint64 value = __atomic_load_n (&shared->word, __ATOMIC_ACQUIRE);

  while (value > 0)
    if (__atomic_compare_exchange_n (&shared->word, &value, value - 1, FALSE,
                                     __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
      return value > 1 ? MP_SYNC_DONE_PASS_ON : MP_SYNC_DONE;
  return MP_SYNC_WAIT;
}

static const MpSyncWaitFuncs acquire_funcs = {
  .attempt = take_one,
};

static GVariant *
mp_semaphore_to_variant (MpShareable *shareable)
{
  return mp_sync_cell_to_variant (MP_SEMAPHORE (shareable)->cell, "mp:semaphore", NULL);
}

static void
mp_semaphore_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_semaphore_to_variant;
}

static void
mp_semaphore_finalize (GObject *object)
{
  MpSemaphore *self = MP_SEMAPHORE (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  G_OBJECT_CLASS (mp_semaphore_parent_class)->finalize (object);
}

static void
mp_semaphore_constructed (GObject *object)
{
  MpSemaphore *self = MP_SEMAPHORE (object);

  G_OBJECT_CLASS (mp_semaphore_parent_class)->constructed (object);
  self->cell = mp_sync_cell_take_handed ();
  if (self->cell == NULL)
    {
      /* Python's Semaphore() counts 1. */
      self->cell = mp_sync_cell_new_default (MP_SYNC_KIND_SEMAPHORE);
      if (self->cell != NULL)
        __atomic_store_n (&mp_sync_cell_shared (self->cell)->word, 1, __ATOMIC_RELEASE);
    }
}

static void
mp_semaphore_class_init (MpSemaphoreClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = mp_semaphore_constructed;
  G_OBJECT_CLASS (klass)->finalize = mp_semaphore_finalize;
}

static void
mp_semaphore_init (MpSemaphore *self)
{
}

static MpSemaphore *
semaphore_new_for_cell (MpSyncCell *cell)
{
  MpSemaphore *self;

  if (cell == NULL)
    return NULL;
  mp_sync_cell_hand_over (cell);
  self = g_object_new (MP_TYPE_SEMAPHORE, NULL);
  return self;
}

/**
 * mp_semaphore_new:
 * @value: the initial count
 * @bounded: whether release may not raise the count above @value
 *   (Python's `BoundedSemaphore`)
 * @error: return location for a #GError
 *
 * A new semaphore in shared memory of its own.
 *
 * Returns: (transfer full): the semaphore, or %NULL with @error set
 */
MpSemaphore *
mp_semaphore_new (guint      value,
                  gboolean   bounded,
                  GError   **error)
{
  MpSyncCell *cell;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (bounded && value == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A bounded semaphore needs an initial value above 0"));
      return NULL;
    }
  cell = mp_sync_cell_new (MP_SYNC_KIND_SEMAPHORE, 0, error);
  if (cell == NULL)
    return NULL;
  mp_sync_cell_shared (cell)->word = value;
  BOUND (mp_sync_cell_shared (cell)) = bounded ? value : 0;
  return semaphore_new_for_cell (cell);
}

/**
 * mp_semaphore_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a semaphore,
 *   as received
 * @error: return location for a #GError
 *
 * The semaphore that @reference stands for, in this process.
 *
 * Returns: (transfer full): the semaphore, or %NULL with @error set
 */
MpSemaphore *
mp_semaphore_new_from_variant (GVariant  *reference,
                               GError   **error)
{
  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return semaphore_new_for_cell (mp_sync_cell_new_from_variant (reference, "mp:semaphore",
                                                                MP_SYNC_KIND_SEMAPHORE, NULL, error));
}

/**
 * mp_semaphore_acquire:
 * @self: an #MpSemaphore
 * @timeout: seconds to wait at most; negative waits for as long as it
 *   takes, 0 only tries
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes one from the count, waiting while it is 0.
 *
 * Returns: %TRUE when one was taken; %FALSE with %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mp_semaphore_acquire (MpSemaphore   *self,
                      double         timeout,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_return_val_if_fail (MP_IS_SEMAPHORE (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mp_sync_cell_wait (self->cell, &acquire_funcs, NULL, mp_deadline_from_timeout (timeout),
                            cancellable, error);
}

/**
 * mp_semaphore_acquire_async:
 * @self: an #MpSemaphore
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once one was taken or the wait failed
 * @user_data: data for @callback
 *
 * Takes one from the count without blocking the main loop.
 */
void
mp_semaphore_acquire_async (MpSemaphore         *self,
                            double               timeout,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_SEMAPHORE (self) && self->cell != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_semaphore_acquire_async);
  mp_sync_cell_wait_async (self->cell, &acquire_funcs, task, mp_deadline_from_timeout (timeout));
}

/**
 * mp_semaphore_acquire_finish:
 * @self: an #MpSemaphore
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_semaphore_acquire_async().
 *
 * Returns: %TRUE when one was taken
 */
gboolean
mp_semaphore_acquire_finish (MpSemaphore   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mp_semaphore_release:
 * @self: an #MpSemaphore
 * @error: return location for a #GError
 *
 * Gives one back to the count and wakes a waiter.
 *
 * Returns: %TRUE, or %FALSE with %MP_ERROR_INVALID_STATE when a bounded
 *   semaphore is already at its initial value
 */
gboolean
mp_semaphore_release (MpSemaphore  *self,
                      GError      **error)
{
  MpSyncShared *shared;
  guint64 bound, value;

  g_return_val_if_fail (MP_IS_SEMAPHORE (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shared = mp_sync_cell_shared (self->cell);
  bound = BOUND (shared);
  value = __atomic_load_n (&shared->word, __ATOMIC_ACQUIRE);
  for (;;)
    {
      if ((bound > 0 && value >= bound) || value >= G_MAXUINT)
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                               _("The semaphore was released too many times"));
          return FALSE;
        }
      if (__atomic_compare_exchange_n (&shared->word, &value, value + 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        break;
    }
  mp_sync_cell_wake (self->cell);
  return TRUE;
}

/**
 * mp_semaphore_get_value:
 * @self: an #MpSemaphore
 *
 * The count right now; by the time the caller looks it may have changed.
 *
 * Returns: the count
 */
guint
mp_semaphore_get_value (MpSemaphore *self)
{
  g_return_val_if_fail (MP_IS_SEMAPHORE (self) && self->cell != NULL, 0);

  return (guint) __atomic_load_n (&mp_sync_cell_shared (self->cell)->word, __ATOMIC_ACQUIRE);
}

/**
 * mp_semaphore_is_bounded:
 * @self: an #MpSemaphore
 *
 * Whether release refuses to go above the initial value.
 *
 * Returns: %TRUE for a bounded semaphore
 */
gboolean
mp_semaphore_is_bounded (MpSemaphore *self)
{
  g_return_val_if_fail (MP_IS_SEMAPHORE (self) && self->cell != NULL, FALSE);

  return BOUND (mp_sync_cell_shared (self->cell)) > 0;
}
