/* mp-queue.h: a queue between many producers and consumers across processes
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

#define MP_TYPE_QUEUE (mp_queue_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpQueue, mp_queue, MP, QUEUE, GObject)

MP_AVAILABLE_IN_1_0
MpQueue    *mp_queue_new               (int                   maxsize,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
MpQueue    *mp_queue_new_from_variant  (GVariant             *reference,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
GVariant   *mp_queue_to_variant        (MpQueue              *self);

MP_AVAILABLE_IN_1_0
gboolean    mp_queue_put               (MpQueue              *self,
                                        GVariant             *value,
                                        gboolean              block,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_queue_put_async         (MpQueue              *self,
                                        GVariant             *value,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_put_finish        (MpQueue              *self,
                                        GAsyncResult         *result,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
GVariant   *mp_queue_get               (MpQueue              *self,
                                        gboolean              block,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_queue_get_async         (MpQueue              *self,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
MP_AVAILABLE_IN_1_0
GVariant   *mp_queue_get_finish        (MpQueue              *self,
                                        GAsyncResult         *result,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
int         mp_queue_qsize             (MpQueue              *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_empty             (MpQueue              *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_full              (MpQueue              *self);
MP_AVAILABLE_IN_1_0
int         mp_queue_get_maxsize       (MpQueue              *self);
MP_AVAILABLE_IN_1_0
void        mp_queue_close             (MpQueue              *self);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_task_done         (MpQueue              *self,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_join              (MpQueue              *self,
                                        double                timeout,
                                        GCancellable         *cancellable,
                                        GError              **error);
MP_AVAILABLE_IN_1_0
void        mp_queue_join_async        (MpQueue              *self,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean    mp_queue_join_finish       (MpQueue              *self,
                                        GAsyncResult         *result,
                                        GError              **error);

G_END_DECLS
