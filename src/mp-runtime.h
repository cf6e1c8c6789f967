/* mp-runtime.h: mp_init(), start methods and process-wide helpers
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
 * MpStartMethod:
 * @MP_START_METHOD_DEFAULT: the process-wide default: forkserver where
 *   mp_init() ran while the program had one thread, otherwise spawn; fork
 *   when mp_init() was never called
 * @MP_START_METHOD_FORK: fork the calling process; the child runs the
 *   target directly, closures included
 * @MP_START_METHOD_SPAWN: start this program again; mp_init() in the new
 *   process turns it into the worker
 * @MP_START_METHOD_FORKSERVER: ask a server, forked by mp_init() while the
 *   program was still single-threaded, to fork the worker
 *
 * How a child process is started, as in Python's multiprocessing.
 */
typedef enum
{
  MP_START_METHOD_DEFAULT,
  MP_START_METHOD_FORK,
  MP_START_METHOD_SPAWN,
  MP_START_METHOD_FORKSERVER,
} MpStartMethod;

MP_AVAILABLE_IN_1_0
void            mp_init                 (int            argc,
                                         char         **argv);
MP_AVAILABLE_IN_1_0
gboolean        mp_is_initialized       (void);
MP_AVAILABLE_IN_1_0
gboolean        mp_set_start_method     (MpStartMethod  method,
                                         GError       **error);
MP_AVAILABLE_IN_1_0
MpStartMethod   mp_get_start_method     (void);
MP_AVAILABLE_IN_1_0
gboolean        mp_start_method_is_available (MpStartMethod  method,
                                              GError       **error);
MP_AVAILABLE_IN_1_0
guint           mp_cpu_count            (void);
MP_AVAILABLE_IN_1_0
int             mp_parent_pid           (void);
MP_AVAILABLE_IN_1_0
G_NORETURN
void            mp_exit                 (int            status);

G_END_DECLS
