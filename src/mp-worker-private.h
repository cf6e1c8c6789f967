/* mp-worker-private.h: the child side of a spawn or forkserver start
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/* Becomes the worker on channel @fd: receives what to run, runs it and
 * exits. @os_parent is the pid that getppid() must return (the forkserver
 * or the spawning parent); the process dies with it. */
G_NORETURN
void mp_worker_main (int       fd,
                     pid_t     os_parent,
                     int       libmp_parent,
                     gboolean  lifeline);

G_END_DECLS
