/* mp-element.c: the elements of shared values and arrays
 * (see mp-element-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "mp-element-private.h"

gsize
mp_element_size (const char  *type_string,
                 GError     **error)
{
  if (type_string != NULL && type_string[0] != '\0' && type_string[1] == '\0')
    switch (type_string[0])
      {
      case 'b': case 'y':
        return 1;
      case 'n': case 'q':
        return 2;
      case 'i': case 'u':
        return 4;
      case 'x': case 't': case 'd':
        return 8;
      default:
        break;
      }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Shared memory holds numbers and booleans (one of “bynqiuxtd”), not “%s”"),
               type_string ? type_string : "(null)");
  return 0;
}

GVariant *
mp_element_load (const char *type_string,
                 const void *slot)
{
  switch (type_string[0])
    {
    case 'b':
      return g_variant_new_boolean (__atomic_load_n ((const guint8 *) slot, __ATOMIC_ACQUIRE) != 0);
    case 'y':
      return g_variant_new_byte (__atomic_load_n ((const guint8 *) slot, __ATOMIC_ACQUIRE));
    case 'n':
      return g_variant_new_int16 ((gint16) __atomic_load_n ((const guint16 *) slot, __ATOMIC_ACQUIRE));
    case 'q':
      return g_variant_new_uint16 (__atomic_load_n ((const guint16 *) slot, __ATOMIC_ACQUIRE));
    case 'i':
      return g_variant_new_int32 ((gint32) __atomic_load_n ((const guint32 *) slot, __ATOMIC_ACQUIRE));
    case 'u':
      return g_variant_new_uint32 (__atomic_load_n ((const guint32 *) slot, __ATOMIC_ACQUIRE));
    case 'x':
      return g_variant_new_int64 ((gint64) __atomic_load_n ((const guint64 *) slot, __ATOMIC_ACQUIRE));
    case 't':
      return g_variant_new_uint64 (__atomic_load_n ((const guint64 *) slot, __ATOMIC_ACQUIRE));
    case 'd':
      return g_variant_new_double (mp_element_load_double (slot));
    default:
      g_assert_not_reached ();
    }
}

gboolean
mp_element_store (const char  *type_string,
                  void        *slot,
                  GVariant    *value,
                  GError     **error)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (value);

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE (type_string)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Expected a value of type “%s”, got “%s”"),
                   type_string, g_variant_get_type_string (value));
      return FALSE;
    }
  switch (type_string[0])
    {
    case 'b':
      __atomic_store_n ((guint8 *) slot, g_variant_get_boolean (value) ? 1 : 0, __ATOMIC_RELEASE);
      break;
    case 'y':
      __atomic_store_n ((guint8 *) slot, g_variant_get_byte (value), __ATOMIC_RELEASE);
      break;
    case 'n':
      __atomic_store_n ((guint16 *) slot, (guint16) g_variant_get_int16 (value), __ATOMIC_RELEASE);
      break;
    case 'q':
      __atomic_store_n ((guint16 *) slot, g_variant_get_uint16 (value), __ATOMIC_RELEASE);
      break;
    case 'i':
      __atomic_store_n ((guint32 *) slot, (guint32) g_variant_get_int32 (value), __ATOMIC_RELEASE);
      break;
    case 'u':
      __atomic_store_n ((guint32 *) slot, g_variant_get_uint32 (value), __ATOMIC_RELEASE);
      break;
    case 'x':
      __atomic_store_n ((guint64 *) slot, (guint64) g_variant_get_int64 (value), __ATOMIC_RELEASE);
      break;
    case 't':
      __atomic_store_n ((guint64 *) slot, g_variant_get_uint64 (value), __ATOMIC_RELEASE);
      break;
    case 'd':
      mp_element_store_double (slot, g_variant_get_double (value));
      break;
    default:
      g_assert_not_reached ();
    }
  return TRUE;
}

static gboolean
integer_of (GVariant *value,
            gint64   *out)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BYTE:   *out = g_variant_get_byte (value); return TRUE;
    case G_VARIANT_CLASS_INT16:  *out = g_variant_get_int16 (value); return TRUE;
    case G_VARIANT_CLASS_UINT16: *out = g_variant_get_uint16 (value); return TRUE;
    case G_VARIANT_CLASS_INT32:  *out = g_variant_get_int32 (value); return TRUE;
    case G_VARIANT_CLASS_UINT32: *out = g_variant_get_uint32 (value); return TRUE;
    case G_VARIANT_CLASS_INT64:  *out = g_variant_get_int64 (value); return TRUE;
    case G_VARIANT_CLASS_UINT64: *out = (gint64) g_variant_get_uint64 (value); return TRUE;
    default: return FALSE;
    }
}

GVariant *
mp_element_add (const char  *type_string,
                void        *slot,
                GVariant    *delta,
                GError     **error)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (delta);
  gint64 n = 0;

  if (type_string[0] == 'd')
    {
      double d;
      guint64 old_bits;

      if (g_variant_is_of_type (delta, G_VARIANT_TYPE_DOUBLE))
        d = g_variant_get_double (delta);
      else if (integer_of (delta, &n))
        d = (double) n;
      else
        goto bad;
      old_bits = __atomic_load_n ((guint64 *) slot, __ATOMIC_ACQUIRE);
      for (;;)
        {
          double old_d, new_d;
          guint64 new_bits;

          memcpy (&old_d, &old_bits, sizeof old_d);
          new_d = old_d + d;
          memcpy (&new_bits, &new_d, sizeof new_bits);
          if (__atomic_compare_exchange_n ((guint64 *) slot, &old_bits, new_bits, FALSE,
                                           __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return g_variant_new_double (new_d);
        }
    }

  if (type_string[0] == 'b' || !integer_of (delta, &n))
    goto bad;
  /* Two's complement: the same addition for signed and unsigned, wrapping
   * as C (and Python's ctypes) does. */
  {
    /* What this add made, not what another process added since. */
    union { guint8 u8; guint16 u16; guint32 u32; guint64 u64; } sum;

    switch (mp_element_size (type_string, NULL))
      {
      case 1:
        sum.u8 = __atomic_add_fetch ((guint8 *) slot, (guint8) n, __ATOMIC_SEQ_CST);
        break;
      case 2:
        sum.u16 = __atomic_add_fetch ((guint16 *) slot, (guint16) n, __ATOMIC_SEQ_CST);
        break;
      case 4:
        sum.u32 = __atomic_add_fetch ((guint32 *) slot, (guint32) n, __ATOMIC_SEQ_CST);
        break;
      default:
        sum.u64 = __atomic_add_fetch ((guint64 *) slot, (guint64) n, __ATOMIC_SEQ_CST);
        break;
      }
    return mp_element_load (type_string, &sum);
  }

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Cannot add a value of type “%s” to one of type “%s”"),
               g_variant_get_type_string (delta), type_string);
  return NULL;
}

static gboolean
not_integer (const char  *type_string,
             GError     **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("A value of type “%s” is not an integer"), type_string);
  return FALSE;
}

gboolean
mp_element_load_int64 (const char  *type_string,
                       const void  *slot,
                       gint64      *value,
                       GError     **error)
{
  switch (type_string[0])
    {
    case 'b': *value = __atomic_load_n ((const guint8 *) slot, __ATOMIC_ACQUIRE) != 0; return TRUE;
    case 'y': *value = __atomic_load_n ((const guint8 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    case 'n': *value = (gint16) __atomic_load_n ((const guint16 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    case 'q': *value = __atomic_load_n ((const guint16 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    case 'i': *value = (gint32) __atomic_load_n ((const guint32 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    case 'u': *value = __atomic_load_n ((const guint32 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    case 'x':
    case 't': *value = (gint64) __atomic_load_n ((const guint64 *) slot, __ATOMIC_ACQUIRE); return TRUE;
    default: return not_integer (type_string, error);
    }
}

gboolean
mp_element_store_int64 (const char  *type_string,
                        void        *slot,
                        gint64       value,
                        GError     **error)
{
  gint64 low, high;

  switch (type_string[0])
    {
    case 'b': low = 0; high = 1; break;
    case 'y': low = 0; high = G_MAXUINT8; break;
    case 'n': low = G_MININT16; high = G_MAXINT16; break;
    case 'q': low = 0; high = G_MAXUINT16; break;
    case 'i': low = G_MININT32; high = G_MAXINT32; break;
    case 'u': low = 0; high = G_MAXUINT32; break;
    case 'x': case 't': low = G_MININT64; high = G_MAXINT64; break;
    default: return not_integer (type_string, error);
    }
  if (value < low || value > high)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("%" G_GINT64_FORMAT " does not fit a value of type “%s”"), value, type_string);
      return FALSE;
    }
  switch (mp_element_size (type_string, NULL))
    {
    case 1: __atomic_store_n ((guint8 *) slot, (guint8) value, __ATOMIC_RELEASE); break;
    case 2: __atomic_store_n ((guint16 *) slot, (guint16) value, __ATOMIC_RELEASE); break;
    case 4: __atomic_store_n ((guint32 *) slot, (guint32) value, __ATOMIC_RELEASE); break;
    default: __atomic_store_n ((guint64 *) slot, (guint64) value, __ATOMIC_RELEASE); break;
    }
  return TRUE;
}
