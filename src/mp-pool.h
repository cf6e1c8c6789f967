/* mp-pool.h: a pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mp-version-macros.h"
#include "mp-runtime.h"
#include "mp-pool-result.h"
#include "mp-pool-iterator.h"

G_BEGIN_DECLS

#define MP_TYPE_POOL (mp_pool_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpPool, mp_pool, MP, POOL, GObject)

MP_AVAILABLE_IN_1_0
MpPool         *mp_pool_new              (guint                n_workers,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
MpPoolResult   *mp_pool_submit           (MpPool              *self,
                                          const char          *task,
                                          GVariant            *args,
                                          double               timeout,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
MpPoolResult   *mp_pool_submit_map       (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_apply            (MpPool              *self,
                                          const char          *task,
                                          GVariant            *args,
                                          GCancellable        *cancellable,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
void            mp_pool_apply_async      (MpPool              *self,
                                          const char          *task,
                                          GVariant            *args,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_apply_finish     (MpPool              *self,
                                          GAsyncResult        *result,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_map              (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GCancellable        *cancellable,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
void            mp_pool_map_async        (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_map_finish       (MpPool              *self,
                                          GAsyncResult        *result,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_starmap          (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GCancellable        *cancellable,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
void            mp_pool_starmap_async    (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MP_AVAILABLE_IN_1_0
GVariant       *mp_pool_starmap_finish   (MpPool              *self,
                                          GAsyncResult        *result,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
MpPoolIterator *mp_pool_imap             (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
MpPoolIterator *mp_pool_imap_unordered   (MpPool              *self,
                                          const char          *task,
                                          GVariant            *items,
                                          guint                chunksize,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
void            mp_pool_close            (MpPool              *self);
MP_AVAILABLE_IN_1_0
void            mp_pool_terminate        (MpPool              *self);
MP_AVAILABLE_IN_1_0
gboolean        mp_pool_join             (MpPool              *self,
                                          double               timeout,
                                          GCancellable        *cancellable,
                                          GError             **error);
MP_AVAILABLE_IN_1_0
void            mp_pool_join_async       (MpPool              *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
MP_AVAILABLE_IN_1_0
gboolean        mp_pool_join_finish      (MpPool              *self,
                                          GAsyncResult        *result,
                                          GError             **error);

MP_AVAILABLE_IN_1_0
guint           mp_pool_get_n_workers    (MpPool              *self);
MP_AVAILABLE_IN_1_0
GArray         *mp_pool_get_worker_pids  (MpPool              *self);
MP_AVAILABLE_IN_1_0
guint64         mp_pool_get_n_submitted  (MpPool              *self);
MP_AVAILABLE_IN_1_0
guint64         mp_pool_get_n_completed  (MpPool              *self);
MP_AVAILABLE_IN_1_0
guint64         mp_pool_get_n_failed     (MpPool              *self);

G_END_DECLS
