/* mp-task.h: named tasks that another process can run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mp-version-macros.h"

G_BEGIN_DECLS

/**
 * MpTaskFunc:
 * @args: (not nullable): the task's arguments
 * @cancellable: (nullable): cancelled when the caller gives up on the task
 * @user_data: (closure): data given to mp_register_task()
 * @error: return location for a #GError
 *
 * A task: arguments in, a value out, or an error.
 *
 * Returns: (transfer full) (nullable): the task's value, or %NULL for no
 *   value (the unit tuple `()` then reaches the caller) or on error
 */
typedef GVariant *(*MpTaskFunc) (GVariant      *args,
                                 GCancellable  *cancellable,
                                 gpointer       user_data,
                                 GError       **error);

MP_AVAILABLE_IN_1_0
void       mp_register_task   (const char     *name,
                               MpTaskFunc      func,
                               gpointer        user_data,
                               GDestroyNotify  destroy);
MP_AVAILABLE_IN_1_0
void       mp_register_batch_task (const char     *name,
                                   MpTaskFunc      func,
                                   gpointer        user_data,
                                   GDestroyNotify  destroy);
MP_AVAILABLE_IN_1_0
gboolean   mp_task_is_registered (const char  *name);
MP_AVAILABLE_IN_1_0
const char *mp_task_get_current_name (void);
MP_AVAILABLE_IN_1_0
GVariant  *mp_run_task        (const char     *name,
                               GVariant       *args,
                               GCancellable   *cancellable,
                               GError        **error);

G_END_DECLS
