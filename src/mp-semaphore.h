/* mp-semaphore.h: a counting semaphore shared between processes
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

#define MP_TYPE_SEMAPHORE (mp_semaphore_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpSemaphore, mp_semaphore, MP, SEMAPHORE, GObject)

MP_AVAILABLE_IN_1_0
MpSemaphore *mp_semaphore_new               (guint                 value,
                                             gboolean              bounded,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpSemaphore *mp_semaphore_new_from_variant  (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_semaphore_acquire           (MpSemaphore          *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_semaphore_acquire_async     (MpSemaphore          *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean     mp_semaphore_acquire_finish    (MpSemaphore          *self,
                                             GAsyncResult         *result,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_semaphore_release           (MpSemaphore          *self,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
guint        mp_semaphore_get_value         (MpSemaphore          *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_semaphore_is_bounded        (MpSemaphore          *self);

G_END_DECLS
