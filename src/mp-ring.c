/* mp-ring.c: a ring of records in shared memory (see mp-ring-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-ring-private.h"
#include "mp-runtime-private.h"
#include "mp-wire-private.h"

#define RING_MAGIC        0x474e524du  /* "MRNG" */
#define HEADER_SIZE       MP_RING_HEADER_SIZE
#define RECORD_HEADER     8u
#define MIN_CAPACITY      (64u * 1024u)
#define MAX_CAPACITY      (64u * 1024u * 1024u)
#define ALIGN8(n)         (((n) + 7u) & ~(gsize) 7u)


typedef struct
{
  guint32 size;      /* bytes of data */
  guint8  tag;
  guint8  type_len;
  guint16 zero;
} RecordHeader;

G_STATIC_ASSERT (sizeof (RecordHeader) == RECORD_HEADER);

/* Each side's fields on their own cache lines: a writer and a reader on
 * two cores only share what they must. */
typedef struct
{
  guint32 magic;
  guint32 capacity;

  _Alignas (64) pthread_mutex_t writers;
  guint64 head;          /* end of the published records */
  guint32 next_serial;

  _Alignas (64) pthread_mutex_t readers;
  guint64 tail;          /* start of the oldest record */

  _Alignas (64) gint32 reader_waiters;
  gint32 writer_waiters;

  _Alignas (64) guint8 user[MP_RING_USER_AREA_SIZE];
} RingShared;

G_STATIC_ASSERT (sizeof (RingShared) <= HEADER_SIZE);

struct _MpRing
{
  int         shm_fd;
  int         items_fd;
  int         room_fd;
  RingShared *shared;
  guint8     *records;
  guint32     capacity;

  /* Kept under the writers' lock. */
  guint64     cached_tail;
  guint64     head_at_lock;
  gboolean    wrote;

  /* Kept under the readers' lock. */
  guint64     peeked_end;
  gboolean    consumed;
};

static gboolean
set_errno_error (GError     **error,
                 const char  *what)
{
  int errsv = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

static void
signal_fd (int fd)
{
  guint64 one = 1;

  while (write (fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

static void
clear_fd (int fd)
{
  guint64 count;

  while (read (fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
}

static gboolean
init_lock (pthread_mutex_t *lock)
{
  pthread_mutexattr_t attr;
  int rc;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  rc = pthread_mutex_init (lock, &attr);
  pthread_mutexattr_destroy (&attr);
  errno = rc;
  return rc == 0;
}

/* A holder that died left the positions as they were before or after
 * its one store: consistent either way. The lock is held for a few
 * hundred instructions at most, so a short spin beats sleeping in the
 * kernel (robust mutexes do not spin by themselves). */
static gboolean
take_lock (pthread_mutex_t  *lock,
           GError          **error)
{
  int rc = pthread_mutex_trylock (lock);

  for (guint i = 0; rc == EBUSY && i < 200; i++)
    {
      mp_cpu_relax ();
      rc = pthread_mutex_trylock (lock);
    }
  if (rc == EBUSY)
    rc = pthread_mutex_lock (lock);
  if (rc == EOWNERDEAD)
    rc = pthread_mutex_consistent (lock);
  if (rc != 0)
    {
      errno = rc;
      return set_errno_error (error, _("Could not lock shared memory"));
    }
  return TRUE;
}

static MpRing *
ring_map (int      shm_fd,
          int      items_fd,
          int      room_fd,
          guint32  capacity,
          GError **error)
{
  MpRing *ring = g_new0 (MpRing, 1);
  void *map;

  ring->shm_fd = shm_fd;
  ring->items_fd = items_fd;
  ring->room_fd = room_fd;
  ring->capacity = capacity;
  map = mmap (NULL, HEADER_SIZE + capacity, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
  if (map == MAP_FAILED)
    {
      set_errno_error (error, _("Could not map shared memory"));
      mp_ring_free (ring);
      return NULL;
    }
  ring->shared = map;
  ring->records = (guint8 *) map + HEADER_SIZE;
  return ring;
}

MpRing *
mp_ring_new (guint32   capacity,
             GError  **error)
{
  int shm_fd = -1, items_fd = -1, room_fd = -1;
  MpRing *ring;

  g_return_val_if_fail (capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY, NULL);
  g_return_val_if_fail ((capacity & (capacity - 1)) == 0, NULL);

  shm_fd = memfd_create ("mp-ring", MFD_CLOEXEC);
  if (shm_fd < 0 || ftruncate (shm_fd, HEADER_SIZE + capacity) != 0)
    goto fail;
  items_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  room_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (items_fd < 0 || room_fd < 0)
    goto fail;

  ring = ring_map (shm_fd, items_fd, room_fd, capacity, error);
  if (ring == NULL)
    return NULL;
  if (!init_lock (&ring->shared->writers) || !init_lock (&ring->shared->readers))
    {
      set_errno_error (error, _("Could not make a shared lock"));
      mp_ring_free (ring);
      return NULL;
    }
  ring->shared->capacity = capacity;
  __atomic_store_n (&ring->shared->magic, RING_MAGIC, __ATOMIC_RELEASE);
  return ring;

fail:
  set_errno_error (error, _("Could not make shared memory"));
  if (shm_fd >= 0)
    close (shm_fd);
  if (items_fd >= 0)
    close (items_fd);
  if (room_fd >= 0)
    close (room_fd);
  return NULL;
}

MpRing *
mp_ring_new_from_fds (int      shm_fd,
                      int      items_fd,
                      int      room_fd,
                      GError **error)
{
  struct stat st;
  guint32 capacity;
  MpRing *ring;

  if (fstat (shm_fd, &st) != 0 || !S_ISREG (st.st_mode) ||
      st.st_size < HEADER_SIZE + MIN_CAPACITY || st.st_size > HEADER_SIZE + MAX_CAPACITY)
    goto bad;
  capacity = st.st_size - HEADER_SIZE;
  if ((capacity & (capacity - 1)) != 0)
    goto bad;
  ring = ring_map (shm_fd, items_fd, room_fd, capacity, error);
  if (ring == NULL)
    return NULL;
  if (__atomic_load_n (&ring->shared->magic, __ATOMIC_ACQUIRE) != RING_MAGIC ||
      ring->shared->capacity != capacity)
    {
      mp_ring_free (ring);
      goto bad_no_close;
    }
  return ring;

bad:
  close (shm_fd);
  close (items_fd);
  close (room_fd);
bad_no_close:
  g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("The shared memory is not a libmp ring"));
  return NULL;
}

void
mp_ring_free (MpRing *ring)
{
  if (ring == NULL)
    return;
  if (ring->shared != NULL)
    munmap (ring->shared, HEADER_SIZE + ring->capacity);
  if (ring->shm_fd >= 0)
    close (ring->shm_fd);
  if (ring->items_fd >= 0)
    close (ring->items_fd);
  if (ring->room_fd >= 0)
    close (ring->room_fd);
  g_free (ring);
}

void
mp_ring_get_fds (MpRing *ring,
                 int     fds[3])
{
  fds[0] = ring->shm_fd;
  fds[1] = ring->items_fd;
  fds[2] = ring->room_fd;
}

gpointer
mp_ring_get_user_area (MpRing *ring)
{
  return ring->shared->user;
}

gsize
mp_ring_get_max_record (MpRing *ring)
{
  /* Keeps the wait for half the ring free (see mp_ring_unlock_readers)
   * enough for any record, padding included. */
  return ring->capacity / 8;
}

/* ---- writers -------------------------------------------------------------- */

gboolean
mp_ring_lock_writers (MpRing  *ring,
                      GError **error)
{
  if (!take_lock (&ring->shared->writers, error))
    return FALSE;
  ring->head_at_lock = ring->shared->head;
  ring->wrote = FALSE;
  return TRUE;
}

void
mp_ring_unlock_writers (MpRing *ring)
{
  gboolean wrote = ring->wrote;
  guint64 head_at_lock = ring->head_at_lock;

  pthread_mutex_unlock (&ring->shared->writers);

  /* Readers sleep only on an empty ring: wake one if it was empty before
   * these records and somebody waits. The stores and loads here and in
   * mp_ring_wait_items() are sequentially consistent, so either the
   * reader sees the records or this sees the reader. */
  if (wrote &&
      __atomic_load_n (&ring->shared->reader_waiters, __ATOMIC_SEQ_CST) > 0 &&
      __atomic_load_n (&ring->shared->tail, __ATOMIC_SEQ_CST) == head_at_lock)
    signal_fd (ring->items_fd);
}

/* Bytes a record of @total bytes needs at @head: itself, plus the
 * padding that skips to the start when it does not fit before the end. */
static gsize
space_needed (MpRing  *ring,
              guint64  head,
              gsize    total)
{
  gsize to_end = ring->capacity - (head & (ring->capacity - 1));

  return to_end < total ? to_end + total : total;
}

/* The data start 8-aligned, as GVariant wants to serialize in place. */
static gsize
data_offset (gsize type_len)
{
  return ALIGN8 (RECORD_HEADER + type_len);
}

static gsize
record_total (gsize type_len,
              gsize size)
{
  return data_offset (type_len) + ALIGN8 (size);
}

gboolean
mp_ring_has_room (MpRing *ring,
                  gsize   type_len,
                  gsize   size)
{
  guint64 head = ring->shared->head;
  gsize needed;

  if (type_len > MP_RING_MAX_TYPE_LEN || size > mp_ring_get_max_record (ring))
    return FALSE;
  needed = space_needed (ring, head, record_total (type_len, size));
  if (head + needed - ring->cached_tail <= ring->capacity)
    return TRUE;
  ring->cached_tail = __atomic_load_n (&ring->shared->tail, __ATOMIC_ACQUIRE);
  return head + needed - ring->cached_tail <= ring->capacity;
}

void
mp_ring_write (MpRing         *ring,
               guint8          tag,
               const char     *type,
               gsize           size,
               MpRingFillFunc  fill,
               gpointer        data)
{
  guint64 head = ring->shared->head;
  gsize type_len = type ? strlen (type) : 0;
  gsize total = record_total (type_len, size);
  gsize offset = head & (ring->capacity - 1);
  RecordHeader header = { (guint32) size, tag, (guint8) type_len, 0 };
  guint8 *at;

  g_assert (tag != MP_RING_TAG_PAD);
  if (ring->capacity - offset < total)
    {
      RecordHeader pad = { 0, MP_RING_TAG_PAD, 0, 0 };

      memcpy (ring->records + offset, &pad, sizeof pad);
      head += ring->capacity - offset;
      offset = 0;
    }
  at = ring->records + offset;
  memcpy (at, &header, sizeof header);
  if (type_len > 0)
    memcpy (at + RECORD_HEADER, type, type_len);
  if (fill != NULL)
    fill (at + data_offset (type_len), data);
  else if (size > 0)   /* an empty record may come with no data at all */
    memcpy (at + data_offset (type_len), data, size);

  /* The one store that makes the record exist. */
  __atomic_store_n (&ring->shared->head, head + total, __ATOMIC_SEQ_CST);
  ring->wrote = TRUE;
}

guint32
mp_ring_next_serial (MpRing *ring)
{
  return ring->shared->next_serial++;
}

gboolean
mp_ring_wait_room (MpRing        *ring,
                   gsize          type_len,
                   gsize          size,
                   gint64         deadline_us,
                   GCancellable  *cancellable,
                   GError       **error)
{
  RingShared *shared = ring->shared;
  gsize total = record_total (type_len, size);
  gboolean ok = TRUE;

  __atomic_add_fetch (&shared->writer_waiters, 1, __ATOMIC_SEQ_CST);
  for (;;)
    {
      guint64 head = __atomic_load_n (&shared->head, __ATOMIC_SEQ_CST);
      guint64 tail = __atomic_load_n (&shared->tail, __ATOMIC_SEQ_CST);

      if (head + space_needed (ring, head, total) - tail <= ring->capacity)
        break;
      if (!mp_wait_fd (ring->room_fd, G_IO_IN, deadline_us, cancellable, error))
        {
          ok = FALSE;
          break;
        }
      clear_fd (ring->room_fd);
    }
  __atomic_sub_fetch (&shared->writer_waiters, 1, __ATOMIC_SEQ_CST);
  return ok;
}

/* ---- readers -------------------------------------------------------------- */

gboolean
mp_ring_lock_readers (MpRing  *ring,
                      GError **error)
{
  if (!take_lock (&ring->shared->readers, error))
    return FALSE;
  ring->consumed = FALSE;
  return TRUE;
}

void
mp_ring_unlock_readers (MpRing *ring)
{
  RingShared *shared = ring->shared;
  gboolean consumed = ring->consumed;

  pthread_mutex_unlock (&shared->readers);
  if (!consumed)
    return;

  /* The reader woken for one record passes the wake-up on while more
   * are left: a writer only signals an empty ring. */
  if (__atomic_load_n (&shared->reader_waiters, __ATOMIC_SEQ_CST) > 0 &&
      __atomic_load_n (&shared->head, __ATOMIC_SEQ_CST) !=
      __atomic_load_n (&shared->tail, __ATOMIC_SEQ_CST))
    signal_fd (ring->items_fd);

  /* A waiting writer is woken once half the ring is free, not at every
   * record: it then fills what it can in one go. */
  if (__atomic_load_n (&shared->writer_waiters, __ATOMIC_SEQ_CST) > 0 &&
      __atomic_load_n (&shared->head, __ATOMIC_SEQ_CST) -
      __atomic_load_n (&shared->tail, __ATOMIC_SEQ_CST) <= ring->capacity / 2)
    signal_fd (ring->room_fd);
}

static void
drop_everything (MpRing *ring,
                 guint64 head)
{
  __atomic_store_n (&ring->shared->tail, head, __ATOMIC_SEQ_CST);
  ring->consumed = TRUE;
}

int
mp_ring_peek (MpRing        *ring,
              MpRingRecord  *record,
              GError       **error)
{
  RingShared *shared = ring->shared;
  guint64 tail = shared->tail;

  for (;;)
    {
      guint64 head = __atomic_load_n (&shared->head, __ATOMIC_ACQUIRE);
      gsize offset = tail & (ring->capacity - 1);
      RecordHeader header;
      gsize total;

      if (tail == head)
        return 0;
      if (head - tail > ring->capacity || (offset & 7) != 0)
        goto corrupt;

      /* One copy of the header: another process could change the memory
       * while it is read. */
      memcpy (&header, ring->records + offset, sizeof header);
      if (header.tag == MP_RING_TAG_PAD)
        {
          tail += ring->capacity - offset;
          __atomic_store_n (&shared->tail, tail, __ATOMIC_SEQ_CST);
          ring->consumed = TRUE;
          continue;
        }
      total = record_total (header.type_len, header.size);
      if (header.size > ring->capacity || offset + total > ring->capacity || tail + total > head)
        goto corrupt;

      record->tag = header.tag;
      memcpy (record->type, ring->records + offset + RECORD_HEADER, header.type_len);
      record->type[header.type_len] = '\0';
      if (strlen (record->type) != header.type_len)
        goto corrupt;
      record->data = ring->records + offset + data_offset (header.type_len);
      record->size = header.size;
      ring->peeked_end = tail + total;
      return 1;

    corrupt:
      drop_everything (ring, head);
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                           _("The shared memory of a queue held a malformed record"));
      return -1;
    }
}

void
mp_ring_consume (MpRing *ring)
{
  __atomic_store_n (&ring->shared->tail, ring->peeked_end, __ATOMIC_SEQ_CST);
  ring->consumed = TRUE;
}

gboolean
mp_ring_is_empty (MpRing *ring)
{
  return __atomic_load_n (&ring->shared->head, __ATOMIC_SEQ_CST) ==
         __atomic_load_n (&ring->shared->tail, __ATOMIC_SEQ_CST);
}

void
mp_ring_add_reader_waiter (MpRing *ring)
{
  __atomic_add_fetch (&ring->shared->reader_waiters, 1, __ATOMIC_SEQ_CST);
}

void
mp_ring_remove_reader_waiter (MpRing *ring)
{
  __atomic_sub_fetch (&ring->shared->reader_waiters, 1, __ATOMIC_SEQ_CST);
}

int
mp_ring_get_items_fd (MpRing *ring)
{
  return ring->items_fd;
}

void
mp_ring_clear_items_fd (MpRing *ring)
{
  clear_fd (ring->items_fd);
}

gboolean
mp_ring_wait_items (MpRing        *ring,
                    gint64         deadline_us,
                    GCancellable  *cancellable,
                    GError       **error)
{
  gint64 spin_until = g_get_monotonic_time () + MP_SPIN_US;
  gboolean ok = TRUE;

  /* A short look first, yielding the core to a writer that may need it. */
  for (guint i = 0; mp_ring_is_empty (ring); i++)
    {
      if ((i & 63) == 63)
        {
          if (g_get_monotonic_time () > spin_until)
            break;
          sched_yield ();
        }
      else
        mp_cpu_relax ();
    }
  if (!mp_ring_is_empty (ring))
    return TRUE;

  mp_ring_add_reader_waiter (ring);
  while (mp_ring_is_empty (ring))
    {
      if (!mp_wait_fd (ring->items_fd, G_IO_IN, deadline_us, cancellable, error))
        {
          ok = FALSE;
          break;
        }
      clear_fd (ring->items_fd);
    }
  mp_ring_remove_reader_waiter (ring);
  return ok;
}
