/* test-ring.c: the shared-memory ring under MpQueue: order, wrapping,
 * bad memory, holders killed with the lock, and wake-ups across processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp.h>
#include "mp-ring-private.h"

#define CAPACITY (64u * 1024u)

static MpRing *
new_ring (void)
{
  g_autoptr(GError) error = NULL;
  MpRing *ring = mp_ring_new (CAPACITY, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ring);
  return ring;
}

/* Writes @size bytes of a pattern seeded by @n, under the lock. */
static gboolean
write_pattern (MpRing *ring,
               guint   n,
               gsize   size)
{
  g_autofree guint8 *data = g_malloc (size + 1);
  gboolean ok;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (n * 31 + i);
  g_assert_true (mp_ring_lock_writers (ring, NULL));
  ok = mp_ring_has_room (ring, 1, size);
  if (ok)
    mp_ring_write (ring, 1, "y", size, NULL, data);
  mp_ring_unlock_writers (ring);
  return ok;
}

/* Reads one record and checks it is pattern @n of @size bytes. */
static void
read_pattern (MpRing *ring,
              guint   n,
              gsize   size)
{
  MpRingRecord record;
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_ring_lock_readers (ring, NULL));
  g_assert_cmpint (mp_ring_peek (ring, &record, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (record.tag, ==, 1);
  g_assert_cmpstr (record.type, ==, "y");
  g_assert_cmpuint (record.size, ==, size);
  for (gsize i = 0; i < size; i++)
    if (record.data[i] != (guint8) (n * 31 + i))
      g_error ("record %u byte %" G_GSIZE_FORMAT " is wrong", n, i);
  mp_ring_consume (ring);
  mp_ring_unlock_readers (ring);
}

static gboolean
ring_empty_now (MpRing *ring)
{
  MpRingRecord record;
  int found;

  g_assert_true (mp_ring_lock_readers (ring, NULL));
  found = mp_ring_peek (ring, &record, NULL);
  mp_ring_unlock_readers (ring);
  return found == 0;
}

/* Records come out in order, whole, across many turns of the ring (sizes
 * that make it pad at the end), and a full ring says so. */
static void
test_order_and_wrap (void)
{
  MpRing *ring = new_ring ();
  guint written = 0, read = 0;
  gsize max = mp_ring_get_max_record (ring);

  g_assert_true (ring_empty_now (ring));
  g_assert_false (mp_ring_has_room (ring, 1, max + 1));

  /* Fill it: it refuses once full, and nothing was half written. */
  while (write_pattern (ring, written, 1000 + written % 777))
    written++;
  g_assert_cmpuint (written, >, 40);
  g_assert_cmpuint (written, <, CAPACITY / 1000);

  for (guint turn = 0; turn < 2000; turn++)
    {
      read_pattern (ring, read, 1000 + read % 777);
      read++;
      while (write_pattern (ring, written, 1000 + written % 777))
        written++;
    }
  while (read < written)
    {
      read_pattern (ring, read, 1000 + read % 777);
      read++;
    }
  g_assert_true (ring_empty_now (ring));
  mp_ring_free (ring);
}

/* A ring reached through its descriptors is the same ring; descriptors
 * that are not one are refused. */
static void
test_from_fds (void)
{
  MpRing *ring = new_ring ();
  MpRing *other;
  g_autoptr(GError) error = NULL;
  int fds[3];

  mp_ring_get_fds (ring, fds);
  other = mp_ring_new_from_fds (dup (fds[0]), dup (fds[1]), dup (fds[2]), &error);
  g_assert_no_error (error);
  g_assert_true (write_pattern (other, 7, 100));
  read_pattern (ring, 7, 100);
  strcpy (mp_ring_get_user_area (ring), "shared");
  g_assert_cmpstr (mp_ring_get_user_area (other), ==, "shared");
  mp_ring_free (other);

  /* An eventfd is not shared memory. */
  g_assert_null (mp_ring_new_from_fds (dup (fds[1]), dup (fds[1]), dup (fds[2]), &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_PROTOCOL);
  mp_ring_free (ring);
}

/* Memory that holds no valid record is MP_ERROR_PROTOCOL, not a crash or
 * a read out of bounds, and the ring works again afterwards. */
static void
test_bad_memory (void)
{
  MpRing *ring = new_ring ();
  g_autoptr(GError) error = NULL;
  MpRingRecord record;
  guint8 *map;
  int fds[3];

  mp_ring_get_fds (ring, fds);
  map = mmap (NULL, MP_RING_HEADER_SIZE + CAPACITY, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  g_assert_true (map != MAP_FAILED);

  for (guint kind = 0; kind < 3; kind++)
    {
      guint32 huge = 0x7fffffff;

      g_assert_true (write_pattern (ring, kind, 64));
      read_pattern (ring, kind, 64);
      g_assert_true (write_pattern (ring, kind, 64));
      /* The record just written starts 80 bytes (64 + header + type,
       * aligned) back from the head, which is past the first one. */
      if (kind == 0)
        memcpy (map + MP_RING_HEADER_SIZE + 80, &huge, sizeof huge);        /* size */
      else if (kind == 1)
        map[MP_RING_HEADER_SIZE + 80 * 3 + 5] = 200;                         /* type length */
      else
        map[MP_RING_HEADER_SIZE + 80 * 5 + 8] = '(';                         /* type string */

      g_assert_true (mp_ring_lock_readers (ring, NULL));
      if (kind < 2)
        {
          g_assert_cmpint (mp_ring_peek (ring, &record, &error), ==, -1);
          g_assert_error (error, MP_ERROR, MP_ERROR_PROTOCOL);
          g_clear_error (&error);
        }
      else
        {
          /* The ring checks bounds; the type is its user's to check. */
          g_assert_cmpint (mp_ring_peek (ring, &record, &error), ==, 1);
          g_assert_cmpstr (record.type, ==, "(");
          mp_ring_consume (ring);
        }
      mp_ring_unlock_readers (ring);
      g_assert_true (ring_empty_now (ring));
    }

  g_assert_true (write_pattern (ring, 99, 10));
  read_pattern (ring, 99, 10);
  munmap (map, MP_RING_HEADER_SIZE + CAPACITY);
  mp_ring_free (ring);
}

static int
wait_child (pid_t pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return status;
}

/* A writer killed while it holds the lock, half-way through a record,
 * leaves nothing behind; a reader killed while it holds the lock leaves
 * the record it was reading. The next holder goes on. */
static void
test_holder_killed (void)
{
  MpRing *ring = new_ring ();
  pid_t pid;

  pid = fork ();
  if (pid == 0)
    {
      guint8 *map;
      int fds[3];

      mp_ring_lock_writers (ring, NULL);
      mp_ring_get_fds (ring, fds);
      map = mmap (NULL, MP_RING_HEADER_SIZE + CAPACITY, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
      memset (map + MP_RING_HEADER_SIZE, 0x55, 100);  /* half a record, never published */
      raise (SIGKILL);
    }
  g_assert_true (WIFSIGNALED (wait_child (pid)));
  g_assert_true (ring_empty_now (ring));
  g_assert_true (write_pattern (ring, 1, 300));
  g_assert_true (write_pattern (ring, 2, 300));

  pid = fork ();
  if (pid == 0)
    {
      MpRingRecord record;

      mp_ring_lock_readers (ring, NULL);
      mp_ring_peek (ring, &record, NULL);
      raise (SIGKILL);
    }
  g_assert_true (WIFSIGNALED (wait_child (pid)));
  read_pattern (ring, 1, 300);
  read_pattern (ring, 2, 300);
  g_assert_true (ring_empty_now (ring));
  mp_ring_free (ring);
}

/* A blocking wait for records: woken by a writer in another process,
 * timed out, or cancelled. */
static void
test_wait_items (void)
{
  MpRing *ring = new_ring ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  pid_t pid;

  g_assert_false (mp_ring_wait_items (ring, g_get_monotonic_time () + 20000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  g_assert_false (mp_ring_wait_items (ring, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  pid = fork ();
  if (pid == 0)
    {
      /* Waits forever unless woken: the parent's timeout catches a bug. */
      if (!mp_ring_wait_items (ring, -1, NULL, NULL))
        _exit (2);
      read_pattern (ring, 5, 50);
      _exit (0);
    }
  g_assert_true (write_pattern (ring, 5, 50));
  {
    int status = wait_child (pid);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  }
  mp_ring_free (ring);
}

#define STRESS_WRITERS 2
#define STRESS_READERS 3
#define STRESS_PER_WRITER 300000

/* Many writers and readers in separate processes, sizes that fill the
 * ring and make writers wait for room: every record arrives once, whole,
 * and each writer's records in order. A lost wake-up hangs this test
 * (the harness's timeout then fails it). */
static void
test_stress (void)
{
  MpRing *ring = new_ring ();
  pid_t writers[STRESS_WRITERS], readers[STRESS_READERS];
  int result_pipe[2];
  guint64 total_count = 0, total_sum = 0, expected_sum = 0;

  g_assert_cmpint (pipe (result_pipe), ==, 0);
  for (guint r = 0; r < STRESS_READERS; r++)
    if ((readers[r] = fork ()) == 0)
      {
        guint64 count = 0, sum = 0, last[STRESS_WRITERS];
        gboolean ok = TRUE;

        memset (last, 0xff, sizeof last);
        for (;;)
          {
            MpRingRecord record;
            guint32 word[2];
            int found;

            mp_ring_lock_readers (ring, NULL);
            found = mp_ring_peek (ring, &record, NULL);
            if (found == 1)
              {
                memcpy (word, record.data, sizeof word);
                mp_ring_consume (ring);
              }
            mp_ring_unlock_readers (ring);
            if (found < 0)
              _exit (3);
            if (found == 0)
              {
                if (!mp_ring_wait_items (ring, -1, NULL, NULL))
                  _exit (4);
                continue;
              }
            if (word[0] == G_MAXUINT32)
              break;
            if (last[word[0]] != G_MAXUINT64 && word[1] <= last[word[0]])
              ok = FALSE;
            last[word[0]] = word[1];
            count++;
            sum += word[1];
          }
        if (!ok)
          _exit (5);
        {
          guint64 out[2] = { count, sum };
          if (write (result_pipe[1], out, sizeof out) != sizeof out)
            _exit (6);
        }
        _exit (0);
      }

  for (guint w = 0; w < STRESS_WRITERS; w++)
    if ((writers[w] = fork ()) == 0)
      {
        guint8 buffer[2048] = { 0 };

        for (guint32 i = 0; i < STRESS_PER_WRITER; i++)
          {
            guint32 word[2] = { w, i };
            gsize size = 8 + (i * 7919) % (i % 64 == 0 ? 2000 : 40);

            memcpy (buffer, word, sizeof word);
            for (;;)
              {
                gboolean placed;

                mp_ring_lock_writers (ring, NULL);
                placed = mp_ring_has_room (ring, 0, size);
                if (placed)
                  mp_ring_write (ring, 1, NULL, size, NULL, buffer);
                mp_ring_unlock_writers (ring);
                if (placed)
                  break;
                if (!mp_ring_wait_room (ring, 0, size, -1, NULL, NULL))
                  _exit (4);
              }
          }
        _exit (0);
      }

  for (guint w = 0; w < STRESS_WRITERS; w++)
    {
      int status = wait_child (writers[w]);
      g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
  /* One end marker per reader. */
  for (guint r = 0; r < STRESS_READERS; r++)
    {
      guint32 end[2] = { G_MAXUINT32, 0 };

      for (;;)
        {
          gboolean placed;

          mp_ring_lock_writers (ring, NULL);
          placed = mp_ring_has_room (ring, 0, sizeof end);
          if (placed)
            mp_ring_write (ring, 1, NULL, sizeof end, NULL, end);
          mp_ring_unlock_writers (ring);
          if (placed)
            break;
          g_assert_true (mp_ring_wait_room (ring, 0, sizeof end, -1, NULL, NULL));
        }
    }
  for (guint r = 0; r < STRESS_READERS; r++)
    {
      guint64 in[2];
      int status = wait_child (readers[r]);

      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
      g_assert_cmpint (read (result_pipe[0], in, sizeof in), ==, sizeof in);
      total_count += in[0];
      total_sum += in[1];
    }
  for (guint w = 0; w < STRESS_WRITERS; w++)
    expected_sum += (guint64) STRESS_PER_WRITER * (STRESS_PER_WRITER - 1) / 2;
  g_assert_cmpuint (total_count, ==, STRESS_WRITERS * STRESS_PER_WRITER);
  g_assert_cmpuint (total_sum, ==, expected_sum);
  g_assert_true (ring_empty_now (ring));
  close (result_pipe[0]);
  close (result_pipe[1]);
  mp_ring_free (ring);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ring/order-and-wrap", test_order_and_wrap);
  g_test_add_func ("/ring/from-fds", test_from_fds);
  g_test_add_func ("/ring/bad-memory", test_bad_memory);
  g_test_add_func ("/ring/holder-killed", test_holder_killed);
  g_test_add_func ("/ring/wait-items", test_wait_items);
  g_test_add_func ("/ring/stress", test_stress);
  return g_test_run ();
}
