/* mp.h: the one header of libmp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MP_INSIDE
# include "mp-version.h"
# include "mp-version-macros.h"
# include "mp-enums.h"
# include "mp-error.h"
# include "mp-runtime.h"
# include "mp-task.h"
# include "mp-fork.h"
# include "mp-shareable.h"
# include "mp-process.h"
# include "mp-pipe.h"
# include "mp-queue.h"
# include "mp-pool-result.h"
# include "mp-pool-iterator.h"
# include "mp-pool.h"
# include "mp-lock.h"
# include "mp-rlock.h"
# include "mp-semaphore.h"
# include "mp-condition.h"
# include "mp-event.h"
# include "mp-barrier.h"
# include "mp-value.h"
# include "mp-array.h"
# include "mp-shared-memory.h"
#undef MP_INSIDE

G_END_DECLS
