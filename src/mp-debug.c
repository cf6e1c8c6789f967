/* mp-debug.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mp-debug-private.h"

static const GDebugKey debug_keys[] = {
  { "wire", MP_DEBUG_WIRE },
  { "process", MP_DEBUG_PROCESS },
};

guint
mp_debug_flags_init (void)
{
  static gsize flags;

  if (g_once_init_enter (&flags))
    {
      guint value = g_parse_debug_string (g_getenv ("MP_DEBUG"), debug_keys,
                                          G_N_ELEMENTS (debug_keys));
      /* Bit 31 marks "initialised" so that an empty set is cached too. */
      g_once_init_leave (&flags, value | (1u << 31));
    }
  return (guint) flags & ~(1u << 31);
}
