/* mp-array.c: a fixed-size array in shared memory
 *
 * Elements (mp-element-private.h) one after another in the data of a
 * shared cell; the length follows from the cell's size.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-element-private.h"
#include "mp-sync-private.h"

/**
 * MpArray:
 *
 * Python's `multiprocessing.Array`: a fixed number of numbers or booleans
 * of one GVariant basic type ("bynqiuxtd") in shared memory, zero-filled
 * at first. Elements are read and written whole; slices come as GVariant
 * arrays, and mp_array_get_bytes() gives the memory itself without a copy.
 */
struct _MpArray
{
  GObject      parent_instance;
  MpSyncCell  *cell;
  char        *element_type;
  gsize        element_size;
  gsize        length;
  MpRLock     *lock;
};

static void mp_array_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpArray, mp_array, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_array_shareable_init))

static GVariant *
mp_array_to_variant (MpShareable *shareable)
{
  MpArray *self = MP_ARRAY (shareable);

  return mp_sync_cell_to_variant (self->cell, "mp:array",
                                  g_variant_new ("(sv)", self->element_type,
                                                 self->lock ? mp_shareable_to_variant (MP_SHAREABLE (self->lock))
                                                            : g_variant_new ("()")));
}

static void
mp_array_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_array_to_variant;
}

static void
mp_array_finalize (GObject *object)
{
  MpArray *self = MP_ARRAY (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  g_clear_pointer (&self->element_type, g_free);
  g_clear_object (&self->lock);
  G_OBJECT_CLASS (mp_array_parent_class)->finalize (object);
}

static void
mp_array_class_init (MpArrayClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mp_array_finalize;
}

static void
mp_array_init (MpArray *self)
{
}

static guint8 *
slot (MpArray *self,
      gsize    index)
{
  return (guint8 *) mp_sync_cell_data (self->cell) + index * self->element_size;
}

/**
 * mp_array_new:
 * @element_type: the GVariant type of the elements, one of "b", "y", "n",
 *   "q", "i", "u", "x", "t" or "d"
 * @length: the number of elements
 * @lock: whether the array comes with an #MpRLock (Python's `lock=True`)
 * @error: return location for a #GError
 *
 * A new zero-filled array in shared memory of its own.
 *
 * Returns: (transfer full): the array, or %NULL with @error set
 */
MpArray *
mp_array_new (const char  *element_type,
              gsize        length,
              gboolean     lock,
              GError     **error)
{
  g_autoptr(MpArray) self = NULL;
  gsize size;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  size = mp_element_size (element_type, error);
  if (size == 0)
    return NULL;
  if (length > G_MAXSIZE / size / 2)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The array would be too large"));
      return NULL;
    }
  self = g_object_new (MP_TYPE_ARRAY, NULL);
  self->element_type = g_strdup (element_type);
  self->element_size = size;
  self->length = length;
  /* A new memfd reads as zeros. */
  self->cell = mp_sync_cell_new (MP_SYNC_KIND_ARRAY, length * size, error);
  if (self->cell == NULL)
    return NULL;
  if (lock && (self->lock = mp_rlock_new (error)) == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * mp_array_new_with_values:
 * @values: an array of a type shared memory can hold, such as "ai" (a
 *   floating reference is taken)
 * @lock: whether the array comes with an #MpRLock
 * @error: return location for a #GError
 *
 * A new array in shared memory holding @values (Python's
 * `Array(typecode, initializer)`).
 *
 * Returns: (transfer full): the array, or %NULL with @error set
 */
MpArray *
mp_array_new_with_values (GVariant  *values,
                          gboolean   lock,
                          GError   **error)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(MpArray) self = NULL;
  g_autofree char *element_type = NULL;

  g_return_val_if_fail (values != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sunk = g_variant_ref_sink (values);
  if (!g_variant_is_of_type (values, G_VARIANT_TYPE_ARRAY))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Expected an array, got “%s”"), g_variant_get_type_string (values));
      return NULL;
    }
  element_type = g_strdup (g_variant_get_type_string (values) + 1);
  self = mp_array_new (element_type, g_variant_n_children (values), lock, error);
  if (self == NULL || !mp_array_set_slice (self, 0, values, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * mp_array_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for an array, as
 *   received
 * @error: return location for a #GError
 *
 * The array (and its lock) that @reference stands for, in this process.
 *
 * Returns: (transfer full): the array, or %NULL with @error set
 */
MpArray *
mp_array_new_from_variant (GVariant  *reference,
                           GError   **error)
{
  g_autoptr(GVariant) extra = NULL;
  g_autoptr(GVariant) lock_reference = NULL;
  g_autoptr(MpArray) self = NULL;
  const char *element_type;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MP_TYPE_ARRAY, NULL);
  self->cell = mp_sync_cell_new_from_variant (reference, "mp:array", MP_SYNC_KIND_ARRAY, &extra, error);
  if (self->cell == NULL)
    return NULL;
  if (!g_variant_is_of_type (extra, G_VARIANT_TYPE ("(sv)")))
    goto bad;
  g_variant_get (extra, "(&sv)", &element_type, &lock_reference);
  self->element_size = mp_element_size (element_type, NULL);
  if (self->element_size == 0 || mp_sync_cell_data_size (self->cell) % self->element_size != 0)
    goto bad;
  self->element_type = g_strdup (element_type);
  self->length = mp_sync_cell_data_size (self->cell) / self->element_size;
  if (g_variant_n_children (lock_reference) > 0 &&
      (self->lock = mp_rlock_new_from_variant (lock_reference, error)) == NULL)
    return NULL;
  return g_steal_pointer (&self);

bad:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The reference of a shared array is malformed"));
  return NULL;
}

/**
 * mp_array_get_element_type:
 * @self: an #MpArray
 *
 * The GVariant type of the elements.
 *
 * Returns: a one-character type string
 */
const char *
mp_array_get_element_type (MpArray *self)
{
  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, NULL);

  return self->element_type;
}

/**
 * mp_array_get_length:
 * @self: an #MpArray
 *
 * The number of elements.
 *
 * Returns: the length
 */
gsize
mp_array_get_length (MpArray *self)
{
  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, 0);

  return self->length;
}

static gboolean
check_range (MpArray  *self,
             gsize     start,
             gsize     stop,
             GError  **error)
{
  if (start <= stop && stop <= self->length)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Elements %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " are outside an array of %" G_GSIZE_FORMAT),
               start, stop, self->length);
  return FALSE;
}

/**
 * mp_array_get:
 * @self: an #MpArray
 * @index: an element's index
 * @error: return location for a #GError
 *
 * Reads one element.
 *
 * Returns: (transfer none): a new floating reference to the element, or
 *   %NULL with %G_IO_ERROR_INVALID_ARGUMENT when @index is out of range
 */
GVariant *
mp_array_get (MpArray  *self,
              gsize     index,
              GError  **error)
{
  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (index >= self->length)
    {
      check_range (self, index, index + 1, error);
      return NULL;
    }
  return mp_element_load (self->element_type, slot (self, index));
}

/**
 * mp_array_set:
 * @self: an #MpArray
 * @index: an element's index
 * @value: the new element, of the array's type (a floating reference is
 *   taken)
 * @error: return location for a #GError
 *
 * Writes one element.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_INVALID_ARGUMENT
 */
gboolean
mp_array_set (MpArray   *self,
              gsize      index,
              GVariant  *value,
              GError   **error)
{
  g_autoptr(GVariant) sunk = NULL;

  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sunk = g_variant_ref_sink (value);
  if (index >= self->length)
    return check_range (self, index, index + 1, error);
  return mp_element_store (self->element_type, slot (self, index), value, error);
}

/**
 * mp_array_get_slice:
 * @self: an #MpArray
 * @start: the first element
 * @stop: the element after the last one
 * @error: return location for a #GError
 *
 * Copies elements @start to @stop - 1 (Python's `a[start:stop]`).
 *
 * Returns: (transfer none): a new floating reference to an array of the
 *   elements' type, or %NULL with %G_IO_ERROR_INVALID_ARGUMENT
 */
GVariant *
mp_array_get_slice (MpArray  *self,
                    gsize     start,
                    gsize     stop,
                    GError  **error)
{
  g_autofree char *array_type = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize n;

  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_range (self, start, stop, error))
    return NULL;
  n = (stop - start) * self->element_size;
  if (self->element_type[0] == 'b')
    {
      /* A boolean must be 0 or 1 in a GVariant; the memory may say 2. */
      guint8 *copy = g_malloc (MAX (n, 1));
      for (gsize i = 0; i < n; i++)
        copy[i] = __atomic_load_n (slot (self, start) + i, __ATOMIC_RELAXED) != 0;
      bytes = g_bytes_new_take (copy, n);
    }
  else
    bytes = g_bytes_new (slot (self, start), n);
  array_type = g_strconcat ("a", self->element_type, NULL);
  return g_variant_new_from_bytes (G_VARIANT_TYPE (array_type), bytes, TRUE);
}

/**
 * mp_array_set_slice:
 * @self: an #MpArray
 * @start: where the first element goes
 * @values: an array of the elements' type (a floating reference is taken)
 * @error: return location for a #GError
 *
 * Writes @values from element @start on (Python's
 * `a[start:start + len(values)] = values`).
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_INVALID_ARGUMENT when the
 *   type differs or the values do not fit
 */
gboolean
mp_array_set_slice (MpArray   *self,
                    gsize      start,
                    GVariant  *values,
                    GError   **error)
{
  g_autoptr(GVariant) sunk = NULL;
  gconstpointer data;
  gsize n;

  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (values != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sunk = g_variant_ref_sink (values);
  if (!g_variant_is_of_type (values, G_VARIANT_TYPE_ARRAY) ||
      !g_str_equal (g_variant_get_type_string (values) + 1, self->element_type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Expected an array of “%s”, got “%s”"),
                   self->element_type, g_variant_get_type_string (values));
      return FALSE;
    }
  data = g_variant_get_fixed_array (values, &n, self->element_size);
  if (start > self->length || n > self->length - start)
    return check_range (self, start, start + n, error);
  if (n > 0)
    memcpy (slot (self, start), data, n * self->element_size);
  return TRUE;
}

/**
 * mp_array_get_bytes:
 * @self: an #MpArray
 *
 * The array's memory itself, without a copy: it keeps the memory mapped,
 * and shows what other processes write after this call too.
 *
 * Returns: (transfer full): the elements in native layout
 */
GBytes *
mp_array_get_bytes (MpArray *self)
{
  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, NULL);

  return mp_sync_cell_data_bytes (self->cell, 0, self->length * self->element_size);
}

/**
 * mp_array_get_lock:
 * @self: an #MpArray
 *
 * The lock for compound updates, when the array was made with one.
 *
 * Returns: (transfer none) (nullable): the lock, or %NULL
 */
MpRLock *
mp_array_get_lock (MpArray *self)
{
  g_return_val_if_fail (MP_IS_ARRAY (self) && self->cell != NULL, NULL);

  return self->lock;
}
