/* mp-event.h: an event flag shared between processes
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

#define MP_TYPE_EVENT (mp_event_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpEvent, mp_event, MP, EVENT, GObject)

MP_AVAILABLE_IN_1_0
MpEvent     *mp_event_new                   (GError              **error);
MP_AVAILABLE_IN_1_0
MpEvent     *mp_event_new_from_variant      (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_event_set                   (MpEvent              *self);
MP_AVAILABLE_IN_1_0
void         mp_event_clear                 (MpEvent              *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_event_is_set                (MpEvent              *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_event_wait                  (MpEvent              *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_event_wait_async            (MpEvent              *self,
                                             double                timeout,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean     mp_event_wait_finish           (MpEvent              *self,
                                             GAsyncResult         *result,
                                             GError              **error);

G_END_DECLS
