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

/* A task looked up once and run many times (a pool worker's chunk). */
typedef struct _MpTaskEntry MpTaskEntry;

MpTaskEntry *mp_task_lookup    (const char   *name,
                                GError      **error);
GVariant    *mp_task_entry_run (MpTaskEntry  *entry,
                                GVariant     *args,
                                GCancellable *cancellable,
                                GError      **error);
void         mp_task_entry_unref (MpTaskEntry *entry);
/* A batch task (mp_register_batch_task()) runs a whole array of items in
 * one call; run_batch checks that it gave one result per item. */
gboolean     mp_task_entry_is_batch  (MpTaskEntry  *entry);
GVariant    *mp_task_entry_run_batch (MpTaskEntry  *entry,
                                      GVariant     *items,
                                      GCancellable *cancellable,
                                      GError      **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpTaskEntry, mp_task_entry_unref)

G_END_DECLS
