/* mp-barrier.h: a barrier shared between processes
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

#define MP_TYPE_BARRIER (mp_barrier_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpBarrier, mp_barrier, MP, BARRIER, GObject)

MP_AVAILABLE_IN_1_0
MpBarrier   *mp_barrier_new                 (guint                 parties,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpBarrier   *mp_barrier_new_from_variant    (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_barrier_set_action          (MpBarrier            *self,
                                             const char           *task,
                                             GVariant             *args);
MP_AVAILABLE_IN_1_0
const char  *mp_barrier_get_action          (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
void         mp_barrier_set_timeout         (MpBarrier            *self,
                                             double                timeout);
MP_AVAILABLE_IN_1_0
double       mp_barrier_get_timeout         (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
int          mp_barrier_wait                (MpBarrier            *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_barrier_wait_async          (MpBarrier            *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
MP_AVAILABLE_IN_1_0
int          mp_barrier_wait_finish         (MpBarrier            *self,
                                             GAsyncResult         *result,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_barrier_reset               (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
void         mp_barrier_abort               (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_barrier_get_broken          (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
guint        mp_barrier_get_n_waiting       (MpBarrier            *self);
MP_AVAILABLE_IN_1_0
guint        mp_barrier_get_parties         (MpBarrier            *self);

G_END_DECLS
