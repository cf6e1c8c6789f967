/* bench-queue.c: what MpQueue moves per second between processes, next to
 * the floors the kernel sets: a bare SOCK_SEQPACKET socket for small items,
 * fresh sealed memfds for large ones
 *
 *   bench-queue [--what p1c1,p1c2,bytes,raw,memfd_floor,raw_c2,raw_batch,raw_msg]
 *               [--items N] [--bytes-items N] [--size-mib N] [--repeat N]
 *               [--batch N] [--start-method M] [--quick] [--json]
 *
 * p1c1       one producer, one consumer, small ints: a child started with
 *            mp_process_new runs the "producer" task, which puts --items
 *            (200000) int64 values 0, 1, 2... with mp_queue_put, then one
 *            quit marker (-1) per consumer; the "consumer" child gets items
 *            with mp_queue_get and counts them until its marker. The queue
 *            reaches both in their task arguments (mp_queue_to_variant,
 *            mp_queue_new_from_variant).
 * p1c2       the same with two consumers on the one queue.
 * bytes      one producer, one consumer, --bytes-items (50) items of
 *            --size-mib (10) MiB each, as "ay" GVariants
 *            (g_variant_new_from_data with G_VARIANT_TYPE_BYTESTRING); the
 *            marker is an empty "ay".
 * raw        the floor: one process made by fork() writes --items 64-byte
 *            datagrams with blocking write() on a bare AF_UNIX SOCK_SEQPACKET
 *            socketpair (SO_SNDBUF as MpQueue sets it), another reads them
 *            with blocking read() until a 1-byte marker. Nothing else.
 * raw_c2     the raw floor with two readers on the one socket, as p1c2.
 *            For the analysis only.
 * raw_batch  the raw floor again, but --batch (64) int64 values packed in
 *            each datagram: what batching could reach. For the analysis only.
 * raw_msg    the raw floor with libmp's system calls: the sender uses
 *            sendmsg() of a 24-byte header and a 10-byte body in two iovecs
 *            with MSG_DONTWAIT (poll() on EAGAIN), the reader a blocking
 *            recvmsg() into a 64 KiB buffer with room for descriptors and
 *            MSG_CMSG_CLOEXEC. It tells the kernel's share of libmp's extra
 *            time from libmp's own work. For the analysis only.
 * memfd_floor the floor of bytes, set by the kernel: in this one process
 *            (no children, no socket), for each of --bytes-items items of
 *            --size-mib MiB, what libmp's large-payload path does at the
 *            least: memfd_create (MFD_CLOEXEC | MFD_ALLOW_SEALING), write()
 *            of the item from a reused buffer (stamped first, as the
 *            producer's), F_ADD_SEALS with libmp's seals, mmap read-only,
 *            a read of the 32 words a bytes consumer checks, munmap, close.
 *            Every item gets fresh pages, as every libmp item does; one
 *            sample runs from before the first item to after the last.
 *
 * One sample is one run: from the producer's clock just before its first
 * put to the last consumer's clock just after it got its marker (both
 * CLOCK_MONOTONIC, which is one clock for every process). The children are
 * started, have their queue and have said they are ready before the
 * producer is told to go: no start is timed. Every run has new children
 * and a new queue (or socket). With --repeat N each measurement asked for
 * runs N times, taking turns with the others (the order reversed at every
 * turn), so that the noise of a shared machine hits them alike.
 *
 * The data are checked: the consumers add up what they got, and the counts
 * and sums must be those of 0..N-1 (nothing lost, nothing twice); every
 * consumer must see one producer's items in increasing order. Each bytes
 * item has its size checked and 32 spread 8-byte words: 16 stamped with
 * the item's number by the producer (so that every item is a different
 * one), 16 of the pattern the buffer was filled with. The producer stamps
 * the words into a buffer it reuses once the queue has let go of it (the
 * put copied it into a memfd), or into a new one when the queue still
 * holds it (the feeder thread has it). memfd_floor stamps and checks its
 * items the same way.
 *
 * run-bench-queue.py runs this program and CPython's multiprocessing
 * (bench_queue_cpython.py) in turns and prints the comparison; this program
 * alone prints its own figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mp.h>

#include "bench-child.h"
#include "bench-util.h"

#define RAW_MESSAGE_SIZE 64
#define RAW_MSG_HEADER 24           /* raw_msg: as libmp's frame header ... */
#define RAW_MSG_BODY 10             /* ... and an int64 in a "v" */
#define RAW_MSG_RECV_SIZE (64 * 1024 + RAW_MSG_HEADER + 1)
#define RAW_MSG_CMSG_SPACE CMSG_SPACE (sizeof (int) * 72)
#define MAX_CONSUMERS 2
#define N_CHECKS 32              /* words checked in a bytes item: even ones stamped */
#define STAMP_SEED G_GUINT64_CONSTANT (0x5eed000000000000)
#define SNDBUF (4 * 1024 * 1024)  /* what MpQueue asks for on its put end */
/* memfd_floor: the seals src/mp-wire.c puts on a large payload */
#define MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ---- the bytes pattern -------------------------------------------------- */

/* splitmix64: any word of the pattern can be computed on its own. */
static inline guint64
pattern_word (guint64 i)
{
  guint64 z = i + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* The offset of checked word @k (8-aligned, inside @size >= 8 * N_CHECKS). */
static inline gsize
check_offset (gsize size,
              guint k)
{
  gsize stride = size / N_CHECKS;
  gsize pos = stride * k + (k * (gsize) 4099) % stride;

  pos &= ~(gsize) 7;
  return MIN (pos, size - 8);
}

/* What word @k of item @item holds: stamped for an even @k, the pattern
 * (word index = offset / 8) for an odd one. */
static inline guint64
expected_word (gsize   size,
               guint64 item,
               guint   k)
{
  if (k % 2 == 0)
    return pattern_word (STAMP_SEED + item * N_CHECKS + k);
  return pattern_word (check_offset (size, k) / 8);
}

static guint8 *
make_pattern (gsize size)
{
  guint8 *data = g_malloc (size);
  gsize words = size / 8;

  for (gsize i = 0; i < words; i++)
    {
      guint64 w = pattern_word (i);
      memcpy (data + i * 8, &w, 8);
    }
  for (gsize i = words * 8; i < size; i++)
    data[i] = (guint8) i;
  return data;
}

/* A buffer the producer stamps items into; in_use while a GVariant (in
 * the caller or in the queue's feeder thread) refers to it. */
typedef struct
{
  guint8 *data;
  gint    in_use;   /* atomic */
} ItemBuffer;

static void
item_buffer_released (gpointer data)
{
  ItemBuffer *buffer = data;

  g_atomic_int_set (&buffer->in_use, 0);
}

/* ---- the children's tasks ------------------------------------------------- */

static MpQueue *
queue_from_args (GVariant  *args,
                 GError   **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);

  return mp_queue_new_from_variant (ref, error);
}

static MpPipe *
pipe_from_args (GVariant  *args,
                GError   **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 1);

  return mp_pipe_new_from_variant (ref, error);
}

/* args (@queue, @pipe, items, size, consumers): says "ready" on the pipe,
 * waits for "go", puts @items items (int64s, or "ay" of @size bytes when
 * @size > 0) and one marker per consumer, closes the queue (waits until
 * the feeder thread sent everything), and answers (t0, t_put, t_closed). */
static GVariant *
task_producer (GVariant      *args,
               GCancellable  *cancellable,
               gpointer       user_data,
               GError       **error)
{
  g_autoptr(MpQueue) queue = queue_from_args (args, error);
  g_autoptr(MpPipe) pipe = NULL;
  g_autoptr(GVariant) go = NULL;
  g_autoptr(GPtrArray) buffers = NULL;
  gint64 n_items, size, n_consumers, t0, t_put, t_closed;

  if (queue == NULL || !(pipe = pipe_from_args (args, error)))
    return NULL;
  g_variant_get_child (args, 2, "x", &n_items);
  g_variant_get_child (args, 3, "x", &size);
  g_variant_get_child (args, 4, "x", &n_consumers);

  if (size > 0)
    {
      ItemBuffer *first = g_new0 (ItemBuffer, 1);

      first->data = make_pattern (size);
      buffers = g_ptr_array_new ();
      g_ptr_array_add (buffers, first);
    }

  if (!mp_pipe_send (pipe, g_variant_new_string ("ready"), NULL, error) ||
      !(go = mp_pipe_recv (pipe, G_VARIANT_TYPE_STRING, NULL, error)))
    return NULL;

  t0 = now_ns ();
  if (size == 0)
    {
      for (gint64 i = 0; i < n_items; i++)
        if (!mp_queue_put (queue, g_variant_new_int64 (i), TRUE, -1, NULL, error))
          return NULL;
      for (gint64 c = 0; c < n_consumers; c++)
        if (!mp_queue_put (queue, g_variant_new_int64 (-1), TRUE, -1, NULL, error))
          return NULL;
    }
  else
    {
      for (gint64 i = 0; i < n_items; i++)
        {
          ItemBuffer *buffer = NULL;
          GVariant *item;

          for (guint b = 0; b < buffers->len && buffer == NULL; b++)
            if (g_atomic_int_get (&((ItemBuffer *) buffers->pdata[b])->in_use) == 0)
              buffer = buffers->pdata[b];
          if (buffer == NULL)
            {
              /* The queue still holds every buffer: a new one. */
              buffer = g_new0 (ItemBuffer, 1);
              buffer->data = g_memdup2 (((ItemBuffer *) buffers->pdata[0])->data, size);
              g_ptr_array_add (buffers, buffer);
            }
          for (guint k = 0; k < N_CHECKS; k += 2)
            {
              guint64 w = expected_word (size, i, k);
              memcpy (buffer->data + check_offset (size, k), &w, 8);
            }
          g_atomic_int_set (&buffer->in_use, 1);
          item = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buffer->data, size, TRUE,
                                          item_buffer_released, buffer);
          if (!mp_queue_put (queue, item, TRUE, -1, NULL, error))
            return NULL;
        }
      for (gint64 c = 0; c < n_consumers; c++)
        if (!mp_queue_put (queue, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, "", 0, TRUE, NULL, NULL),
                           TRUE, -1, NULL, error))
          return NULL;
    }
  t_put = now_ns ();
  mp_queue_close (queue);
  t_closed = now_ns ();

  if (!mp_pipe_send (pipe, g_variant_new ("(xxxt)", t0, t_put, t_closed, (guint64) (buffers ? buffers->len : 0)),
                     NULL, error))
    return NULL;
  /* The buffers are left to the exit: the queue let go of them all. */
  return NULL;
}

/* args (@queue, @pipe, size): says "ready", gets items until its marker,
 * checks them, and answers (count, sum, t_first, t_end, ok, message).
 * A bad item does not stop it: it drains to its marker all the same, so
 * that the producer is never left waiting, and says what was wrong. */
static GVariant *
task_consumer (GVariant      *args,
               GCancellable  *cancellable,
               gpointer       user_data,
               GError       **error)
{
  g_autoptr(MpQueue) queue = queue_from_args (args, error);
  g_autoptr(MpPipe) pipe = NULL;
  g_autofree char *problem = NULL;
  gint64 size, t_first = 0, t_end, last = -1;
  guint64 count = 0, sum = 0;

  if (queue == NULL || !(pipe = pipe_from_args (args, error)))
    return NULL;
  g_variant_get_child (args, 2, "x", &size);
  if (!mp_pipe_send (pipe, g_variant_new_string ("ready"), NULL, error))
    return NULL;

  for (;;)
    {
      g_autoptr(GVariant) item = mp_queue_get (queue, TRUE, -1, NULL, error);

      if (item == NULL)
        return NULL;
      if (count == 0 && t_first == 0)
        t_first = now_ns ();
      if (size == 0)
        {
          gint64 x;

          if (!g_variant_is_of_type (item, G_VARIANT_TYPE_INT64))
            {
              if (problem == NULL)
                problem = g_strdup_printf ("an item of type %s", g_variant_get_type_string (item));
              continue;
            }
          x = g_variant_get_int64 (item);
          if (x < 0)
            break;
          if (x <= last && problem == NULL)
            problem = g_strdup_printf ("%" G_GINT64_FORMAT " came after %" G_GINT64_FORMAT, x, last);
          last = x;
          count++;
          sum += x;
        }
      else
        {
          gsize got = g_variant_get_size (item);
          const guint8 *data;

          if (!g_variant_is_of_type (item, G_VARIANT_TYPE_BYTESTRING))
            {
              if (problem == NULL)
                problem = g_strdup_printf ("an item of type %s", g_variant_get_type_string (item));
              continue;
            }
          if (got == 0)
            break;
          data = g_variant_get_data (item);
          if (got != (gsize) size)
            {
              if (problem == NULL)
                problem = g_strdup_printf ("an item of %" G_GSIZE_FORMAT " bytes, not %" G_GINT64_FORMAT,
                                           got, size);
            }
          else
            {
              /* Which item it is: the first stamp says; all must agree. */
              guint64 item_no = 0, w;
              gboolean found = FALSE;

              memcpy (&w, data + check_offset (size, 0), 8);
              for (guint64 guess = (guint64) (last + 1); guess < (guint64) (last + 1) + 1000000 && !found; guess++)
                if (expected_word (size, guess, 0) == w)
                  item_no = guess, found = TRUE;
              if (!found && problem == NULL)
                problem = g_strdup_printf ("item %" G_GUINT64_FORMAT ": its first stamp is no item's",
                                           count);
              for (guint k = 0; found && k < N_CHECKS; k++)
                {
                  memcpy (&w, data + check_offset (size, k), 8);
                  if (w != expected_word (size, item_no, k) && problem == NULL)
                    problem = g_strdup_printf ("item %" G_GUINT64_FORMAT ": word %u at offset %" G_GSIZE_FORMAT
                                               " is wrong", item_no, k, check_offset (size, k));
                }
              if (found)
                {
                  last = item_no;
                  sum += item_no;
                }
            }
          count++;
        }
    }
  t_end = now_ns ();

  if (!mp_pipe_send (pipe, g_variant_new ("(ttxxbs)", count, sum, t_first, t_end, problem == NULL,
                                          problem ? problem : ""), NULL, error))
    return NULL;
  return NULL;
}

/* ---- measurements ----------------------------------------------------------- */

typedef enum
{
  M_QUEUE,
  M_RAW,
  M_MEMFD_FLOOR,
} MeasureKind;

typedef struct
{
  const char  *name;
  MeasureKind  kind;
  guint        n_consumers;
  guint        batch;        /* raw: values per datagram; 0 = one 64-byte message each */
  gboolean     like_libmp;   /* raw_msg: sendmsg/recvmsg as libmp calls them */
  guint64      items;        /* per run */
  guint64      size;         /* bytes: of one item */
  const char  *start_method;
  GArray      *seconds;      /* per run: first put .. last marker got */
  GArray      *put_seconds;  /* per run: first put .. last put returned */
  GArray      *close_seconds;/* per run: first put .. mp_queue_close returned */
  GArray      *first_share;  /* per run: share of the items consumer 0 got */
  guint64      max_buffers;  /* bytes: most item buffers the producer needed */
} Measure;

static const char *
method_name (MpStartMethod method)
{
  switch (method)
    {
    case MP_START_METHOD_FORK: return "fork";
    case MP_START_METHOD_SPAWN: return "spawn";
    case MP_START_METHOD_FORKSERVER: return "forkserver";
    default: return "default";
    }
}

static void
add_double (GArray *array,
            double  x)
{
  g_array_append_val (array, x);
}

static gboolean
fail (GError     **error,
      const char  *format,
      ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError     **error,
      const char  *format,
      ...)
{
  va_list ap;
  g_autofree char *text = NULL;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, text);
  return FALSE;
}

static gboolean
measure_queue_once (Measure        *m,
                    MpStartMethod   method,
                    GError        **error)
{
  g_autoptr(MpQueue) queue = NULL;
  Child producer = { 0 }, consumers[MAX_CONSUMERS] = { { 0 } };
  g_autoptr(GVariant) queue_ref = NULL;
  gint64 t0 = 0, t_put = 0, t_closed = 0, t_end = 0;
  guint64 total = 0, sum = 0, n_buffers = 0, counts[MAX_CONSUMERS] = { 0 };
  gboolean ok = TRUE;

  if (!(queue = mp_queue_new (0, error)))
    return FALSE;
  queue_ref = g_variant_ref_sink (mp_queue_to_variant (queue));

  for (guint c = 0; ok && c < m->n_consumers; c++)
    ok = child_start (&consumers[c], "consumer", queue_ref, g_variant_new ("(x)", (gint64) m->size),
                      method, error);
  ok = ok && child_start (&producer, "producer", queue_ref,
                          g_variant_new ("(xxx)", (gint64) m->items, (gint64) m->size,
                                         (gint64) m->n_consumers), method, error);
  if (ok)
    {
      MpStartMethod used = mp_process_get_start_method (producer.process);
      m->start_method = method_name (used == MP_START_METHOD_DEFAULT ? mp_get_start_method () : used);
    }
  for (guint c = 0; ok && c < m->n_consumers; c++)
    ok = child_expect_ready (&consumers[c], error);
  ok = ok && child_expect_ready (&producer, error);

  /* Go. */
  ok = ok && mp_pipe_send (producer.mine, g_variant_new_string ("go"), NULL, error);

  if (ok)
    {
      g_autoptr(GVariant) r = mp_pipe_recv (producer.mine, G_VARIANT_TYPE ("(xxxt)"), NULL, error);
      if (r == NULL)
        ok = FALSE;
      else
        g_variant_get (r, "(xxxt)", &t0, &t_put, &t_closed, &n_buffers);
    }
  for (guint c = 0; ok && c < m->n_consumers; c++)
    {
      g_autoptr(GVariant) r = mp_pipe_recv (consumers[c].mine, G_VARIANT_TYPE ("(ttxxbs)"), NULL, error);
      guint64 count, csum;
      gint64 t_first, end;
      gboolean good;
      const char *problem;

      if (r == NULL)
        {
          ok = FALSE;
          break;
        }
      g_variant_get (r, "(ttxxb&s)", &count, &csum, &t_first, &end, &good, &problem);
      if (!good)
        ok = fail (error, "%s: consumer %u: %s", m->name, c, problem);
      counts[c] = count;
      total += count;
      sum += csum;
      t_end = MAX (t_end, end);
    }

  ok = child_finish (&producer, ok, ok ? error : NULL) && ok;
  for (guint c = 0; c < m->n_consumers; c++)
    ok = child_finish (&consumers[c], ok, ok ? error : NULL) && ok;
  if (!ok)
    return FALSE;

  if (total != m->items)
    return fail (error, "%s: %" G_GUINT64_FORMAT " items put, %" G_GUINT64_FORMAT " got",
                 m->name, m->items, total);
  if (sum != m->items * (m->items - 1) / 2)
    return fail (error, "%s: the items got add up to %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
                 m->name, sum, m->items * (m->items - 1) / 2);
  if (t_end <= t0)
    return fail (error, "%s: the clocks make no sense", m->name);

  add_double (m->seconds, (t_end - t0) / 1e9);
  add_double (m->put_seconds, (t_put - t0) / 1e9);
  add_double (m->close_seconds, (t_closed - t0) / 1e9);
  add_double (m->first_share, m->items ? (double) counts[0] / m->items : 0);
  m->max_buffers = MAX (m->max_buffers, n_buffers);
  return TRUE;
}

/* ---- the raw floor -------------------------------------------------------- */

typedef struct
{
  volatile gint64 t0, t_sent;
  struct
  {
    volatile gint64  t_end;
    volatile guint64 count, sum;
    volatile gint    ok;
  } r[MAX_CONSUMERS];
} RawShared;

static ssize_t
write_retry (int fd, const void *buf, size_t len)
{
  ssize_t r;

  do
    r = write (fd, buf, len);
  while (r < 0 && errno == EINTR);
  return r;
}

static ssize_t
read_retry (int fd, void *buf, size_t len)
{
  ssize_t r;

  do
    r = read (fd, buf, len);
  while (r < 0 && errno == EINTR);
  return r;
}

/* raw_msg's receive, as libmp's: a blocking recvmsg() into a frame buffer
 * with room for descriptors. */
static ssize_t
recvmsg_like_libmp (int     sock,
                    guint8 *buf)
{
  guint8 cmsg_buf[RAW_MSG_CMSG_SPACE] __attribute__((aligned (8)));
  struct iovec iov = { buf, RAW_MSG_RECV_SIZE };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cmsg_buf, .msg_controllen = sizeof cmsg_buf };
  ssize_t r;

  do
    r = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  return r;
}

static void G_GNUC_NORETURN
raw_reader (int        sock,
            int        ready_fd,
            RawShared *sh,
            guint      index,
            guint      batch,
            gboolean   like_libmp)
{
  gsize cap = like_libmp ? RAW_MSG_RECV_SIZE : batch ? batch * 8 : RAW_MESSAGE_SIZE;
  guint8 *buf = g_malloc (cap);
  guint64 count = 0, sum = 0;
  gint64 last = -1;
  gboolean ok = TRUE;

  write_retry (ready_fd, "r", 1);
  for (;;)
    {
      ssize_t r = like_libmp ? recvmsg_like_libmp (sock, buf) : read_retry (sock, buf, cap);
      gsize first = like_libmp ? RAW_MSG_HEADER : 0;

      if (r <= 1)
        {
          ok = ok && r == 1 && buf[0] == 0xff;
          break;
        }
      if (batch == 0 && r != (like_libmp ? RAW_MSG_HEADER + RAW_MSG_BODY : RAW_MESSAGE_SIZE))
        ok = FALSE;
      for (ssize_t off = first; off + 8 <= (batch ? r : (ssize_t) first + 8); off += 8)
        {
          gint64 x;

          memcpy (&x, buf + off, 8);
          if (x <= last)
            ok = FALSE;
          last = x;
          count++;
          sum += x;
        }
    }
  sh->r[index].t_end = now_ns ();
  sh->r[index].count = count;
  sh->r[index].sum = sum;
  sh->r[index].ok = ok;
  _exit (ok ? 0 : 1);
}

/* raw_msg's send, as libmp's: sendmsg() of a header and a body without
 * blocking, poll() for room when the socket is full. */
static ssize_t
sendmsg_like_libmp (int            sock,
                    const guint8  *header,
                    const guint8  *body)
{
  struct iovec iov[2] = { { (gpointer) header, RAW_MSG_HEADER }, { (gpointer) body, RAW_MSG_BODY } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

  for (;;)
    {
      ssize_t r = sendmsg (sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (r >= 0 || (errno != EINTR && errno != EAGAIN))
        return r;
      if (errno == EAGAIN)
        {
          struct pollfd pfd = { sock, POLLOUT, 0 };
          poll (&pfd, 1, -1);
        }
    }
}

static void G_GNUC_NORETURN
raw_sender (int        sock,
            int        go_fd,
            RawShared *sh,
            guint64    n_items,
            guint      n_readers,
            guint      batch,
            gboolean   like_libmp)
{
  gsize cap = batch ? batch * 8 : RAW_MESSAGE_SIZE;
  guint8 *buf = g_malloc0 (cap);
  char c;

  if (read_retry (go_fd, &c, 1) != 1)
    _exit (1);
  sh->t0 = now_ns ();
  if (like_libmp)
    {
      guint8 header[RAW_MSG_HEADER] = { 0 }, body[RAW_MSG_BODY] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x' };

      for (guint64 i = 0; i < n_items; i++)
        {
          memcpy (body, &i, 8);
          if (sendmsg_like_libmp (sock, header, body) != RAW_MSG_HEADER + RAW_MSG_BODY)
            _exit (1);
        }
    }
  else if (batch == 0)
    {
      for (guint64 i = 0; i < n_items; i++)
        {
          memcpy (buf, &i, 8);
          if (write_retry (sock, buf, RAW_MESSAGE_SIZE) != RAW_MESSAGE_SIZE)
            _exit (1);
        }
    }
  else
    {
      for (guint64 i = 0; i < n_items;)
        {
          gsize n = 0;

          for (; n < batch && i < n_items; n++, i++)
            memcpy (buf + n * 8, &i, 8);
          if (write_retry (sock, buf, n * 8) != (ssize_t) (n * 8))
            _exit (1);
        }
    }
  buf[0] = 0xff;
  for (guint k = 0; k < n_readers; k++)
    if (write_retry (sock, buf, 1) != 1)
      _exit (1);
  sh->t_sent = now_ns ();
  _exit (0);
}

static gboolean
measure_raw_once (Measure  *m,
                  GError  **error)
{
  RawShared *sh;
  int sv[2] = { -1, -1 }, ready[2] = { -1, -1 }, go[2] = { -1, -1 };
  pid_t pids[MAX_CONSUMERS + 1];
  guint n_pids = 0;
  int sndbuf = SNDBUF;
  gboolean ok = TRUE;
  guint64 total = 0, sum = 0;
  gint64 t_end = 0;

  m->start_method = "fork";
  sh = mmap (NULL, sizeof (RawShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    return fail (error, "mmap: %s", g_strerror (errno));
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
      pipe2 (ready, O_CLOEXEC) != 0 || pipe2 (go, O_CLOEXEC) != 0)
    {
      ok = fail (error, "socketpair/pipe: %s", g_strerror (errno));
      goto out;
    }
  setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  fflush (stdout);
  for (guint k = 0; k <= m->n_consumers; k++)
    {
      pid_t pid = fork ();

      if (pid < 0)
        {
          ok = fail (error, "fork: %s", g_strerror (errno));
          break;
        }
      if (pid == 0)
        {
          close (ready[0]);
          close (go[1]);
          if (k < m->n_consumers)
            {
              close (sv[0]);
              raw_reader (sv[1], ready[1], sh, k, m->batch, m->like_libmp);
            }
          close (sv[1]);
          raw_sender (sv[0], go[0], sh, m->items, m->n_consumers, m->batch, m->like_libmp);
        }
      pids[n_pids++] = pid;
    }
  close (sv[0]);
  close (sv[1]);
  close (ready[1]);
  close (go[0]);
  sv[0] = sv[1] = ready[1] = go[0] = -1;

  for (guint k = 0; ok && k < m->n_consumers; k++)
    {
      char c;
      if (read_retry (ready[0], &c, 1) != 1)
        ok = fail (error, "%s: a reader did not start", m->name);
    }
  if (ok && write_retry (go[1], "g", 1) != 1)
    ok = fail (error, "%s: could not start the sender", m->name);
  if (!ok)
    for (guint k = 0; k < n_pids; k++)
      kill (pids[k], SIGKILL);
  for (guint k = 0; k < n_pids; k++)
    {
      int status = 0;

      while (waitpid (pids[k], &status, 0) < 0 && errno == EINTR)
        ;
      if (ok && (!WIFEXITED (status) || WEXITSTATUS (status) != 0))
        ok = fail (error, "%s: a raw child ended with 0x%x", m->name, status);
    }
  for (guint k = 0; ok && k < m->n_consumers; k++)
    {
      total += sh->r[k].count;
      sum += sh->r[k].sum;
      t_end = MAX (t_end, sh->r[k].t_end);
    }
  if (ok && (total != m->items || sum != m->items * (m->items - 1) / 2))
    ok = fail (error, "%s: %" G_GUINT64_FORMAT " items sent, %" G_GUINT64_FORMAT " got (sum %"
               G_GUINT64_FORMAT ")", m->name, m->items, total, sum);
  if (ok)
    {
      add_double (m->seconds, (t_end - sh->t0) / 1e9);
      add_double (m->put_seconds, (sh->t_sent - sh->t0) / 1e9);
      add_double (m->close_seconds, (sh->t_sent - sh->t0) / 1e9);
      add_double (m->first_share, m->items ? (double) sh->r[0].count / m->items : 0);
    }

out:
  for (guint i = 0; i < 2; i++)
    {
      if (sv[i] >= 0)
        close (sv[i]);
      if (ready[i] >= 0)
        close (ready[i]);
      if (go[i] >= 0)
        close (go[i]);
    }
  munmap (sh, sizeof (RawShared));
  return ok;
}

/* ---- the memfd floor ------------------------------------------------------ */

/* write() all of @size, as libmp's write_all: at most 1 GiB a call. */
static gboolean
write_all (int            fd,
           const guint8  *p,
           gsize          size)
{
  while (size > 0)
    {
      ssize_t r = write_retry (fd, p, MIN (size, (gsize) 1 << 30));

      if (r <= 0)
        return FALSE;
      p += r;
      size -= r;
    }
  return TRUE;
}

/* What no sealed-memfd design can beat: every item in fresh pages of a new
 * memfd, written, sealed, mapped read-only and spot-read; no process,
 * socket or GVariant in the way. */
static gboolean
measure_memfd_floor_once (Measure  *m,
                          GError  **error)
{
  g_autofree guint8 *data = make_pattern (m->size);   /* faulted in before the clock */
  gint64 t0, t_end;

  t0 = now_ns ();
  for (guint64 i = 0; i < m->items; i++)
    {
      guint8 *addr;
      int fd;

      for (guint k = 0; k < N_CHECKS; k += 2)
        {
          guint64 w = expected_word (m->size, i, k);
          memcpy (data + check_offset (m->size, k), &w, 8);
        }
      fd = memfd_create ("bench-floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (fd < 0)
        return fail (error, "%s: memfd_create: %s", m->name, g_strerror (errno));
      if (!write_all (fd, data, m->size) || fcntl (fd, F_ADD_SEALS, MEMFD_SEALS) != 0 ||
          (addr = mmap (NULL, m->size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        {
          int errsv = errno;
          close (fd);
          return fail (error, "%s: write/seal/mmap: %s", m->name, g_strerror (errsv));
        }
      /* The consumer's check: every word read through the new mapping. */
      for (guint k = 0; k < N_CHECKS; k++)
        {
          guint64 w;

          memcpy (&w, addr + check_offset (m->size, k), 8);
          if (w != expected_word (m->size, i, k))
            {
              munmap (addr, m->size);
              close (fd);
              return fail (error, "%s: item %" G_GUINT64_FORMAT ": word %u is wrong", m->name, i, k);
            }
        }
      munmap (addr, m->size);
      close (fd);
    }
  t_end = now_ns ();

  add_double (m->seconds, (t_end - t0) / 1e9);
  return TRUE;
}

/* ---- output ------------------------------------------------------------ */

static void
append_array (GString    *out,
              const char *name,
              GArray     *a)
{
  g_string_append_printf (out, ", \"%s\": [", name);
  for (guint j = 0; j < a->len; j++)
    g_string_append_printf (out, "%s%.6f", j ? ", " : "", g_array_index (a, double, j));
  g_string_append (out, "]");
}

static void
print_json (Measure *measures,
            guint    n)
{
  g_autoptr(GString) out = g_string_new ("{\"program\": \"libmp\", \"pid\": ");

  g_string_append_printf (out, "%d, \"results\": {", (int) getpid ());
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);

      g_string_append_printf (out, "%s\n  \"%s\": {\"kind\": \"%s\", \"start_method\": \"%s\", "
                                   "\"unit\": \"s\", \"items\": %" G_GUINT64_FORMAT ", "
                                   "\"size\": %" G_GUINT64_FORMAT ", \"consumers\": %u, \"batch\": %u, "
                                   "\"max_buffers\": %" G_GUINT64_FORMAT ", "
                                   "\"runs\": %u, \"mean\": %.6f, \"median\": %.6f, \"min\": %.6f, \"max\": %.6f",
                              i ? "," : "", m->name, m->kind == M_QUEUE ? "libmp" : "baseline",
                              m->start_method ? m->start_method : "", m->items, m->size, m->n_consumers,
                              m->batch, m->max_buffers, m->seconds->len, s.mean, s.median, s.min, s.max);
      append_array (out, "samples", m->seconds);
      append_array (out, "put_seconds", m->put_seconds);
      append_array (out, "close_seconds", m->close_seconds);
      append_array (out, "first_share", m->first_share);
      g_string_append (out, "}");
    }
  g_string_append (out, "\n}}\n");
  fputs (out->str, stdout);
}

static void
print_table (Measure *measures,
             guint    n)
{
  g_print ("%-11s %-11s %9s %5s %10s %10s %14s %14s\n", "what", "method", "items", "runs",
           "mean s", "median s", "rate (mean)", "rate (median)");
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->seconds);
      double unit = m->size ? m->size / 1e9 : 1e-6;   /* GB or M msgs */
      const char *u = m->size ? "GB/s" : "M msg/s";

      g_print ("%-11s %-11s %9" G_GUINT64_FORMAT " %5u %10.4f %10.4f %7.3f %-6s %7.3f %-6s\n",
               m->name, m->start_method ? m->start_method : "-", m->items, m->seconds->len,
               s.mean, s.median, s.mean > 0 ? m->items * unit / s.mean : 0, u,
               s.median > 0 ? m->items * unit / s.median : 0, u);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *what = NULL, *start_method = NULL;
  g_auto(GStrv) wanted = NULL;
  g_autoptr(GArray) measures = NULL;
  int items = -1, bytes_items = -1, repeat = -1, batch = 64;
  double size_mib = -1;
  gboolean quick = FALSE, json = FALSE;
  MpStartMethod method = MP_START_METHOD_DEFAULT;
  GOptionEntry entries[] = {
    { "what", 'm', 0, G_OPTION_ARG_STRING, &what,
      "What to measure, comma-separated: p1c1, p1c2, bytes, raw, memfd_floor, raw_c2, raw_batch, "
      "raw_msg (default: p1c1,p1c2,bytes,raw,memfd_floor)", "LIST" },
    { "items", 'n', 0, G_OPTION_ARG_INT, &items,
      "Small items per run of p1c1, p1c2 and the raw floors (default: 200000)", "N" },
    { "bytes-items", 0, 0, G_OPTION_ARG_INT, &bytes_items,
      "Items per bytes (and memfd_floor) run (default: 50)", "N" },
    { "size-mib", 's', 0, G_OPTION_ARG_DOUBLE, &size_mib,
      "Size of a bytes item in MiB (default: 10)", "MIB" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat,
      "Runs of each measurement, taking turns (default: 3)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch,
      "raw_batch: int64 values per datagram (default: 64)", "N" },
    { "start-method", 0, 0, G_OPTION_ARG_STRING, &start_method,
      "default, fork, forkserver or spawn (default: default)", "METHOD" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
      "A few items only: checks that everything runs, measures nothing", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "Print the results as JSON (with every sample)", NULL },
    { NULL }
  };

  mp_register_task ("producer", task_producer, NULL, NULL);
  mp_register_task ("consumer", task_consumer, NULL, NULL);
  /* A spawn child never returns from here: it becomes the worker. */
  mp_init (argc, argv);

  context = g_option_context_new ("- time items through an MpQueue between processes");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (quick)
    {
      if (items < 0)
        items = 2000;
      if (bytes_items < 0)
        bytes_items = 3;
      if (size_mib < 0)
        size_mib = 1;
      if (repeat < 0)
        repeat = 1;
    }
  if (items < 0)
    items = 200000;
  if (bytes_items < 0)
    bytes_items = 50;
  if (size_mib <= 0)
    size_mib = 10;
  if (repeat < 1)
    repeat = 3;
  if (items < 1 || bytes_items < 1 || batch < 1)
    {
      g_printerr ("--items, --bytes-items and --batch must be positive\n");
      return 2;
    }
  if (size_mib * 1048576.0 < 8 * N_CHECKS * 2)
    {
      g_printerr ("--size-mib is too small to check (at least %u bytes)\n", 8 * N_CHECKS * 2);
      return 2;
    }

  if (start_method == NULL || g_str_equal (start_method, "default"))
    method = MP_START_METHOD_DEFAULT;
  else if (g_str_equal (start_method, "fork"))
    method = MP_START_METHOD_FORK;
  else if (g_str_equal (start_method, "forkserver"))
    method = MP_START_METHOD_FORKSERVER;
  else if (g_str_equal (start_method, "spawn"))
    method = MP_START_METHOD_SPAWN;
  else
    {
      g_printerr ("Unknown start method “%s” (default, fork, forkserver, spawn)\n", start_method);
      return 2;
    }

  wanted = g_strsplit (what ? what : "p1c1,p1c2,bytes,raw,memfd_floor", ",", -1);
  measures = g_array_new (FALSE, TRUE, sizeof (Measure));
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      const char *w = g_strstrip (wanted[i]);
      Measure m = { 0 };

      if (*w == '\0')
        continue;
      for (guint j = 0; j < measures->len; j++)
        if (g_str_equal (g_array_index (measures, Measure, j).name, w))
          {
            g_printerr ("Measurement “%s” asked for twice\n", w);
            return 2;
          }
      m.items = items;
      m.n_consumers = 1;
      if (g_str_equal (w, "p1c1"))
        m.name = "p1c1", m.kind = M_QUEUE;
      else if (g_str_equal (w, "p1c2"))
        m.name = "p1c2", m.kind = M_QUEUE, m.n_consumers = 2;
      else if (g_str_equal (w, "bytes"))
        m.name = "bytes", m.kind = M_QUEUE, m.items = bytes_items,
        m.size = (guint64) (size_mib * 1048576.0);
      else if (g_str_equal (w, "raw"))
        m.name = "raw", m.kind = M_RAW;
      else if (g_str_equal (w, "memfd_floor"))
        m.name = "memfd_floor", m.kind = M_MEMFD_FLOOR, m.items = bytes_items,
        m.size = (guint64) (size_mib * 1048576.0);
      else if (g_str_equal (w, "raw_c2"))
        m.name = "raw_c2", m.kind = M_RAW, m.n_consumers = 2;
      else if (g_str_equal (w, "raw_batch"))
        m.name = "raw_batch", m.kind = M_RAW, m.batch = batch;
      else if (g_str_equal (w, "raw_msg"))
        m.name = "raw_msg", m.kind = M_RAW, m.like_libmp = TRUE;
      else
        {
          g_printerr ("Unknown measurement “%s” (p1c1, p1c2, bytes, raw, memfd_floor, raw_c2, raw_batch, "
                      "raw_msg)\n", w);
          return 2;
        }
      m.seconds = g_array_new (FALSE, FALSE, sizeof (double));
      m.put_seconds = g_array_new (FALSE, FALSE, sizeof (double));
      m.close_seconds = g_array_new (FALSE, FALSE, sizeof (double));
      m.first_share = g_array_new (FALSE, FALSE, sizeof (double));
      g_array_append_val (measures, m);
    }

  for (int rep = 0; rep < repeat; rep++)
    for (guint j = 0; j < measures->len; j++)
      {
        Measure *m = &g_array_index (measures, Measure, rep % 2 ? measures->len - 1 - j : j);
        gboolean ok = m->kind == M_RAW ? measure_raw_once (m, &error)
                      : m->kind == M_MEMFD_FLOOR ? measure_memfd_floor_once (m, &error)
                      : measure_queue_once (m, method, &error);

        if (!ok)
          {
            g_printerr ("bench-queue: %s\n", error->message);
            return 1;
          }
      }

  if (json)
    print_json ((Measure *) measures->data, measures->len);
  else
    print_table ((Measure *) measures->data, measures->len);

  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = &g_array_index (measures, Measure, i);

      g_array_unref (m->seconds);
      g_array_unref (m->put_seconds);
      g_array_unref (m->close_seconds);
      g_array_unref (m->first_share);
    }
  return 0;
}
