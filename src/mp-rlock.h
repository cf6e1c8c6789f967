/* mp-rlock.h: a RLock shared between processes
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

#define MP_TYPE_RLOCK (mp_rlock_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpRLock, mp_rlock, MP, RLOCK, GObject)

MP_AVAILABLE_IN_1_0
MpRLock     *mp_rlock_new               (GError              **error);
MP_AVAILABLE_IN_1_0
MpRLock     *mp_rlock_new_from_variant  (GVariant             *reference,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_rlock_acquire           (MpRLock               *self,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_rlock_acquire_async     (MpRLock               *self,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean    mp_rlock_acquire_finish    (MpRLock               *self,
                                        GAsyncResult         *result,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_rlock_release           (MpRLock               *self,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_rlock_is_owned          (MpRLock              *self);
MP_AVAILABLE_IN_1_0
guint       mp_rlock_get_count         (MpRLock              *self);

G_END_DECLS
