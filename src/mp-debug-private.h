/* mp-debug-private.h: MP_DEBUG=wire,process,... switches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  MP_DEBUG_WIRE    = 1 << 0,
  MP_DEBUG_PROCESS = 1 << 1,
} MpDebugFlags;

guint mp_debug_flags_init (void);

static inline gboolean
mp_debug_enabled (MpDebugFlags flag)
{
  return (mp_debug_flags_init () & flag) != 0;
}

G_END_DECLS
