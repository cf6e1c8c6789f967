/* mp-element-private.h: the elements of shared values and arrays
 *
 * Fixed-size basic GVariant types (b y n q i u x t d) stored in native
 * layout in shared memory, each naturally aligned, loaded and stored
 * whole (atomically), so that a reader never sees half a write.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

/* A "d" element: the double's bits, loaded and stored whole. */
static inline double
mp_element_load_double (const void *slot)
{
  guint64 bits = __atomic_load_n ((const guint64 *) slot, __ATOMIC_ACQUIRE);
  double d;

  memcpy (&d, &bits, sizeof d);
  return d;
}

static inline void
mp_element_store_double (void   *slot,
                         double  d)
{
  guint64 bits;

  memcpy (&bits, &d, sizeof bits);
  __atomic_store_n ((guint64 *) slot, bits, __ATOMIC_RELEASE);
}

/* The element size of @type_string, or 0 (with @error set) when it is not
 * a type shared memory can hold. */
gsize      mp_element_size       (const char   *type_string,
                                  GError      **error);
GVariant  *mp_element_load       (const char   *type_string,
                                  const void   *slot);
gboolean   mp_element_store      (const char   *type_string,
                                  void         *slot,
                                  GVariant     *value,
                                  GError      **error);
/* Adds @delta (any integer type, or a double for "d") atomically and
 * returns the new value. */
GVariant  *mp_element_add        (const char   *type_string,
                                  void         *slot,
                                  GVariant     *delta,
                                  GError      **error);

/* Without a GVariant, for the typed accessors of MpValue: integers and
 * booleans as gint64, "d" as a double. */
gboolean   mp_element_load_int64  (const char   *type_string,
                                   const void   *slot,
                                   gint64       *value,
                                   GError      **error);
gboolean   mp_element_store_int64 (const char   *type_string,
                                   void         *slot,
                                   gint64        value,
                                   GError      **error);

G_END_DECLS
