/* test-queue.c: MpQueue in one process and across each start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mp.h>
#include "mp-ring-private.h"

#include "test-util.h"


#define N_PRODUCERS 3
#define N_CONSUMERS 2
#define N_ITEMS 4000   /* per producer: more than one socket buffer holds */

/* ---- tasks ------------------------------------------------------------- */

static MpQueue *
queue_arg (GVariant *args, guint index, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, index);
  return mp_queue_new_from_variant (ref, error);
}

/* Puts (producer, seq) for seq in 0..N_ITEMS-1 and returns: everything
 * must still arrive, though most of it is in the feeder at exit. */
static GVariant *
task_produce (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, 0, error);
  gint32 producer;

  if (q == NULL)
    return NULL;
  g_variant_get_child (args, 1, "i", &producer);
  for (gint32 seq = 0; seq < N_ITEMS; seq++)
    if (!mp_queue_put (q, g_variant_new ("(ii)", producer, seq), TRUE, -1, NULL, error))
      return NULL;
  return g_variant_new ("()");
}

/* Gets until the quit marker (-1, -1) and forwards what it got, in the
 * order it got it, to the results queue. */
static GVariant *
task_consume (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, 0, error);
  g_autoptr(MpQueue) results = queue_arg (args, 1, error);
  gint32 consumer;

  if (q == NULL || results == NULL)
    return NULL;
  g_variant_get_child (args, 2, "i", &consumer);
  for (;;)
    {
      g_autoptr(GVariant) item = mp_queue_get (q, TRUE, -1, NULL, error);
      gint32 producer, seq;

      if (item == NULL)
        return NULL;
      g_variant_get (item, "(ii)", &producer, &seq);
      if (!mp_queue_put (results, g_variant_new ("(iii)", consumer, producer, seq), TRUE, -1, NULL, error))
        return NULL;
      if (producer < 0)
        return g_variant_new ("()");
    }
}

/* Waits for an item that never comes: the consumer killed while idle. */
static GVariant *
task_idle_consumer (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, 0, error);
  g_autoptr(MpQueue) ready = queue_arg (args, 1, error);

  mp_queue_put (ready, g_variant_new_boolean (TRUE), TRUE, -1, NULL, NULL);
  g_autoptr(GVariant) never = mp_queue_get (q, TRUE, -1, NULL, error);
  return NULL;
}

/* Takes every item and marks it done (JoinableQueue). */
static GVariant *
task_worker_done (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, 0, error);
  gint32 n;

  g_variant_get_child (args, 1, "i", &n);
  for (gint32 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = mp_queue_get (q, TRUE, -1, NULL, error);
      if (item == NULL || !mp_queue_task_done (q, error))
        return NULL;
    }
  return g_variant_new ("()");
}

static GVariant *
task_send_big (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, 0, error);
  guint64 size;
  guint8 *bytes;

  g_variant_get_child (args, 1, "t", &size);
  bytes = g_malloc (size);
  for (guint64 i = 0; i < size; i++)
    bytes[i] = (guint8) (i * 7 + (i >> 20));
  return mp_queue_put (q, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, bytes, size, TRUE, g_free, bytes),
                       TRUE, -1, NULL, error) ? g_variant_new ("()") : NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static MpQueue *
new_queue (int maxsize)
{
  g_autoptr(GError) error = NULL;
  MpQueue *q = mp_queue_new (maxsize, &error);

  g_assert_no_error (error);
  return q;
}

/* ---- in one process ---------------------------------------------------- */

static void
test_fifo_and_errors (void)
{
  g_autoptr(MpQueue) q = new_queue (3);
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_queue_empty (q));
  g_assert_cmpint (mp_queue_get_maxsize (q), ==, 3);
  g_assert_null (mp_queue_get (q, FALSE, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_null (mp_queue_get (q, TRUE, 0.01, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  for (int i = 0; i < 3; i++)
    g_assert_true (mp_queue_put (q, g_variant_new_int32 (i), TRUE, -1, NULL, &error));
  g_assert_cmpint (mp_queue_qsize (q), ==, 3);
  g_assert_true (mp_queue_full (q));
  g_assert_false (mp_queue_put (q, g_variant_new_int32 (3), FALSE, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_false (mp_queue_put (q, g_variant_new_int32 (3), TRUE, 0.01, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (mp_queue_qsize (q), ==, 3);

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(GVariant) v = mp_queue_get (q, TRUE, -1, NULL, &error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  g_assert_true (mp_queue_empty (q));
  g_assert_false (mp_queue_full (q));

  mp_queue_close (q);
  g_assert_false (mp_queue_put (q, g_variant_new_int32 (9), TRUE, -1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_null (mp_queue_new (-1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Made the way a binding's constructor makes it, it works too. */
  {
    g_autoptr(MpQueue) b = g_object_new (MP_TYPE_QUEUE, "maxsize", 1, NULL);
    g_autoptr(GVariant) v = NULL;
    int maxsize;

    g_object_get (b, "maxsize", &maxsize, NULL);
    g_assert_cmpint (maxsize, ==, 1);
    g_assert_true (mp_queue_put (b, g_variant_new_int32 (7), FALSE, 0, NULL, &error));
    g_assert_true (mp_queue_full (b));
    v = mp_queue_get (b, FALSE, 0, NULL, &error);
    g_assert_cmpint (g_variant_get_int32 (v), ==, 7);
  }
}

/* An unbounded queue takes far more than its socket holds, in order. */
static void
test_unbounded_never_blocks (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(GError) error = NULL;
  const int n = 50000;

  for (int i = 0; i < n; i++)
    g_assert_true (mp_queue_put (q, g_variant_new_int32 (i), FALSE, 0, NULL, &error));
  g_assert_cmpint (mp_queue_qsize (q), ==, n);
  for (int i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mp_queue_get (q, TRUE, 60, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  g_assert_true (mp_queue_empty (q));
}

static void
on_put (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_queue_put_finish (MP_QUEUE (source), result, &error));
  (*(int *) data)++;
}

static void
on_get (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mp_queue_get_finish (MP_QUEUE (source), result, &error);

  g_assert_no_error (error);
  *(int *) data = g_variant_get_int32 (v);
}

static void
test_async (void)
{
  g_autoptr(MpQueue) q = new_queue (1);
  int puts = 0, got = -1;

  mp_queue_put_async (q, g_variant_new_int32 (1), NULL, on_put, &puts);
  mp_queue_put_async (q, g_variant_new_int32 (2), NULL, on_put, &puts);
  while (puts < 1)
    g_main_context_iteration (NULL, TRUE);
  /* The second waits for room, which a get makes. */
  g_assert_cmpint (puts, ==, 1);
  mp_queue_get_async (q, NULL, on_get, &got);
  while (got < 0 || puts < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (got, ==, 1);
  got = -1;
  mp_queue_get_async (q, NULL, on_get, &got);
  while (got < 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (got, ==, 2);
}

static void
on_joined (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_queue_join_finish (MP_QUEUE (source), result, &error));
  *(gboolean *) data = TRUE;
}

static void
test_join_async (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  gboolean joined = FALSE;
  g_autoptr(GVariant) a = NULL, b = NULL;

  mp_queue_put (q, g_variant_new_int32 (1), TRUE, -1, NULL, NULL);
  mp_queue_put (q, g_variant_new_int32 (2), TRUE, -1, NULL, NULL);
  mp_queue_join_async (q, NULL, on_joined, &joined);
  a = mp_queue_get (q, TRUE, -1, NULL, NULL);
  b = mp_queue_get (q, TRUE, -1, NULL, NULL);
  g_assert_true (mp_queue_task_done (q, NULL));
  /* One item is still not done: the loop runs, the join waits. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_false (joined);
  g_assert_true (mp_queue_task_done (q, NULL));
  while (!joined)
    g_main_context_iteration (NULL, TRUE);
}

static void
on_cancelled (GObject *source, GAsyncResult *result, gpointer data)
{
  GError **out = data;

  if (g_task_get_source_tag (G_TASK (result)) == mp_queue_get_async)
    g_assert_null (mp_queue_get_finish (MP_QUEUE (source), result, out));
  else if (g_task_get_source_tag (G_TASK (result)) == mp_queue_put_async)
    g_assert_false (mp_queue_put_finish (MP_QUEUE (source), result, out));
  else
    g_assert_false (mp_queue_join_finish (MP_QUEUE (source), result, out));
}

/* Cancelling a wait on the main loop ends it with CANCELLED and takes
 * nothing: the item stays for the next get. */
static void
test_async_cancel (void)
{
  g_autoptr(MpQueue) q = new_queue (1);
  g_autoptr(GVariant) v = NULL;
  GError *errors[3] = { NULL };
  g_autoptr(GCancellable) c1 = g_cancellable_new ();
  g_autoptr(GCancellable) c2 = g_cancellable_new ();
  g_autoptr(GCancellable) c3 = g_cancellable_new ();

  mp_queue_get_async (q, c1, on_cancelled, &errors[0]);
  mp_queue_put (q, g_variant_new_int32 (1), TRUE, -1, NULL, NULL);
  mp_queue_put_async (q, g_variant_new_int32 (2), c2, on_cancelled, &errors[1]);   /* full: waits */
  mp_queue_join_async (q, c3, on_cancelled, &errors[2]);                           /* one unfinished */
  g_cancellable_cancel (c1);
  g_cancellable_cancel (c2);
  g_cancellable_cancel (c3);
  while (errors[0] == NULL || errors[1] == NULL || errors[2] == NULL)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_error (errors[i], G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&errors[i]);
    }
  v = mp_queue_get (q, FALSE, 0, NULL, NULL);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 1);
  g_assert_true (mp_queue_empty (q));
}

static void
test_task_done_too_often (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  g_assert_true (mp_queue_join (q, 0, NULL, &error));
  mp_queue_put (q, g_variant_new_int32 (1), TRUE, -1, NULL, NULL);
  g_assert_false (mp_queue_join (q, 0.01, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  v = mp_queue_get (q, TRUE, -1, NULL, NULL);
  g_assert_true (mp_queue_task_done (q, &error));
  g_assert_true (mp_queue_join (q, 0, NULL, &error));
  g_assert_false (mp_queue_task_done (q, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_INVALID_STATE);
}

/* A garbage frame from a broken producer is skipped, and a malformed
 * record in the shared memory is MP_ERROR_PROTOCOL: the queue that other
 * processes share stays usable, and the good items around them arrive. */
static void
test_bad_input_keeps_queue (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ref = g_variant_ref_sink (mp_queue_to_variant (q));
  g_autoptr(GVariant) v = NULL;
  g_autofree guint8 *big = g_malloc0 (200 * 1024);
  const char garbage[] = "this is not a frame at all, not even close";
  gint32 put_fd, ring_fd;
  guint8 *map;

  /* Garbage in the socket, then an item that travels through it. */
  g_variant_get_child (ref, 1, "h", &put_fd);
  g_assert_cmpint (send (put_fd, garbage, sizeof garbage, 0), ==, sizeof garbage);
  big[12345] = 7;
  g_assert_true (mp_queue_put (q, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big, 200 * 1024, 1),
                               TRUE, -1, NULL, &error));
  g_assert_true (mp_queue_put (q, g_variant_new_string ("after"), TRUE, -1, NULL, &error));
  v = mp_queue_get (q, TRUE, 60, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_size (v), ==, 200 * 1024);
  g_assert_cmpuint (((const guint8 *) g_variant_get_data (v))[12345], ==, 7);
  g_clear_pointer (&v, g_variant_unref);
  v = mp_queue_get (q, TRUE, 60, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "after");
  g_clear_pointer (&v, g_variant_unref);

  /* A record whose type string is not a type. The records start at
   * MP_RING_HEADER_SIZE; the first free one is where the next put goes,
   * so put one, break it, and take it. */
  g_variant_get_child (ref, 3, "h", &ring_fd);
  map = mmap (NULL, MP_RING_HEADER_SIZE + MP_RING_DEFAULT_CAPACITY, PROT_READ | PROT_WRITE,
              MAP_SHARED, ring_fd, 0);
  g_assert_true (map != MAP_FAILED);
  g_assert_true (mp_queue_put (q, g_variant_new_string ("broken"), TRUE, -1, NULL, &error));
  g_assert_true (mp_queue_put (q, g_variant_new_string ("fine"), TRUE, -1, NULL, &error));
  {
    /* Two records so far, each a header of 8 bytes, the type string,
     * the data, both 8-aligned: the marker (8 + 0 + 8 = 16) and "after"
     * (8 + 8 + 8 = 24); "broken" is the third. */
    guint8 *record = map + MP_RING_HEADER_SIZE + 40;
    g_assert_cmpint (record[5], ==, 1);       /* type length */
    g_assert_cmpint (record[8], ==, 's');
    record[8] = '(';
  }
  g_assert_null (mp_queue_get (q, TRUE, 60, NULL, &error));
  g_assert_error (error, MP_ERROR, MP_ERROR_PROTOCOL);
  g_clear_error (&error);
  v = mp_queue_get (q, TRUE, 60, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "fine");
  g_assert_cmpint (mp_queue_qsize (q), ==, 0);
  munmap (map, MP_RING_HEADER_SIZE + MP_RING_DEFAULT_CAPACITY);
}

/* Found by review: an item waiting in the feeder keeps its own copy of
 * the descriptors it names, so the putter may close its pipe end. */
static void
test_backlog_keeps_handles (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(GError) error = NULL;
  MpPipe *a = NULL, *b = NULL;
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(MpPipe) got = NULL;
  g_autoptr(GVariant) hello = NULL;
  int n = 0;

  g_assert_true (mp_pipe_new_pair (TRUE, &a, &b, NULL));
  /* Fill the socket so that the next put waits in the feeder. */
  while (mp_queue_qsize (q) < 20000)
    mp_queue_put (q, g_variant_new_int32 (n++), TRUE, -1, NULL, NULL);
  g_assert_true (mp_queue_put (q, mp_pipe_to_variant (b), TRUE, -1, NULL, &error));
  g_object_unref (b);   /* closes our descriptor */

  for (int i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = mp_queue_get (q, TRUE, 60, NULL, &error);
      g_assert_nonnull (item);
    }
  ref = mp_queue_get (q, TRUE, 60, NULL, &error);
  g_assert_no_error (error);
  got = mp_pipe_new_from_variant (ref, &error);
  g_assert_no_error (error);
  mp_pipe_send (a, g_variant_new_string ("still there"), NULL, NULL);
  hello = mp_pipe_recv (got, NULL, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (hello, NULL), ==, "still there");
  g_object_unref (a);
}

static gboolean
closure_put_one (MpProcess *process, gpointer user_data, GError **error)
{
  return mp_queue_put (user_data, g_variant_new_string ("from the child"), TRUE, -1, NULL, error);
}

/* Found by review: a child forked while this process's feeder is busy
 * neither waits for that feeder at exit nor sends its items. */
static void
test_fork_during_backlog (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(MpQueue) out = new_queue (0);
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  int n = 0;

  while (mp_queue_qsize (q) < 20000)
    mp_queue_put (q, g_variant_new_int32 (n++), TRUE, -1, NULL, NULL);
  p = mp_process_new_for_func (closure_put_one, g_object_ref (out), g_object_unref);
  g_assert_true (mp_process_start (p, &error));
  test_join_ok (p);
  v = mp_queue_get (out, TRUE, 60, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "from the child");
  /* Ours all arrive, once each. */
  for (int i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = mp_queue_get (q, TRUE, 60, NULL, &error);
      g_assert_cmpint (g_variant_get_int32 (item), ==, i);
    }
  g_assert_null (mp_queue_get (q, FALSE, 0, NULL, &error));
}

/* ---- across processes -------------------------------------------------- */

/* N producers and M consumers: the items got are exactly the items put,
 * and each consumer sees each producer's items in order. */
static void
test_many_to_many (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(MpQueue) results = new_queue (0);
  g_autoptr(GPtrArray) producers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) consumers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *seen = g_malloc0 (N_PRODUCERS * N_ITEMS);
  gint32 last[N_CONSUMERS][N_PRODUCERS];
  int quits = 0, total = 0;

  memset (last, 0xff, sizeof last);
  for (int c = 0; c < N_CONSUMERS; c++)
    g_ptr_array_add (consumers, test_start (method, "consume",
                                       g_variant_new ("(@*@*i)",
                                                      mp_queue_to_variant (q), mp_queue_to_variant (results), c)));
  for (int p = 0; p < N_PRODUCERS; p++)
    g_ptr_array_add (producers, test_start (method, "produce",
                                       g_variant_new ("(@*i)", mp_queue_to_variant (q), p)));
  for (guint i = 0; i < producers->len; i++)
    test_join_ok (producers->pdata[i]);
  for (int c = 0; c < N_CONSUMERS; c++)
    g_assert_true (mp_queue_put (q, g_variant_new ("(ii)", -1, -1), TRUE, -1, NULL, &error));

  while (quits < N_CONSUMERS)
    {
      g_autoptr(GVariant) r = mp_queue_get (results, TRUE, 120, NULL, &error);
      gint32 c, p, seq;

      g_assert_no_error (error);
      g_variant_get (r, "(iii)", &c, &p, &seq);
      if (p < 0)
        {
          quits++;
          continue;
        }
      g_assert_cmpint (seen[p * N_ITEMS + seq], ==, 0);   /* no duplicate */
      seen[p * N_ITEMS + seq] = 1;
      g_assert_cmpint (seq, >, last[c][p]);                /* FIFO per producer */
      last[c][p] = seq;
      total++;
    }
  g_assert_cmpint (total, ==, N_PRODUCERS * N_ITEMS);      /* nothing lost */
  for (guint i = 0; i < consumers->len; i++)
    test_join_ok (consumers->pdata[i]);
  g_assert_true (mp_queue_empty (q));
}

static void
test_idle_consumer_killed (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(MpQueue) ready = new_queue (0);
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) flag = NULL;

  p = test_start (method, "idle-consumer",
             g_variant_new ("(@*@*)", mp_queue_to_variant (q), mp_queue_to_variant (ready)));
  flag = mp_queue_get (ready, TRUE, 120, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mp_process_kill (p, &error));
  g_assert_true (mp_process_join (p, 120, &error));

  for (int i = 0; i < 10; i++)
    mp_queue_put (q, g_variant_new_int32 (i), TRUE, -1, NULL, NULL);
  for (int i = 0; i < 10; i++)
    {
      g_autoptr(GVariant) v = mp_queue_get (q, TRUE, 120, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
}

static void
test_joinable (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 100; i++)
    mp_queue_put (q, g_variant_new_int32 (i), TRUE, -1, NULL, NULL);
  p = test_start (method, "worker-done", g_variant_new ("(@*i)", mp_queue_to_variant (q), 100));
  g_assert_true (mp_queue_join (q, 120, NULL, &error));
  g_assert_no_error (error);
  test_join_ok (p);
}

static void
test_1gib (void)
{
  g_autoptr(MpQueue) q = new_queue (0);
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  guint64 size = G_GUINT64_CONSTANT (1) << 30;
  const guint8 *bytes;
  gsize got;

  p = test_start (MP_START_METHOD_FORK, "send-big", g_variant_new ("(@*t)", mp_queue_to_variant (q), size));
  v = mp_queue_get (q, TRUE, 300, NULL, &error);
  g_assert_no_error (error);
  bytes = g_variant_get_fixed_array (v, &got, 1);
  g_assert_cmpuint (got, ==, size);
  for (guint64 i = 0; i < size; i++)
    if (bytes[i] != (guint8) (i * 7 + (i >> 20)))
      g_error ("byte %" G_GUINT64_FORMAT " differs", i);
  test_join_ok (p);
}

int
main (int   argc,
      char *argv[])
{
  mp_register_task ("produce", task_produce, NULL, NULL);
  mp_register_task ("consume", task_consume, NULL, NULL);
  mp_register_task ("idle-consumer", task_idle_consumer, NULL, NULL);
  mp_register_task ("worker-done", task_worker_done, NULL, NULL);
  mp_register_task ("send-big", task_send_big, NULL, NULL);
  mp_init (argc, argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/queue/fifo-and-errors", test_fifo_and_errors);
  g_test_add_func ("/queue/unbounded-never-blocks", test_unbounded_never_blocks);
  g_test_add_func ("/queue/async", test_async);
  g_test_add_func ("/queue/task-done-too-often", test_task_done_too_often);
  g_test_add_func ("/queue/join-async", test_join_async);
  g_test_add_func ("/queue/async-cancel", test_async_cancel);
  g_test_add_func ("/queue/backlog-keeps-handles", test_backlog_keeps_handles);
  g_test_add_func ("/queue/fork-during-backlog", test_fork_during_backlog);
  g_test_add_func ("/queue/bad-input-keeps-queue", test_bad_input_keeps_queue);
  g_test_add_func ("/queue/fork/1gib", test_1gib);
  test_add_per_method ("queue", "many-to-many", test_many_to_many);
  test_add_per_method ("queue", "idle-consumer-killed", test_idle_consumer_killed);
  test_add_per_method ("queue", "joinable", test_joinable);
  return g_test_run ();
}
