/* mp-value.c: a typed value in shared memory
 *
 * One element (mp-element-private.h) in the data of a shared cell, read
 * and written whole; the optional recursive lock is for the caller's
 * compound updates, as in Python.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-element-private.h"
#include "mp-sync-private.h"

/**
 * MpValue:
 *
 * Python's `multiprocessing.Value`: a number or boolean (a GVariant basic
 * type, one of "bynqiuxtd") in shared memory. Every read and write is
 * whole; mp_value_add() adds atomically, without the lock. For other
 * read-modify-write steps, hold the value's lock (mp_value_get_lock()),
 * as `with v.get_lock(): v.value += 1` does in Python.
 */
struct _MpValue
{
  GObject      parent_instance;
  MpSyncCell  *cell;
  char        *type_string;
  MpRLock     *lock;
};

static void mp_value_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpValue, mp_value, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_value_shareable_init))

static GVariant *
mp_value_to_variant (MpShareable *shareable)
{
  MpValue *self = MP_VALUE (shareable);

  return mp_sync_cell_to_variant (self->cell, "mp:value",
                                  g_variant_new ("(sv)", self->type_string,
                                                 self->lock ? mp_shareable_to_variant (MP_SHAREABLE (self->lock))
                                                            : g_variant_new ("()")));
}

static void
mp_value_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_value_to_variant;
}

static void
mp_value_finalize (GObject *object)
{
  MpValue *self = MP_VALUE (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  g_clear_pointer (&self->type_string, g_free);
  g_clear_object (&self->lock);
  G_OBJECT_CLASS (mp_value_parent_class)->finalize (object);
}

static void
mp_value_class_init (MpValueClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mp_value_finalize;
}

static void
mp_value_init (MpValue *self)
{
}

/**
 * mp_value_new:
 * @type_string: the GVariant type of the value, one of "b", "y", "n",
 *   "q", "i", "u", "x", "t" or "d"
 * @initial: (nullable): the first value, of that type; %NULL for zero
 * @lock: whether the value comes with an #MpRLock (Python's `lock=True`)
 * @error: return location for a #GError
 *
 * A new value in shared memory of its own.
 *
 * Returns: (transfer full): the value, or %NULL with @error set for a type
 *   shared memory cannot hold or an initial value of another type
 */
MpValue *
mp_value_new (const char  *type_string,
              GVariant    *initial,
              gboolean     lock,
              GError     **error)
{
  g_autoptr(GVariant) sunk = initial ? g_variant_ref_sink (initial) : NULL;
  g_autoptr(MpValue) self = NULL;
  gsize size;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  size = mp_element_size (type_string, error);
  if (size == 0)
    return NULL;
  self = g_object_new (MP_TYPE_VALUE, NULL);
  self->type_string = g_strdup (type_string);
  self->cell = mp_sync_cell_new (MP_SYNC_KIND_VALUE, size, error);
  if (self->cell == NULL)
    return NULL;
  if (initial != NULL && !mp_element_store (type_string, mp_sync_cell_data (self->cell), initial, error))
    return NULL;
  if (lock && (self->lock = mp_rlock_new (error)) == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * mp_value_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a shared
 *   value, as received
 * @error: return location for a #GError
 *
 * The shared value (and its lock) that @reference stands for, in this
 * process.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
MpValue *
mp_value_new_from_variant (GVariant  *reference,
                           GError   **error)
{
  g_autoptr(GVariant) extra = NULL;
  g_autoptr(GVariant) lock_reference = NULL;
  g_autoptr(MpValue) self = NULL;
  const char *type_string;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MP_TYPE_VALUE, NULL);
  self->cell = mp_sync_cell_new_from_variant (reference, "mp:value", MP_SYNC_KIND_VALUE, &extra, error);
  if (self->cell == NULL)
    return NULL;
  if (!g_variant_is_of_type (extra, G_VARIANT_TYPE ("(sv)")))
    goto bad;
  g_variant_get (extra, "(&sv)", &type_string, &lock_reference);
  if (mp_element_size (type_string, NULL) != mp_sync_cell_data_size (self->cell))
    goto bad;
  self->type_string = g_strdup (type_string);
  if (g_variant_n_children (lock_reference) > 0 &&
      (self->lock = mp_rlock_new_from_variant (lock_reference, error)) == NULL)
    return NULL;
  return g_steal_pointer (&self);

bad:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The reference of a shared value is malformed"));
  return NULL;
}

/**
 * mp_value_get_type_string:
 * @self: an #MpValue
 *
 * The GVariant type of the value.
 *
 * Returns: a one-character type string
 */
const char *
mp_value_get_type_string (MpValue *self)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, NULL);

  return self->type_string;
}

/**
 * mp_value_get:
 * @self: an #MpValue
 *
 * Reads the value.
 *
 * Returns: (transfer none): a new floating reference to the value right now
 */
GVariant *
mp_value_get (MpValue *self)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, NULL);

  return mp_element_load (self->type_string, mp_sync_cell_data (self->cell));
}

/**
 * mp_value_set:
 * @self: an #MpValue
 * @value: the new value, of the value's type (a floating reference is
 *   taken)
 * @error: return location for a #GError
 *
 * Writes the value.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_INVALID_ARGUMENT when @value
 *   has another type
 */
gboolean
mp_value_set (MpValue   *self,
              GVariant  *value,
              GError   **error)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mp_element_store (self->type_string, mp_sync_cell_data (self->cell), value, error);
}

/**
 * mp_value_add:
 * @self: an #MpValue
 * @delta: what to add: any integer type, or a double for a "d" value (a
 *   floating reference is taken)
 * @error: return location for a #GError
 *
 * Adds @delta in one atomic step, so that additions from many processes
 * are never lost, without taking the lock. Integers wrap around as in C.
 *
 * Returns: (transfer none): a new floating reference to the value this
 *   addition made, or %NULL with %G_IO_ERROR_INVALID_ARGUMENT for a boolean
 *   value or a @delta that is not a number
 */
GVariant *
mp_value_add (MpValue   *self,
              GVariant  *delta,
              GError   **error)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, NULL);
  g_return_val_if_fail (delta != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return mp_element_add (self->type_string, mp_sync_cell_data (self->cell), delta, error);
}

/**
 * mp_value_get_int:
 * @self: an #MpValue of an integer or boolean type
 * @error: return location for a #GError
 *
 * Reads the value as an integer, without making a GVariant (a "t" value
 * above %G_MAXINT64 comes back negative, as a cast would give it).
 *
 * Returns: the value, or 0 with %G_IO_ERROR_INVALID_ARGUMENT for a "d"
 *   value
 */
gint64
mp_value_get_int (MpValue  *self,
                  GError  **error)
{
  gint64 value = 0;

  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  mp_element_load_int64 (self->type_string, mp_sync_cell_data (self->cell), &value, error);
  return value;
}

/**
 * mp_value_set_int:
 * @self: an #MpValue of an integer or boolean type
 * @value: the new value
 * @error: return location for a #GError
 *
 * Writes the value without making a GVariant.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_INVALID_ARGUMENT when @value
 *   does not fit the value's type or the value is a "d"
 */
gboolean
mp_value_set_int (MpValue  *self,
                  gint64    value,
                  GError  **error)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mp_element_store_int64 (self->type_string, mp_sync_cell_data (self->cell), value, error);
}

/**
 * mp_value_get_double:
 * @self: an #MpValue
 *
 * Reads the value as a double, without making a GVariant; integers are
 * converted.
 *
 * Returns: the value
 */
double
mp_value_get_double (MpValue *self)
{
  gint64 value;

  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, 0);

  if (self->type_string[0] == 'd')
    return mp_element_load_double (mp_sync_cell_data (self->cell));
  mp_element_load_int64 (self->type_string, mp_sync_cell_data (self->cell), &value, NULL);
  return self->type_string[0] == 't' ? (double) (guint64) value : (double) value;
}

/**
 * mp_value_set_double:
 * @self: an #MpValue of type "d"
 * @value: the new value
 * @error: return location for a #GError
 *
 * Writes a "d" value without making a GVariant.
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_INVALID_ARGUMENT for a value
 *   of another type
 */
gboolean
mp_value_set_double (MpValue  *self,
                     double    value,
                     GError  **error)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->type_string[0] != 'd')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Expected a value of type “%s”, got “%s”"), self->type_string, "d");
      return FALSE;
    }
  mp_element_store_double (mp_sync_cell_data (self->cell), value);
  return TRUE;
}

/**
 * mp_value_get_lock:
 * @self: an #MpValue
 *
 * The lock for compound updates, when the value was made with one.
 *
 * Returns: (transfer none) (nullable): the lock, or %NULL
 */
MpRLock *
mp_value_get_lock (MpValue *self)
{
  g_return_val_if_fail (MP_IS_VALUE (self) && self->cell != NULL, NULL);

  return self->lock;
}
