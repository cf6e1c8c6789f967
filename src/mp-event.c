/* mp-event.c: an event flag shared between processes
 *
 * The flag is the cell's atomic word. Setting it wakes one sleeper, which
 * passes the wake-up on: every waiter goes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-sync-private.h"
#include "mp-wire-private.h"

/**
 * MpEvent:
 *
 * Python's `multiprocessing.Event`: a flag that processes wait for, set
 * and clear. mp_event_wait_async() waits on the main loop.
 */
struct _MpEvent
{
  GObject      parent_instance;
  MpSyncCell  *cell;
};

static void mp_event_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpEvent, mp_event, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_event_shareable_init))

static MpSyncStatus
check_set (MpSyncCell  *cell,
           gpointer     data,
           pid_t       *watch,
           GError     **error)
{
  return __atomic_load_n (&mp_sync_cell_shared (cell)->word, __ATOMIC_ACQUIRE) != 0
    ? MP_SYNC_DONE_PASS_ON : MP_SYNC_WAIT;
}

static const MpSyncWaitFuncs wait_funcs = {
  .attempt = check_set,
};

static GVariant *
mp_event_to_variant (MpShareable *shareable)
{
  return mp_sync_cell_to_variant (MP_EVENT (shareable)->cell, "mp:event", NULL);
}

static void
mp_event_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_event_to_variant;
}

static void
mp_event_finalize (GObject *object)
{
  MpEvent *self = MP_EVENT (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  G_OBJECT_CLASS (mp_event_parent_class)->finalize (object);
}

static void
mp_event_constructed (GObject *object)
{
  MpEvent *self = MP_EVENT (object);

  G_OBJECT_CLASS (mp_event_parent_class)->constructed (object);
  self->cell = mp_sync_cell_take_handed ();
  if (self->cell == NULL)
    self->cell = mp_sync_cell_new_default (MP_SYNC_KIND_EVENT);
}

static void
mp_event_class_init (MpEventClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = mp_event_constructed;
  G_OBJECT_CLASS (klass)->finalize = mp_event_finalize;
}

static void
mp_event_init (MpEvent *self)
{
}

static MpEvent *
event_new_for_cell (MpSyncCell *cell)
{
  MpEvent *self;

  if (cell == NULL)
    return NULL;
  mp_sync_cell_hand_over (cell);
  self = g_object_new (MP_TYPE_EVENT, NULL);
  return self;
}

/**
 * mp_event_new:
 * @error: return location for a #GError
 *
 * A new event, not set, in shared memory of its own.
 *
 * Returns: (transfer full): the event, or %NULL with @error set
 */
MpEvent *
mp_event_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return event_new_for_cell (mp_sync_cell_new (MP_SYNC_KIND_EVENT, 0, error));
}

/**
 * mp_event_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for an event, as
 *   received
 * @error: return location for a #GError
 *
 * The event that @reference stands for, in this process.
 *
 * Returns: (transfer full): the event, or %NULL with @error set
 */
MpEvent *
mp_event_new_from_variant (GVariant  *reference,
                           GError   **error)
{
  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return event_new_for_cell (mp_sync_cell_new_from_variant (reference, "mp:event", MP_SYNC_KIND_EVENT,
                                                            NULL, error));
}

/**
 * mp_event_set:
 * @self: an #MpEvent
 *
 * Sets the flag and wakes every waiter.
 */
void
mp_event_set (MpEvent *self)
{
  g_return_if_fail (MP_IS_EVENT (self) && self->cell != NULL);

  __atomic_store_n (&mp_sync_cell_shared (self->cell)->word, 1, __ATOMIC_SEQ_CST);
  mp_sync_cell_wake (self->cell);
}

/**
 * mp_event_clear:
 * @self: an #MpEvent
 *
 * Clears the flag: waits wait again.
 */
void
mp_event_clear (MpEvent *self)
{
  g_return_if_fail (MP_IS_EVENT (self) && self->cell != NULL);

  __atomic_store_n (&mp_sync_cell_shared (self->cell)->word, 0, __ATOMIC_SEQ_CST);
}

/**
 * mp_event_is_set:
 * @self: an #MpEvent
 *
 * Whether the flag is set.
 *
 * Returns: %TRUE when it is
 */
gboolean
mp_event_is_set (MpEvent *self)
{
  g_return_val_if_fail (MP_IS_EVENT (self) && self->cell != NULL, FALSE);

  return __atomic_load_n (&mp_sync_cell_shared (self->cell)->word, __ATOMIC_ACQUIRE) != 0;
}

/**
 * mp_event_wait:
 * @self: an #MpEvent
 * @timeout: seconds to wait at most; negative waits for as long as it
 *   takes, 0 only looks
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until the flag is set.
 *
 * Returns: %TRUE when the flag was set; %FALSE with %G_IO_ERROR_TIMED_OUT
 *   (Python's `wait()` returning False) or %G_IO_ERROR_CANCELLED
 */
gboolean
mp_event_wait (MpEvent       *self,
               double         timeout,
               GCancellable  *cancellable,
               GError       **error)
{
  g_return_val_if_fail (MP_IS_EVENT (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mp_sync_cell_wait (self->cell, &wait_funcs, NULL, mp_deadline_from_timeout (timeout),
                            cancellable, error);
}

/**
 * mp_event_wait_async:
 * @self: an #MpEvent
 * @timeout: seconds to wait at most; negative waits for as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once the flag is set or the wait failed
 * @user_data: data for @callback
 *
 * Waits for the flag without blocking the main loop.
 */
void
mp_event_wait_async (MpEvent             *self,
                     double               timeout,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_EVENT (self) && self->cell != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_event_wait_async);
  mp_sync_cell_wait_async (self->cell, &wait_funcs, task, mp_deadline_from_timeout (timeout));
}

/**
 * mp_event_wait_finish:
 * @self: an #MpEvent
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_event_wait_async().
 *
 * Returns: %TRUE when the flag was set
 */
gboolean
mp_event_wait_finish (MpEvent       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
