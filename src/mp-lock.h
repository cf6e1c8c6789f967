/* mp-lock.h: a Lock shared between processes
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

#define MP_TYPE_LOCK (mp_lock_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpLock, mp_lock, MP, LOCK, GObject)

MP_AVAILABLE_IN_1_0
MpLock    *mp_lock_new               (GError              **error);
MP_AVAILABLE_IN_1_0
MpLock    *mp_lock_new_from_variant  (GVariant             *reference,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_lock_acquire           (MpLock               *self,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_lock_acquire_async     (MpLock               *self,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean    mp_lock_acquire_finish    (MpLock               *self,
                                        GAsyncResult         *result,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_lock_release           (MpLock               *self,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_lock_is_locked          (MpLock               *self);

G_END_DECLS
