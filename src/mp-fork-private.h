/* mp-fork-private.h: every fork libmp makes goes through here
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

pid_t  mp_fork  (GError **error);

G_END_DECLS
