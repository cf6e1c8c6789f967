/* mp-handle-private.h: descriptors inside GVariants
 *
 * In libmp an "h" value in a GVariant is a descriptor of the process that
 * holds the value. Sending such a value dups each descriptor into the
 * message (SCM_RIGHTS) and rewrites the handle to its index there, as
 * GDBus does; receiving rewrites the indices back to the descriptors that
 * arrived, and the received value owns them: they close when its last
 * reference goes. That is how pipe ends and queues travel inside task
 * arguments, and through pipes and queues.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*MpHandleMapFunc) (gint32    handle,
                                     gint32   *mapped,
                                     gpointer  user_data,
                                     GError  **error);

gboolean   mp_handles_possible  (const GVariantType *type);
GVariant  *mp_handles_map       (GVariant          *value,
                                 MpHandleMapFunc    func,
                                 gpointer           user_data,
                                 GError           **error);
/* Takes the descriptors in @fds that @value's handles refer to (by index)
 * and returns a value whose handles are those descriptors and which owns
 * them. Entries it takes are set to -1. */
GVariant  *mp_handles_adopt     (GVariant          *value,
                                 int               *fds,
                                 guint              n_fds,
                                 GError           **error);

G_END_DECLS
