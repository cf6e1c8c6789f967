/* mp-ring-private.h: a ring of records in shared memory, for many
 * writers and many readers in many processes
 *
 * The ring is a memfd that every holder maps: a header with two robust
 * process-shared locks (one for writers, one for readers) and the two
 * positions they move, then the records. A record is a small tag chosen
 * by the user, an optional GVariant type string and some bytes (8-byte
 * aligned, so a GVariant can be serialized in place); it never wraps
 * around the end of the ring.
 *
 * A record exists for readers once the writer moves the head past it,
 * in one store: a writer killed while it writes leaves nothing behind,
 * and a reader killed while it reads leaves the record in place. Either
 * way the next holder of the lock is told that the last one died
 * (EOWNERDEAD) and goes on: the positions are always consistent.
 *
 * Readers and writers that have to wait count themselves in the header
 * and sleep on an eventfd each ("items", "room"), which a main loop can
 * watch; the other side writes to it only when somebody waits and the
 * ring has just become non-empty, or half free.
 *
 * This layer knows records and bytes only: what a tag means is up to the
 * class that uses the ring.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MpRing MpRing;

#define MP_RING_DEFAULT_CAPACITY (512u * 1024u)
#define MP_RING_HEADER_SIZE      4096u   /* the records start here in the memfd */
#define MP_RING_USER_AREA_SIZE   256u
#define MP_RING_TAG_PAD          0u  /* reserved: the rest of the ring is skipped */
#define MP_RING_MAX_TYPE_LEN     255u

typedef struct
{
  guint8        tag;
  char          type[MP_RING_MAX_TYPE_LEN + 1]; /* "" for none */
  const guint8 *data;                           /* in the shared mapping */
  gsize         size;
} MpRingRecord;

MpRing     *mp_ring_new             (guint32        capacity,
                                     GError       **error);
/* Takes the three descriptors, closing them on error. */
MpRing     *mp_ring_new_from_fds    (int            shm_fd,
                                     int            items_fd,
                                     int            room_fd,
                                     GError       **error);
void        mp_ring_free            (MpRing        *ring);
void        mp_ring_get_fds         (MpRing        *ring,
                                     int            fds[3]);
/* MP_RING_USER_AREA_SIZE zeroed bytes in the shared header, for the
 * ring's user. */
gpointer    mp_ring_get_user_area   (MpRing        *ring);
/* Largest record data that mp_ring_write() ever takes. */
gsize       mp_ring_get_max_record  (MpRing        *ring);

/* Writers: all of it under the writers' lock. */
gboolean    mp_ring_lock_writers    (MpRing        *ring,
                                     GError       **error);
/* Releases the lock and wakes a waiting reader when the ring went from
 * empty to non-empty. */
void        mp_ring_unlock_writers  (MpRing        *ring);
gboolean    mp_ring_has_room        (MpRing        *ring,
                                     gsize          type_len,
                                     gsize          size);
/* Writes and publishes one record; mp_ring_has_room() said yes. @fill
 * writes @size bytes at the place given (or NULL: copies @data). */
typedef void (*MpRingFillFunc) (gpointer dest, gpointer user_data);
void        mp_ring_write           (MpRing        *ring,
                                     guint8         tag,
                                     const char    *type,
                                     gsize          size,
                                     MpRingFillFunc fill,
                                     gpointer       data);
/* A counter kept with the writers' lock, for numbering what a writer
 * sends next to the ring. */
guint32     mp_ring_next_serial     (MpRing        *ring);

/* Waits until a record of that size may fit (or @deadline_us, or
 * @cancellable); without the lock. */
gboolean    mp_ring_wait_room       (MpRing        *ring,
                                     gsize          type_len,
                                     gsize          size,
                                     gint64         deadline_us,
                                     GCancellable  *cancellable,
                                     GError       **error);

/* Readers: under the readers' lock. */
gboolean    mp_ring_lock_readers    (MpRing        *ring,
                                     GError       **error);
/* Releases the lock, passing the wake-up on to another waiting reader
 * when records are left and to a waiting writer once there is room. */
void        mp_ring_unlock_readers  (MpRing        *ring);
/* 1 with the oldest record, 0 when the ring is empty, -1 with
 * MP_ERROR_PROTOCOL when the shared memory holds no valid record (what
 * it held is dropped). The record stays until mp_ring_consume(). */
int         mp_ring_peek            (MpRing        *ring,
                                     MpRingRecord  *record,
                                     GError       **error);
void        mp_ring_consume         (MpRing        *ring);
gboolean    mp_ring_is_empty        (MpRing        *ring);

/* Waiting for records, without the lock: as a blocking call, or from a
 * main loop (add a waiter, watch the "items" eventfd, clear it before
 * each try, remove the waiter when done). */
gboolean    mp_ring_wait_items      (MpRing        *ring,
                                     gint64         deadline_us,
                                     GCancellable  *cancellable,
                                     GError       **error);
void        mp_ring_add_reader_waiter    (MpRing *ring);
void        mp_ring_remove_reader_waiter (MpRing *ring);
int         mp_ring_get_items_fd    (MpRing        *ring);
void        mp_ring_clear_items_fd  (MpRing        *ring);

G_END_DECLS
