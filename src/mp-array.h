/* mp-array.h: a fixed-size array in shared memory
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

#define MP_TYPE_ARRAY (mp_array_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpArray, mp_array, MP, ARRAY, GObject)

MP_AVAILABLE_IN_1_0
MpArray     *mp_array_new                   (const char           *element_type,
                                             gsize                 length,
                                             gboolean              lock,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpArray     *mp_array_new_with_values       (GVariant             *values,
                                             gboolean              lock,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpArray     *mp_array_new_from_variant      (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
const char  *mp_array_get_element_type      (MpArray              *self);
MP_AVAILABLE_IN_1_0
gsize        mp_array_get_length            (MpArray              *self);
MP_AVAILABLE_IN_1_0
GVariant    *mp_array_get                   (MpArray              *self,
                                             gsize                 index,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_array_set                   (MpArray              *self,
                                             gsize                 index,
                                             GVariant             *value,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
GVariant    *mp_array_get_slice             (MpArray              *self,
                                             gsize                 start,
                                             gsize                 stop,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_array_set_slice             (MpArray              *self,
                                             gsize                 start,
                                             GVariant             *values,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
GBytes      *mp_array_get_bytes             (MpArray              *self);
MP_AVAILABLE_IN_1_0
MpRLock     *mp_array_get_lock              (MpArray              *self);

G_END_DECLS
