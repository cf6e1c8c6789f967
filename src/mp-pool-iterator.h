/* mp-pool-iterator.h: the results of mp_pool_imap(), one by one
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

#define MP_TYPE_POOL_ITERATOR (mp_pool_iterator_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpPoolIterator, mp_pool_iterator, MP, POOL_ITERATOR, GObject)

MP_AVAILABLE_IN_1_0
gboolean   mp_pool_iterator_next         (MpPoolIterator       *self,
                                          double                timeout,
                                          GVariant            **value,
                                          GError              **error);
MP_AVAILABLE_IN_1_0
void       mp_pool_iterator_next_async   (MpPoolIterator       *self,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
MP_AVAILABLE_IN_1_0
gboolean   mp_pool_iterator_next_finish  (MpPoolIterator       *self,
                                          GAsyncResult         *result,
                                          GVariant            **value,
                                          GError              **error);
MP_AVAILABLE_IN_1_0
void       mp_pool_iterator_cancel       (MpPoolIterator       *self);

G_END_DECLS
