/* example-sync-helpers.h: what the lock, value and shared memory examples
 * (lock.c, value-counter*.c, shared-memory.c) add to example-helpers.h.
 *
 * A lock, a value or a block of shared memory reaches a task as an
 * argument: the parent puts mp_shareable_to_variant (object) in the task's
 * arguments (the format "@*" takes it whatever its type), the child turns
 * it back into the same object with mp_shareable_new_from_variant().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "example-helpers.h"

/* In the task: the object of type @type it was given as argument
 * @index, or NULL with @error set. */
static inline gpointer
shareable_arg (GVariant  *args,
               gsize      index,
               GType      type,
               GError   **error)
{
  g_autoptr(GVariant) reference = g_variant_get_child_value (args, index);
  g_autoptr(MpShareable) object = mp_shareable_new_from_variant (reference, error);

  if (object != NULL && !G_TYPE_CHECK_INSTANCE_TYPE (object, type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "argument %" G_GSIZE_FORMAT " is a %s, not a %s",
                   index, G_OBJECT_TYPE_NAME (object), g_type_name (type));
      return NULL;
    }
  return g_steal_pointer (&object);
}

/* join(), then the child's error, and a failure when it did not exit with
 * 0: a child killed by a signal (a crash) has no error to give back. */
static inline gboolean
join_exited_ok (MpProcess  *p,
                GError    **error)
{
  if (!join_checked (p, error))
    return FALSE;
  if (mp_process_get_exitcode (p) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s (pid %d) exited with %d",
                   mp_process_get_name (p), mp_process_get_pid (p), mp_process_get_exitcode (p));
      return FALSE;
    }
  return TRUE;
}

/* join_exited_ok() for each process of a list from process_list_new(). */
static inline gboolean
join_all_exited_ok (GPtrArray  *processes,
                    GError    **error)
{
  for (guint i = 0; i < processes->len; i++)
    if (!join_exited_ok (g_ptr_array_index (processes, i), error))
      return FALSE;
  return TRUE;
}

/* The argument for a task that stands for @object. */
#define shareable_ref(object) mp_shareable_to_variant (MP_SHAREABLE (object))
