/* mp-handle.c: descriptors inside GVariants (see mp-handle-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-handle-private.h"

/* A handle can only hide where the type says "h" or "v". */
gboolean
mp_handles_possible (const GVariantType *type)
{
  const char *s = g_variant_type_peek_string (type);
  gsize len = g_variant_type_get_string_length (type);

  return memchr (s, 'h', len) != NULL || memchr (s, 'v', len) != NULL;
}

GVariant *
mp_handles_map (GVariant         *value,
                MpHandleMapFunc   func,
                gpointer          user_data,
                GError          **error)
{
  const GVariantType *type = g_variant_get_type (value);

  if (!mp_handles_possible (type))
    return g_variant_ref (value);

  if (g_variant_type_equal (type, G_VARIANT_TYPE_HANDLE))
    {
      gint32 mapped;
      if (!func (g_variant_get_handle (value), &mapped, user_data, error))
        return NULL;
      return g_variant_ref_sink (g_variant_new_handle (mapped));
    }

  if (g_variant_type_equal (type, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      g_autoptr(GVariant) mapped = mp_handles_map (inner, func, user_data, error);
      if (mapped == NULL)
        return NULL;
      return g_variant_ref_sink (g_variant_new_variant (mapped));
    }

  if (g_variant_type_is_maybe (type))
    {
      g_autoptr(GVariant) inner = g_variant_get_maybe (value);
      g_autoptr(GVariant) mapped = NULL;
      if (inner == NULL)
        return g_variant_ref (value);
      mapped = mp_handles_map (inner, func, user_data, error);
      if (mapped == NULL)
        return NULL;
      return g_variant_ref_sink (g_variant_new_maybe (NULL, mapped));
    }

  /* Tuples, arrays, dictionary entries: rebuild with mapped children. */
  {
    gsize n = g_variant_n_children (value);
    g_autofree GVariant **children = g_new0 (GVariant *, n + 1);
    GVariant *result = NULL;

    for (gsize i = 0; i < n; i++)
      {
        g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
        children[i] = mp_handles_map (child, func, user_data, error);
        if (children[i] == NULL)
          goto out;
      }

    if (g_variant_type_is_array (type))
      result = g_variant_new_array (g_variant_type_element (type), children, n);
    else if (g_variant_type_is_dict_entry (type))
      result = g_variant_new_dict_entry (children[0], children[1]);
    else
      result = g_variant_new_tuple (children, n);
    g_variant_ref_sink (result);

  out:
    for (gsize i = 0; i < n; i++)
      g_clear_pointer (&children[i], g_variant_unref);
    return result;
  }
}

typedef struct
{
  int    *fds;
  guint   n_fds;
  int    *adopted;   /* index -> descriptor the new value owns, or -1 */
  GArray *taken;     /* of int: every descriptor the new value owns */
} AdoptData;

static gboolean
adopt_one (gint32    handle,
           gint32   *mapped,
           gpointer  user_data,
           GError  **error)
{
  AdoptData *data = user_data;

  if (handle < 0 || (guint) handle >= data->n_fds)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: a handle refers to descriptor %d of %u"),
                   handle, data->n_fds);
      return FALSE;
    }
  if (data->adopted[handle] < 0)
    {
      if (data->fds[handle] < 0)
        {
          g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("Malformed message: descriptor %d is no longer there"), handle);
          return FALSE;
        }
      data->adopted[handle] = data->fds[handle];
      data->fds[handle] = -1;
      g_array_append_val (data->taken, data->adopted[handle]);
    }
  /* Referred to more than once: the same descriptor, owned once. */
  *mapped = data->adopted[handle];
  return TRUE;
}

typedef struct
{
  gpointer  data;
  GArray   *fds;
} Owner;

static void
owner_free (gpointer p)
{
  Owner *owner = p;

  for (guint i = 0; i < owner->fds->len; i++)
    close (g_array_index (owner->fds, int, i));
  g_array_unref (owner->fds);
  g_free (owner->data);
  g_free (owner);
}

GVariant *
mp_handles_adopt (GVariant  *value,
                  int       *fds,
                  guint      n_fds,
                  GError   **error)
{
  g_autofree int *adopted = g_new (int, MAX (n_fds, 1));
  AdoptData data = { fds, n_fds, adopted, g_array_new (FALSE, FALSE, sizeof (int)) };
  g_autoptr(GVariant) mapped = NULL;
  Owner *owner;
  gsize size;
  GBytes *bytes;
  GVariant *result;

  for (guint i = 0; i < n_fds; i++)
    adopted[i] = -1;

  mapped = mp_handles_map (value, adopt_one, &data, error);
  if (mapped == NULL)
    {
      /* Give back what was taken, so that the caller closes it. */
      for (guint i = 0; i < n_fds; i++)
        if (adopted[i] >= 0)
          fds[i] = adopted[i];
      g_array_unref (data.taken);
      return NULL;
    }
  if (data.taken->len == 0)
    {
      g_array_unref (data.taken);
      return g_steal_pointer (&mapped);
    }

  /* Serialize into memory that also owns the descriptors. */
  size = g_variant_get_size (mapped);
  owner = g_new0 (Owner, 1);
  owner->data = g_malloc (MAX (size, 1));
  owner->fds = data.taken;
  g_variant_store (mapped, owner->data);
  bytes = g_bytes_new_with_free_func (owner->data, size, owner_free, owner);
  result = g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (mapped), bytes, TRUE));
  g_bytes_unref (bytes);
  return result;
}
