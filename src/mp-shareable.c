/* mp-shareable.c: objects that can be handed to other processes
 *
 * A reference is a tuple whose first member is a tag "mp:<kind>"; the rest
 * (descriptors as handles, sizes, types) is the class's business. This file
 * only knows which class reads which tag, so that a process property, a
 * binding or a task argument can turn any reference back into its object.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "mp.h"

/**
 * MpShareable:
 *
 * An object that other processes can use too: a pipe end, a queue, a lock,
 * a shared value or a block of shared memory. mp_shareable_to_variant()
 * gives a value that stands for it (its descriptors travel with the
 * message), and mp_shareable_new_from_variant() gives the object back on
 * the other side.
 */
G_DEFINE_INTERFACE (MpShareable, mp_shareable, G_TYPE_OBJECT)

static void
mp_shareable_default_init (MpShareableInterface *iface)
{
}

/**
 * mp_shareable_to_variant:
 * @self: an #MpShareable
 *
 * A value that stands for @self in a message or in task arguments.
 *
 * Returns: (transfer none): a new floating reference, as g_variant_new()
 *   returns
 */
GVariant *
mp_shareable_to_variant (MpShareable *self)
{
  g_return_val_if_fail (MP_IS_SHAREABLE (self), NULL);

  return MP_SHAREABLE_GET_IFACE (self)->to_variant (self);
}

typedef MpShareable *(*NewFromVariant) (GVariant *reference, GError **error);

/* Tags are matched by prefix: a pipe end's tag says which end it is. */
static const struct
{
  const char     *prefix;
  NewFromVariant  new_from_variant;
} readers[] = {
  { "mp:pipe",          (NewFromVariant) mp_pipe_new_from_variant },
  { "mp:queue",         (NewFromVariant) mp_queue_new_from_variant },
  { "mp:lock",          (NewFromVariant) mp_lock_new_from_variant },
  { "mp:rlock",         (NewFromVariant) mp_rlock_new_from_variant },
  { "mp:semaphore",     (NewFromVariant) mp_semaphore_new_from_variant },
  { "mp:condition",     (NewFromVariant) mp_condition_new_from_variant },
  { "mp:event",         (NewFromVariant) mp_event_new_from_variant },
  { "mp:barrier",       (NewFromVariant) mp_barrier_new_from_variant },
  { "mp:value",         (NewFromVariant) mp_value_new_from_variant },
  { "mp:array",         (NewFromVariant) mp_array_new_from_variant },
  { "mp:shared-memory", (NewFromVariant) mp_shared_memory_new_from_variant },
};

static const char *
reference_tag (GVariant *value)
{
  g_autoptr(GVariant) first = NULL;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_TUPLE) || g_variant_n_children (value) < 2)
    return NULL;
  first = g_variant_get_child_value (value, 0);
  if (!g_variant_is_of_type (first, G_VARIANT_TYPE_STRING))
    return NULL;
  /* The string lives in @value's serialized data, which outlives @first. */
  return g_variant_get_string (first, NULL);
}

static NewFromVariant
find_reader (GVariant *value)
{
  const char *tag = reference_tag (value);

  if (tag == NULL || !g_str_has_prefix (tag, "mp:"))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (readers); i++)
    {
      gsize len = strlen (readers[i].prefix);
      if (strncmp (tag, readers[i].prefix, len) == 0 && (tag[len] == '\0' || tag[len] == ':'))
        return readers[i].new_from_variant;
    }
  return NULL;
}

/**
 * mp_shareable_is_reference:
 * @value: any value
 *
 * Whether @value looks like a value made by mp_shareable_to_variant(), so
 * that a binding can turn it back into an object.
 *
 * Returns: %TRUE when @value is tagged as a libmp reference
 */
gboolean
mp_shareable_is_reference (GVariant *value)
{
  g_return_val_if_fail (value != NULL, FALSE);

  return find_reader (value) != NULL;
}

/**
 * mp_shareable_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant(), as received
 *   (possibly boxed in variants)
 * @error: return location for a #GError
 *
 * The object that @reference stands for, in this process: the same pipe
 * end, queue, lock or memory as the sender's.
 *
 * Returns: (transfer full): the object, or %NULL with @error set when
 *   @reference is not a reference
 */
MpShareable *
mp_shareable_new_from_variant (GVariant  *reference,
                               GError   **error)
{
  g_autoptr(GVariant) unboxed = NULL;
  NewFromVariant reader;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Task arguments often box references: "(vv)". */
  unboxed = g_variant_ref_sink (reference);
  while (g_variant_is_of_type (unboxed, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (unboxed);
      g_variant_unref (unboxed);
      unboxed = inner;
    }
  reference = unboxed;
  reader = find_reader (reference);
  if (reader == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The value of type “%s” does not stand for a shared object"),
                   g_variant_get_type_string (reference));
      return NULL;
    }
  return reader (reference, error);
}
