/* mp-shareable.h: objects that can be handed to other processes
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

#define MP_TYPE_SHAREABLE (mp_shareable_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (MpShareable, mp_shareable, MP, SHAREABLE, GObject)

/**
 * MpShareableInterface:
 * @to_variant: returns a floating reference value that stands for the object
 *
 * The interface of objects that live in shared memory or on descriptors and
 * can reach other processes inside task arguments, process properties,
 * pipes and queues.
 */
struct _MpShareableInterface
{
  GTypeInterface g_iface;

  GVariant *(*to_variant) (MpShareable *self);
};

MP_AVAILABLE_IN_1_0
GVariant    *mp_shareable_to_variant        (MpShareable  *self);
MP_AVAILABLE_IN_1_0
MpShareable *mp_shareable_new_from_variant  (GVariant     *reference,
                                             GError      **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_shareable_is_reference      (GVariant     *value);

G_END_DECLS
