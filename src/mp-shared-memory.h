/* mp-shared-memory.h: a block of memory shared between processes
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

#define MP_TYPE_SHARED_MEMORY (mp_shared_memory_get_type ())

MP_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MpSharedMemory, mp_shared_memory, MP, SHARED_MEMORY, GObject)

MP_AVAILABLE_IN_1_0
MpSharedMemory *mp_shared_memory_new        (const char           *name,
                                             gsize                 size,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpSharedMemory *mp_shared_memory_open       (const char           *name,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
MpSharedMemory *mp_shared_memory_new_from_variant (GVariant       *reference,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
const char  *mp_shared_memory_get_name      (MpSharedMemory       *self);
MP_AVAILABLE_IN_1_0
gsize        mp_shared_memory_get_size      (MpSharedMemory       *self);
MP_AVAILABLE_IN_1_0
GBytes      *mp_shared_memory_get_bytes     (MpSharedMemory       *self,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
guint64      mp_shared_memory_get_address   (MpSharedMemory       *self);
MP_AVAILABLE_IN_1_0
GBytes      *mp_shared_memory_read          (MpSharedMemory       *self,
                                             gsize                 offset,
                                             gsize                 size,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
gboolean     mp_shared_memory_write         (MpSharedMemory       *self,
                                             gsize                 offset,
                                             GBytes               *data,
                                             GError              **error);
MP_AVAILABLE_IN_1_0
void         mp_shared_memory_close         (MpSharedMemory       *self);
MP_AVAILABLE_IN_1_0
gboolean     mp_shared_memory_unlink        (MpSharedMemory       *self,
                                             GError              **error);

G_END_DECLS
