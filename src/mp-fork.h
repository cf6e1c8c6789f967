/* mp-fork.h: how libmp forks, for language bindings
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

/**
 * MpForkFunc:
 * @user_data: (closure): data given to mp_set_fork_func()
 * @error: return location for a #GError
 *
 * Forks the calling process once, as fork() does, with whatever the
 * language runtime needs around it (an interpreter's lock held across
 * the fork, its after-fork handlers run in the child). It returns in
 * both processes; libmp does the rest of its start-up after it.
 *
 * Returns: the child's process id in the parent, 0 in the child, or -1
 *   with @error set (the reason: libmp says what it was doing) when no
 *   child was made
 */
typedef int (*MpForkFunc) (gpointer   user_data,
                           GError   **error);

MP_AVAILABLE_IN_1_0
void  mp_set_fork_func  (MpForkFunc      func,
                         gpointer        user_data,
                         GDestroyNotify  destroy);

G_END_DECLS
