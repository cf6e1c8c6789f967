/* mp-pipe.h: one end of a connection between processes
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

#define MP_TYPE_PIPE (mp_pipe_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpPipe, mp_pipe, MP, PIPE, GObject)

MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_new_pair          (gboolean              duplex,
                                       MpPipe              **first,
                                       MpPipe              **second,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
MpPipe     *mp_pipe_new_from_variant  (GVariant             *reference,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
GVariant   *mp_pipe_to_variant        (MpPipe               *self);

MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_send              (MpPipe               *self,
                                       GVariant             *value,
                                       GCancellable         *cancellable,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
GVariant   *mp_pipe_recv              (MpPipe               *self,
                                       const GVariantType   *expected_type,
                                       GCancellable         *cancellable,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_pipe_recv_async        (MpPipe               *self,
                                       const GVariantType   *expected_type,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
MP_AVAILABLE_IN_1_0
GVariant   *mp_pipe_recv_finish       (MpPipe               *self,
                                       GAsyncResult         *result,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_send_bytes        (MpPipe               *self,
                                       GBytes               *bytes,
                                       GCancellable         *cancellable,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
GBytes     *mp_pipe_recv_bytes        (MpPipe               *self,
                                       GCancellable         *cancellable,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_poll              (MpPipe               *self,
                                       double                timeout,
                                       GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_pipe_close             (MpPipe               *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_get_closed        (MpPipe               *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_get_readable      (MpPipe               *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_pipe_get_writable      (MpPipe               *self);

G_END_DECLS
