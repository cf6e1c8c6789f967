/* mp-forkserver-private.h: the forkserver start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include "mp-wire-private.h"

G_BEGIN_DECLS

gboolean  mp_forkserver_launch      (GError     **error);
gboolean  mp_forkserver_launch_spawned (GError  **error);
G_NORETURN
void      mp_forkserver_serve       (int          fd,
                                     pid_t        client);
gboolean  mp_forkserver_is_running  (void);
pid_t     mp_forkserver_fork_worker (int          worker_fd,
                                     MpChannel  **status,
                                     GError     **error);
gboolean  mp_forkserver_read_exit   (MpChannel   *status,
                                     int         *exitcode,
                                     GError     **error);

G_END_DECLS
