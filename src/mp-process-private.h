/* mp-process-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mp-process.h"
#include "mp-wire-private.h"

G_BEGIN_DECLS

MpProcess *mp_process_new_main              (void);
MpProcess *mp_process_new_from_run_message  (MpMessage  *message,
                                             int        *parent_pid,
                                             GError    **error);
void       mp_process_set_parent_channel    (MpProcess  *self,
                                             MpChannel  *channel);
int        mp_process_run_in_child          (MpProcess  *self);
void       mp_process_reap                  (MpProcess  *self);

G_END_DECLS
