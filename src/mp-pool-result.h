/* mp-pool-result.h: the outcome of work given to a pool
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

#define MP_TYPE_POOL_RESULT (mp_pool_result_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpPoolResult, mp_pool_result, MP, POOL_RESULT, GObject)

MP_AVAILABLE_IN_1_0
gboolean   mp_pool_result_ready       (MpPoolResult  *self);
MP_AVAILABLE_IN_1_0
gboolean   mp_pool_result_successful  (MpPoolResult  *self);
MP_AVAILABLE_IN_1_0
gboolean   mp_pool_result_wait        (MpPoolResult  *self,
                                       double         timeout);
MP_AVAILABLE_IN_1_0
GVariant  *mp_pool_result_get         (MpPoolResult  *self,
                                       double         timeout,
                                       GError       **error);
MP_AVAILABLE_IN_1_0
void       mp_pool_result_get_async   (MpPoolResult        *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
MP_AVAILABLE_IN_1_0
GVariant  *mp_pool_result_get_finish  (MpPoolResult  *self,
                                       GAsyncResult  *result,
                                       GError       **error);
MP_AVAILABLE_IN_1_0
void       mp_pool_result_cancel      (MpPoolResult  *self);

G_END_DECLS
