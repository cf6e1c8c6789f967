/* mp-task-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mp-task.h"

G_BEGIN_DECLS

/* Whether @name was registered after mp_init(), where a spawn or
 * forkserver child (which only runs what was registered before) will
 * not find it. */
gboolean mp_task_registered_after_init (const char *name);

G_END_DECLS
