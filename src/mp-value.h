/* mp-value.h: a typed value in shared memory
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

#define MP_TYPE_VALUE (mp_value_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpValue, mp_value, MP, VALUE, GObject)

MP_AVAILABLE_IN_1_0
MpValue     *mp_value_new                   (const char           *type_string,
                                             GVariant             *initial,
                                             gboolean              lock,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpValue     *mp_value_new_from_variant      (GVariant             *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
const char  *mp_value_get_type_string       (MpValue              *self);
MP_AVAILABLE_IN_1_0
GVariant    *mp_value_get                   (MpValue              *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_value_set                   (MpValue              *self,
                                             GVariant             *value,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
GVariant    *mp_value_add                   (MpValue              *self,
                                             GVariant             *delta,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gint64       mp_value_get_int               (MpValue              *self,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_value_set_int               (MpValue              *self,
                                             gint64                value,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
double       mp_value_get_double            (MpValue              *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_value_set_double            (MpValue              *self,
                                             double                value,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpRLock     *mp_value_get_lock              (MpValue              *self);

G_END_DECLS
