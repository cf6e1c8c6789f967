/* mp-queue.c: a queue between many producers and consumers across processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-queue.h"
#include "mp-shareable.h"
#include "mp-ring-private.h"
#include "mp-runtime-private.h"
#include "mp-wire-private.h"

/**
 * MpQueue:
 *
 * Python's `multiprocessing.Queue` (and `JoinableQueue`, `SimpleQueue`):
 * any number of processes put #GVariant values in and take them out.
 *
 * Items live in a ring of records in shared memory that every holder
 * maps: a put copies the serialized value in, a get copies it out, with
 * no system call while neither side has to wait. A value too large for
 * the ring, or one that carries descriptors (pipe ends, queues), goes
 * through a SOCK_SEQPACKET socket pair that every holder shares (as one
 * datagram, large ones in a sealed memfd), and the ring gets a marker in
 * its place, written in the same locked step: items keep their order.
 *
 * Nothing is lost or duplicated: an item exists once a single store
 * publishes it and is gone once a single store takes it, under robust
 * process-shared locks, so a producer killed in the middle of a put
 * leaves no torn item and a consumer killed while idle holds nothing.
 * Items from one producer keep their order.
 *
 * A bounded queue counts its free places in an eventfd semaphore, so a
 * full queue blocks producers and can be waited on from a main loop.
 * When the ring or the socket is full, a put does not block: the item
 * waits in this process and a feeder thread puts it, as Python's does;
 * mp_queue_close() and the exit of a libmp process wait for that.
 *
 * mp_queue_qsize() counts items put and not yet taken, in shared memory:
 * exact when no put or get is under way, and it counts items still
 * waiting in a producer's feeder.
 *
 * A queue reaches a child in task arguments or through a pipe or another
 * queue (mp_queue_to_variant(), mp_queue_new_from_variant()), or directly
 * in a forked child.
 */

#define SHARED_MAGIC 0x5155504du  /* "MPUQ" */
#define REF_TYPE "(shhhhhhhi)"

/* Ring record tags. */
enum {
  TAG_VALUE = 1,   /* a serialized value */
  TAG_MARKER,      /* the next value is the socket's datagram with this serial */
};

/* The queue's own counters, in the ring's user area. Each is written by
 * one side only, on its own cache line: producers and consumers on two
 * cores do not fight over one line at every item. qsize() is
 * accepted - taken, the unfinished items of a JoinableQueue are
 * accepted - done. */
typedef struct
{
  guint32 magic;
  gint32  maxsize;
  _Alignas (64) gint64 accepted;  /* items put() accepted, not lost */
  _Alignas (64) gint64 taken;     /* items got */
  _Alignas (64) gint64 done;      /* task_done() calls */
} Shared;

G_STATIC_ASSERT (sizeof (Shared) <= MP_RING_USER_AREA_SIZE);

struct _MpQueue
{
  GObject    parent_instance;

  int        maxsize;
  MpRing    *ring;
  MpChannel *put_end;
  MpChannel *get_end;
  Shared    *shared;
  int        slots_fd;    /* eventfd semaphore of free places (bounded) */
  int        done_fd;     /* eventfd, readable once every item was done */
  gboolean   closed;

  /* The feeder: items that found no room yet, in order. */
  GMutex     lock;
  GCond      drained;
  GQueue     overflow;
  GThread   *feeder;
};

static void mp_queue_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpQueue, mp_queue, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_queue_shareable_init))

static GVariant *
shareable_to_variant (MpShareable *shareable)
{
  return mp_queue_to_variant (MP_QUEUE (shareable));
}

static void
mp_queue_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = shareable_to_variant;
}

/* The descriptors of a queue, in the order of its reference. */
enum {
  FD_PUT, FD_GET, FD_RING, FD_ITEMS, FD_ROOM, FD_SLOTS, FD_DONE, N_FDS
};

static GMutex feeding_lock;
static GList *feeding;  /* queues with a running feeder, for the exit flush */

static void flush_all_queues (void);
static gboolean create_resources (int maxsize, int out[N_FDS], GError **error);
static gboolean queue_attach (MpQueue *self, int maxsize, int fds[N_FDS], GError **error);
static void forget_feeders (void);
static void count_lost (MpQueue *self);
static void give_slot (MpQueue *self);

static void
close_fds (int fds[N_FDS])
{
  for (guint i = 0; i < N_FDS; i++)
    if (fds[i] >= 0)
      close (fds[i]);
}

static void
mp_queue_finalize (GObject *object)
{
  MpQueue *self = MP_QUEUE (object);

  mp_queue_close (self);
  g_clear_object (&self->put_end);
  g_clear_object (&self->get_end);
  g_clear_pointer (&self->ring, mp_ring_free);
  if (self->slots_fd >= 0)
    close (self->slots_fd);
  if (self->done_fd >= 0)
    close (self->done_fd);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->drained);
  G_OBJECT_CLASS (mp_queue_parent_class)->finalize (object);
}

enum {
  PROP_0,
  PROP_MAXSIZE,
  N_PROPS
};

static void
mp_queue_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  if (prop_id == PROP_MAXSIZE)
    g_value_set_int (value, MAX (MP_QUEUE (object)->maxsize, 0));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
mp_queue_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  if (prop_id == PROP_MAXSIZE)
    MP_QUEUE (object)->maxsize = g_value_get_int (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

/* Made by a binding's constructor (new Mp.Queue ({maxsize: 3})) rather
 * than mp_queue_new(): make the queue here, so the object works. */
static void
mp_queue_constructed (GObject *object)
{
  MpQueue *self = MP_QUEUE (object);

  G_OBJECT_CLASS (mp_queue_parent_class)->constructed (object);
  if (self->ring == NULL && self->maxsize != -2)
    {
      g_autoptr(GError) error = NULL;
      int maxsize = MAX (self->maxsize, 0);
      int fds[N_FDS];

      if (!create_resources (maxsize, fds, &error) ||
          !queue_attach (self, maxsize, fds, &error))
        g_critical ("%s", error->message);
    }
}

static void
mp_queue_class_init (MpQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mp_queue_finalize;
  object_class->get_property = mp_queue_get_property;
  object_class->set_property = mp_queue_set_property;
  object_class->constructed = mp_queue_constructed;

  /**
   * MpQueue:maxsize:
   *
   * The most items the queue holds; 0 for no limit.
   */
  g_object_class_install_property (object_class, PROP_MAXSIZE,
    g_param_spec_int ("maxsize", NULL, NULL, -2, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  mp_runtime_add_flush_hook (flush_all_queues);
  mp_runtime_add_child_hook (forget_feeders);
}

static void
mp_queue_init (MpQueue *self)
{
  self->slots_fd = -1;
  self->done_fd = -1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->drained);
  g_queue_init (&self->overflow);
}

static gboolean
set_errno_error (GError     **error,
                 const char  *what)
{
  int errsv = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

/* Gives @self its descriptors (taken, closed on error). */
static gboolean
queue_attach (MpQueue  *self,
              int       maxsize,
              int       fds[N_FDS],
              GError  **error)
{
  int sndbuf = 4 * 1024 * 1024;

  self->maxsize = maxsize;
  self->ring = mp_ring_new_from_fds (fds[FD_RING], fds[FD_ITEMS], fds[FD_ROOM], error);
  fds[FD_RING] = fds[FD_ITEMS] = fds[FD_ROOM] = -1;
  if (self->ring == NULL)
    {
      close_fds (fds);
      return FALSE;
    }
  self->shared = mp_ring_get_user_area (self->ring);
  self->put_end = mp_channel_new (fds[FD_PUT]);
  self->get_end = mp_channel_new (fds[FD_GET]);
  mp_channel_set_shared (self->get_end, TRUE);
  self->slots_fd = fds[FD_SLOTS];
  self->done_fd = fds[FD_DONE];
  /* Room for large items before the feeder has to step in; the kernel
   * caps this at net.core.wmem_max. */
  setsockopt (fds[FD_PUT], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return TRUE;
}

static MpQueue *
queue_new (int       maxsize,
           int       fds[N_FDS],
           GError  **error)
{
  /* -2: the descriptors come from the caller, not from constructed(). */
  g_autoptr(MpQueue) self = g_object_new (MP_TYPE_QUEUE, "maxsize", -2, NULL);

  if (!queue_attach (self, maxsize, fds, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * mp_queue_new:
 * @maxsize: the most items the queue holds; 0 for no limit
 * @error: return location for a #GError
 *
 * Makes a queue, as Python's `Queue(maxsize)`.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set
 */
MpQueue *
mp_queue_new (int      maxsize,
              GError **error)
{
  int fds[N_FDS];

  if (maxsize < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A queue's maximum size cannot be negative (%d)"), maxsize);
      return NULL;
    }
  if (!create_resources (maxsize, fds, error))
    return NULL;
  return queue_new (maxsize, fds, error);
}

/* The ring, socket pair and eventfds of a new queue. */
static gboolean
create_resources (int      maxsize,
                  int      out[N_FDS],
                  GError **error)
{
  int fds[N_FDS] = { -1, -1, -1, -1, -1, -1, -1 };
  int pair[2];
  MpRing *ring;
  Shared *shared;

  ring = mp_ring_new (MP_RING_DEFAULT_CAPACITY, error);
  if (ring == NULL)
    return FALSE;
  shared = mp_ring_get_user_area (ring);
  shared->magic = SHARED_MAGIC;
  shared->maxsize = maxsize;

  if (!mp_socket_pair (pair, error))
    {
      mp_ring_free (ring);
      return FALSE;
    }
  fds[FD_PUT] = pair[0];
  fds[FD_GET] = pair[1];
  {
    int ring_fds[3];

    mp_ring_get_fds (ring, ring_fds);
    for (guint i = 0; i < 3; i++)
      fds[FD_RING + i] = fcntl (ring_fds[i], F_DUPFD_CLOEXEC, 3);
    mp_ring_free (ring);
  }
  fds[FD_SLOTS] = eventfd (maxsize, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  /* Nothing put yet: every item is done. */
  fds[FD_DONE] = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);
  for (guint i = 0; i < N_FDS; i++)
    if (fds[i] < 0)
      {
        set_errno_error (error, _("Could not make a queue"));
        close_fds (fds);
        return FALSE;
      }
  memcpy (out, fds, sizeof fds);
  return TRUE;
}

static void
get_fds (MpQueue *self,
         int      fds[N_FDS])
{
  fds[FD_PUT] = mp_channel_get_fd (self->put_end);
  fds[FD_GET] = mp_channel_get_fd (self->get_end);
  mp_ring_get_fds (self->ring, fds + FD_RING);
  fds[FD_SLOTS] = self->slots_fd;
  fds[FD_DONE] = self->done_fd;
}

/**
 * mp_queue_to_variant:
 * @self: an #MpQueue
 *
 * A value that stands for this queue in a message or in task arguments;
 * see mp_queue_new_from_variant(). Its descriptors travel with it.
 *
 * Returns: (transfer none): a new floating reference, as g_variant_new()
 *   returns
 */
GVariant *
mp_queue_to_variant (MpQueue *self)
{
  int fds[N_FDS];

  g_return_val_if_fail (MP_IS_QUEUE (self), NULL);

  get_fds (self, fds);
  return g_variant_new (REF_TYPE, "mp:queue", fds[0], fds[1], fds[2], fds[3],
                        fds[4], fds[5], fds[6], self->maxsize);
}

/**
 * mp_queue_new_from_variant:
 * @reference: a value made by mp_queue_to_variant(), as received
 * @error: return location for a #GError
 *
 * The queue that @reference stands for, in this process.
 *
 * Returns: (transfer full): the queue, or %NULL with @error set when
 *   @reference is not a queue reference
 */
MpQueue *
mp_queue_new_from_variant (GVariant  *reference,
                           GError   **error)
{
  const char *tag;
  gint32 handles[N_FDS];
  int maxsize;
  int fds[N_FDS] = { -1, -1, -1, -1, -1, -1, -1 };
  g_autoptr(MpQueue) self = NULL;

  g_return_val_if_fail (reference != NULL, NULL);

  if (!g_variant_is_of_type (reference, G_VARIANT_TYPE (REF_TYPE)))
    goto bad;
  g_variant_get (reference, "(&shhhhhhhi)", &tag, &handles[0], &handles[1], &handles[2],
                 &handles[3], &handles[4], &handles[5], &handles[6], &maxsize);
  if (!g_str_equal (tag, "mp:queue") || maxsize < 0)
    goto bad;
  for (guint i = 0; i < N_FDS; i++)
    if ((fds[i] = fcntl (handles[i], F_DUPFD_CLOEXEC, 3)) < 0)
      goto bad;

  self = queue_new (maxsize, fds, error);
  if (self == NULL)
    return NULL;
  if (self->shared->magic != SHARED_MAGIC || self->shared->maxsize != maxsize)
    goto bad_state;
  return g_steal_pointer (&self);

bad:
  close_fds (fds);
bad_state:
  g_clear_error (error);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The value “%s” does not stand for a queue"),
               g_variant_get_type_string (reference));
  return NULL;
}

/* ---- places in a bounded queue ------------------------------------------- */

static gboolean
take_slot (MpQueue       *self,
           gboolean       block,
           double         timeout,
           GCancellable  *cancellable,
           GError       **error)
{
  gint64 deadline = block ? mp_deadline_from_timeout (timeout) : 0;

  if (self->maxsize == 0)
    return TRUE;
  for (;;)
    {
      guint64 one;
      g_autoptr(GError) wait_error = NULL;

      if (read (self->slots_fd, &one, sizeof one) == sizeof one)
        return TRUE;
      if (errno != EAGAIN && errno != EINTR)
        return set_errno_error (error, _("Could not wait for room in the queue"));
      if (!block)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                               _("The queue is full"));
          return FALSE;
        }
      if (!mp_wait_fd (self->slots_fd, G_IO_IN, deadline, cancellable, &wait_error))
        {
          if (g_error_matches (wait_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 _("The queue stayed full until the timeout"));
          else
            g_propagate_error (error, g_steal_pointer (&wait_error));
          return FALSE;
        }
    }
}

static void
give_slot (MpQueue *self)
{
  guint64 one = 1;

  if (self->maxsize > 0)
    while (write (self->slots_fd, &one, sizeof one) < 0 && errno == EINTR)
      ;
}

/* ---- placing an item: in the ring, or through the socket --------------------- */

typedef enum
{
  PLACED,
  NO_RING_ROOM,
  NO_SOCKET_ROOM,
  PLACE_FAILED,
} PlaceResult;

/* Whether @value goes in the ring itself: small, and no descriptors. */
static gboolean
goes_inline (MpQueue  *self,
             GVariant *value)
{
  const char *type = g_variant_get_type_string (value);

  return strlen (type) <= MP_RING_MAX_TYPE_LEN &&
         strchr (type, 'h') == NULL &&
         g_variant_get_size (value) <= mp_ring_get_max_record (self->ring);
}

static void
store_value (gpointer dest,
             gpointer value)
{
  g_variant_store (value, dest);
}

/* Puts @value in the ring, or sends it and puts its marker, in one step
 * under the writers' lock: markers and datagrams keep one order. The
 * message for the socket is made when needed (@message). */
static PlaceResult
place (MpQueue    *self,
       GVariant   *value,
       MpMessage **message,
       GError    **error)
{
  PlaceResult result = PLACED;

  if (!mp_ring_lock_writers (self->ring, error))
    return PLACE_FAILED;

  if (goes_inline (self, value))
    {
      const char *type = g_variant_get_type_string (value);
      gsize size = g_variant_get_size (value);

      if (mp_ring_has_room (self->ring, strlen (type), size))
        mp_ring_write (self->ring, TAG_VALUE, type, size, store_value, value);
      else
        result = NO_RING_ROOM;
    }
  else if (!mp_ring_has_room (self->ring, 0, sizeof (guint32)))
    result = NO_RING_ROOM;
  else
    {
      g_autoptr(GError) send_error = NULL;
      guint32 serial = mp_ring_next_serial (self->ring);

      if (*message == NULL)
        *message = mp_message_new (MP_WIRE_KIND_VALUE, g_variant_ref (value));
      (*message)->serial = serial;
      if (mp_channel_send_full (self->put_end, *message, FALSE, NULL, &send_error))
        mp_ring_write (self->ring, TAG_MARKER, NULL, sizeof serial, NULL, &serial);
      else if (g_error_matches (send_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        result = NO_SOCKET_ROOM;
      else
        {
          g_propagate_error (error, g_steal_pointer (&send_error));
          result = PLACE_FAILED;
        }
    }

  mp_ring_unlock_writers (self->ring);
  return result;
}

/* ---- the feeder ------------------------------------------------------------ */

static gboolean
wait_for_room (MpQueue     *self,
               MpMessage   *message,
               PlaceResult  why,
               GError     **error)
{
  if (why == NO_SOCKET_ROOM)
    return mp_wait_fd (mp_channel_get_fd (self->put_end), G_IO_OUT, -1, NULL, error);
  if (goes_inline (self, message->body))
    return mp_ring_wait_room (self->ring, strlen (g_variant_get_type_string (message->body)),
                              g_variant_get_size (message->body), -1, NULL, error);
  return mp_ring_wait_room (self->ring, 0, sizeof (guint32), -1, NULL, error);
}

static gpointer
feeder_thread (gpointer data)
{
  MpQueue *self = data;

  g_mutex_lock (&self->lock);
  while (!g_queue_is_empty (&self->overflow))
    {
      MpMessage *message = g_queue_peek_head (&self->overflow);
      g_autoptr(GError) error = NULL;
      PlaceResult result;

      /* Unlocked: producers keep appending meanwhile. */
      g_mutex_unlock (&self->lock);
      while ((result = place (self, message->body, &message, &error)) == NO_RING_ROOM ||
             result == NO_SOCKET_ROOM)
        if (!wait_for_room (self, message, result, &error))
          break;
      if (error != NULL)
        {
          /* The item is lost to the queue: count it out again. */
          g_warning ("libmp: an item could not be put in a queue: %s", error->message);
          count_lost (self);
          give_slot (self);
        }
      g_mutex_lock (&self->lock);
      g_queue_pop_head (&self->overflow);
      mp_message_free (message);
    }
  self->feeder = NULL;
  g_cond_broadcast (&self->drained);
  g_mutex_unlock (&self->lock);

  g_mutex_lock (&feeding_lock);
  feeding = g_list_remove (feeding, self);
  g_mutex_unlock (&feeding_lock);
  g_object_unref (self);
  return NULL;
}

/* Places @value now if there is room and nothing waits before it;
 * otherwise leaves it to the feeder. */
static gboolean
enqueue (MpQueue    *self,
         GVariant   *value,
         GError    **error)
{
  MpMessage *message = NULL;

  g_mutex_lock (&self->lock);
  if (g_queue_is_empty (&self->overflow))
    {
      PlaceResult result = place (self, value, &message, error);

      if (result == PLACED || result == PLACE_FAILED)
        {
          g_mutex_unlock (&self->lock);
          g_clear_pointer (&message, mp_message_free);
          return result == PLACED;
        }
    }
  if (message == NULL)
    message = mp_message_new (MP_WIRE_KIND_VALUE, g_variant_ref (value));
  /* Placed later: its descriptors must not depend on the caller's. */
  if (!mp_message_own_handles (message, error))
    {
      g_mutex_unlock (&self->lock);
      mp_message_free (message);
      return FALSE;
    }
  g_queue_push_tail (&self->overflow, message);
  if (self->feeder == NULL)
    {
      g_mutex_lock (&feeding_lock);
      feeding = g_list_prepend (feeding, self);
      g_mutex_unlock (&feeding_lock);
      self->feeder = g_thread_new ("mp-queue-feeder", feeder_thread, g_object_ref (self));
      g_thread_unref (self->feeder);
    }
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void
wait_drained (MpQueue *self)
{
  g_mutex_lock (&self->lock);
  while (self->feeder != NULL)
    g_cond_wait (&self->drained, &self->lock);
  g_mutex_unlock (&self->lock);
}

/* In a forked child: the parent's feeders and their items are not ours
 * (the threads do not exist here, and the items are the parent's to
 * send). */
static void
forget_feeders (void)
{
  for (GList *l = feeding; l != NULL; l = l->next)
    {
      MpQueue *queue = l->data;

      g_mutex_init (&queue->lock);
      g_cond_init (&queue->drained);
      g_queue_clear_full (&queue->overflow, (GDestroyNotify) mp_message_free);
      queue->feeder = NULL;
    }
  g_list_free (feeding);
  feeding = NULL;
  g_mutex_init (&feeding_lock);
}

/* Before a libmp process ends: every item put here goes out first. */
static void
flush_all_queues (void)
{
  for (;;)
    {
      MpQueue *queue = NULL;

      g_mutex_lock (&feeding_lock);
      if (feeding != NULL)
        queue = g_object_ref (feeding->data);
      g_mutex_unlock (&feeding_lock);
      if (queue == NULL)
        return;
      wait_drained (queue);
      g_object_unref (queue);
    }
}

/* ---- put and get ------------------------------------------------------------ */

static gboolean
check_open (MpQueue  *self,
            GError  **error)
{
  if (self->closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           _("The queue is closed"));
      return FALSE;
    }
  return TRUE;
}

static void
signal_done (MpQueue *self)
{
  guint64 one = 1;

  while (write (self->done_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

/* Counted before it is placed, so that a consumer never sees more taken
 * than accepted. */
static void
count_accepted (MpQueue *self)
{
  gint64 before = __atomic_fetch_add (&self->shared->accepted, 1, __ATOMIC_SEQ_CST);

  if (before == __atomic_load_n (&self->shared->done, __ATOMIC_SEQ_CST))
    {
      /* Not all done any more: take the "done" signal back. */
      guint64 count;
      while (read (self->done_fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    }
}

/* An accepted item that never made it in: no longer counted; if it was
 * the last unfinished one, the joiners are told. */
static void
count_lost (MpQueue *self)
{
  gint64 now = __atomic_sub_fetch (&self->shared->accepted, 1, __ATOMIC_SEQ_CST);

  if (now == __atomic_load_n (&self->shared->done, __ATOMIC_SEQ_CST))
    signal_done (self);
}

static gboolean
put_taken_slot (MpQueue   *self,
                GVariant  *value,
                GError   **error)
{
  count_accepted (self);
  if (!enqueue (self, value, error))
    {
      count_lost (self);
      give_slot (self);
      return FALSE;
    }
  return TRUE;
}

/**
 * mp_queue_put:
 * @self: an #MpQueue
 * @value: the item
 * @block: whether to wait for room in a full queue
 * @timeout: seconds to wait when @block; negative waits forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Puts @value in the queue, as Python's `put(obj, block, timeout)`. A
 * full queue is %G_IO_ERROR_WOULD_BLOCK without @block and
 * %G_IO_ERROR_TIMED_OUT when @timeout runs out (Python's Full).
 *
 * Returns: %TRUE once the item is in the queue
 */
gboolean
mp_queue_put (MpQueue       *self,
              GVariant      *value,
              gboolean       block,
              double         timeout,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GVariant) owned = NULL;

  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  owned = g_variant_ref_sink (value);
  if (!check_open (self, error) || !take_slot (self, block, timeout, cancellable, error))
    return FALSE;
  return put_taken_slot (self, owned, error);
}

/* The value of a ring record, checked as the wire checks a message. */
static GVariant *
value_from_record (MpRingRecord  *record,
                   GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;

  if (!g_variant_type_string_is_valid (record->type) ||
      !g_variant_type_is_definite (G_VARIANT_TYPE (record->type)))
    goto bad;
  bytes = g_bytes_new (record->data, record->size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (record->type), bytes, FALSE));
  /* Bytes are always in normal form; GLib would check them one by one. */
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING) && !g_variant_is_normal_form (value))
    goto bad;
  return g_steal_pointer (&value);

bad:
  g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("The shared memory of a queue held a malformed item"));
  return NULL;
}

/* The datagram a marker stands for. Datagrams older than @serial were
 * sent by producers that died before they wrote the marker, or were left
 * by consumers that died after they took it: they are dropped. */
static MpMessage *
receive_marked (MpQueue  *self,
                guint32   serial,
                GError  **error)
{
  for (;;)
    {
      g_autoptr(GError) receive_error = NULL;
      MpMessage *message = mp_channel_receive (self->get_end, 0, NULL, &receive_error);

      if (message == NULL)
        {
          /* A frame that is not one is refused and the next one read;
           * the socket is shared, so it stays open. */
          if (g_error_matches (receive_error, MP_ERROR, MP_ERROR_PROTOCOL))
            continue;
          if (g_error_matches (receive_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                                 _("An item of the queue was missing from its socket"));
          else
            g_propagate_error (error, g_steal_pointer (&receive_error));
          return NULL;
        }
      if ((gint32) (message->serial - serial) < 0)
        {
          mp_message_free (message);
          continue;
        }
      if (message->serial != serial || message->kind != MP_WIRE_KIND_VALUE)
        {
          g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("A queue received an unexpected “%s” message"),
                       mp_wire_kind_to_string (message->kind));
          mp_message_free (message);
          return NULL;
        }
      return message;
    }
}

/* Takes the oldest item: the value, or NULL with @error set, or NULL
 * without an error when the queue is empty. */
static GVariant *
take (MpQueue  *self,
      GError  **error)
{
  MpRingRecord record;
  GVariant *value = NULL;
  int found;

  if (!mp_ring_lock_readers (self->ring, error))
    return NULL;
  found = mp_ring_peek (self->ring, &record, error);
  if (found <= 0)
    {
      mp_ring_unlock_readers (self->ring);
      return NULL;
    }

  if (record.tag == TAG_VALUE)
    {
      value = value_from_record (&record, error);
      mp_ring_consume (self->ring);
    }
  else if (record.tag == TAG_MARKER && record.size == sizeof (guint32))
    {
      guint32 serial;
      MpMessage *message;

      memcpy (&serial, record.data, sizeof serial);
      /* Gone from the ring before the socket is read: a consumer killed
       * in between loses that item, never gets the next one's. */
      mp_ring_consume (self->ring);
      message = receive_marked (self, serial, error);
      if (message != NULL)
        {
          value = g_variant_ref (message->body);
          mp_message_free (message);
        }
    }
  else
    {
      mp_ring_consume (self->ring);
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("The shared memory of a queue held a record of unknown kind %u"),
                   record.tag);
    }
  mp_ring_unlock_readers (self->ring);

  __atomic_add_fetch (&self->shared->taken, 1, __ATOMIC_RELAXED);
  give_slot (self);
  return value;
}

/**
 * mp_queue_get:
 * @self: an #MpQueue
 * @block: whether to wait for an item
 * @timeout: seconds to wait when @block; negative waits forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next item, as Python's `get(block, timeout)`. An empty queue
 * is %G_IO_ERROR_WOULD_BLOCK without @block and %G_IO_ERROR_TIMED_OUT
 * when @timeout runs out (Python's Empty).
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 */
GVariant *
mp_queue_get (MpQueue       *self,
              gboolean       block,
              double         timeout,
              GCancellable  *cancellable,
              GError       **error)
{
  gint64 deadline = block ? mp_deadline_from_timeout (timeout) : 0;

  g_return_val_if_fail (MP_IS_QUEUE (self), NULL);

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      GVariant *value = take (self, &local_error);

      if (value != NULL)
        return value;
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (!block)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                               _("The queue is empty"));
          return NULL;
        }
      if (!mp_ring_wait_items (self->ring, deadline, cancellable, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 _("The queue stayed empty until the timeout"));
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
}

/* TRUE once the task is returned: with an item or an error. */
static gboolean
get_ready (GTask *task)
{
  MpQueue *self = g_task_get_source_object (task);
  GError *error = NULL;
  GVariant *value;

  mp_ring_clear_items_fd (self->ring);
  value = take (self, &error);
  if (value != NULL)
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
  else if (error != NULL)
    g_task_return_error (task, error);
  else
    return FALSE;
  return TRUE;
}

static void
stop_waiting (gpointer data)
{
  MpQueue *self = data;

  mp_ring_remove_reader_waiter (self->ring);
  g_object_unref (self);
}

/**
 * mp_queue_get_async:
 * @self: an #MpQueue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the item
 * @user_data: (closure): data for @callback
 *
 * Takes the next item without blocking: @callback runs on the caller's
 * thread-default main context once an item is there.
 */
void
mp_queue_get_async (MpQueue             *self,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_QUEUE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_queue_get_async);
  /* An item taken is delivered, cancelled or not: nothing is lost. */
  g_task_set_check_cancellable (task, FALSE);

  /* Counted as a waiter before the last look, so that a producer either
   * is seen to have put something or sees this waiter. */
  mp_ring_add_reader_waiter (self->ring);
  g_object_set_data_full (G_OBJECT (task), "mp-queue-waiter", g_object_ref (self), stop_waiting);
  if (!get_ready (task))
    mp_task_wait_fd (task, mp_ring_get_items_fd (self->ring), G_IO_IN, get_ready, "[mp] queue get");
}

/**
 * mp_queue_get_finish:
 * @self: an #MpQueue
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the item, or %NULL with @error set
 */
GVariant *
mp_queue_get_finish (MpQueue       *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
put_room_ready (GTask *task)
{
  MpQueue *self = g_task_get_source_object (task);
  GVariant *value = g_task_get_task_data (task);
  GError *error = NULL;

  if (!take_slot (self, FALSE, 0, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          /* Another producer took the place first. */
          g_error_free (error);
          return FALSE;
        }
      g_task_return_error (task, error);
      return TRUE;
    }
  if (put_taken_slot (self, value, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  return TRUE;
}

/**
 * mp_queue_put_async:
 * @self: an #MpQueue
 * @value: the item
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the item is in the queue
 * @user_data: (closure): data for @callback
 *
 * Puts @value without blocking: a full queue is waited on from the
 * caller's thread-default main context.
 */
void
mp_queue_put_async (MpQueue             *self,
                    GVariant            *value,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (MP_IS_QUEUE (self));
  g_return_if_fail (value != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_queue_put_async);
  /* An item put is reported as put, so that nobody puts it twice. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_variant_ref_sink (value), (GDestroyNotify) g_variant_unref);

  if (!check_open (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (!put_room_ready (task))
    mp_task_wait_fd (task, self->slots_fd, G_IO_IN, put_room_ready, "[mp] queue put");
}

/**
 * mp_queue_put_finish:
 * @self: an #MpQueue
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once the item is in the queue
 */
gboolean
mp_queue_put_finish (MpQueue       *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- sizes, close, JoinableQueue -------------------------------------------- */

static gint64
unfinished (MpQueue *self)
{
  return __atomic_load_n (&self->shared->accepted, __ATOMIC_SEQ_CST) -
         __atomic_load_n (&self->shared->done, __ATOMIC_SEQ_CST);
}

/**
 * mp_queue_qsize:
 * @self: an #MpQueue
 *
 * Returns: the number of items put and not yet taken (see #MpQueue for
 *   when it is exact)
 */
int
mp_queue_qsize (MpQueue *self)
{
  g_return_val_if_fail (MP_IS_QUEUE (self), 0);
  gint64 taken = __atomic_load_n (&self->shared->taken, __ATOMIC_RELAXED);
  gint64 accepted = __atomic_load_n (&self->shared->accepted, __ATOMIC_RELAXED);

  return (int) CLAMP (accepted - taken, 0, G_MAXINT);
}

/**
 * mp_queue_empty:
 * @self: an #MpQueue
 *
 * Returns: whether mp_queue_qsize() is 0
 */
gboolean
mp_queue_empty (MpQueue *self)
{
  return mp_queue_qsize (self) == 0;
}

/**
 * mp_queue_full:
 * @self: an #MpQueue
 *
 * Returns: whether a bounded queue holds its maximum
 */
gboolean
mp_queue_full (MpQueue *self)
{
  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);
  return self->maxsize > 0 && mp_queue_qsize (self) >= self->maxsize;
}

/**
 * mp_queue_get_maxsize:
 * @self: an #MpQueue
 *
 * Returns: the maximum size; 0 for none
 */
int
mp_queue_get_maxsize (MpQueue *self)
{
  g_return_val_if_fail (MP_IS_QUEUE (self), 0);
  return self->maxsize;
}

/**
 * mp_queue_close:
 * @self: an #MpQueue
 *
 * Says that this process puts nothing more, as Python's `close()`, and
 * waits until every item it put has gone out (Python's `join_thread()`).
 * Getting still works.
 */
void
mp_queue_close (MpQueue *self)
{
  g_return_if_fail (MP_IS_QUEUE (self));

  self->closed = TRUE;
  wait_drained (self);
}

/**
 * mp_queue_task_done:
 * @self: an #MpQueue
 * @error: return location for a #GError
 *
 * Says that an item taken from the queue has been dealt with, as
 * `JoinableQueue.task_done()`.
 *
 * Returns: %TRUE, or %FALSE with @error set when called more times than
 *   items were put
 */
gboolean
mp_queue_task_done (MpQueue  *self,
                    GError  **error)
{
  gint64 old;

  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);

  old = __atomic_load_n (&self->shared->done, __ATOMIC_SEQ_CST);
  do
    {
      if (old >= __atomic_load_n (&self->shared->accepted, __ATOMIC_SEQ_CST))
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                               _("task_done() called more times than items were put"));
          return FALSE;
        }
    }
  while (!__atomic_compare_exchange_n (&self->shared->done, &old, old + 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));

  if (old + 1 == __atomic_load_n (&self->shared->accepted, __ATOMIC_SEQ_CST))
    signal_done (self);
  return TRUE;
}

/**
 * mp_queue_join:
 * @self: an #MpQueue
 * @timeout: seconds to wait; negative waits forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until every item put has been marked done with
 * mp_queue_task_done(), as `JoinableQueue.join()`.
 *
 * Returns: %TRUE then; %FALSE with %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mp_queue_join (MpQueue       *self,
               double         timeout,
               GCancellable  *cancellable,
               GError       **error)
{
  gint64 deadline = mp_deadline_from_timeout (timeout);

  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);

  /* The "done" eventfd stays readable while nothing is unfinished. */
  while (unfinished (self) > 0)
    {
      g_autoptr(GError) wait_error = NULL;

      if (!mp_wait_fd (self->done_fd, G_IO_IN, deadline, cancellable, &wait_error))
        {
          if (g_error_matches (wait_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 _("Items were still unfinished at the timeout"));
          else
            g_propagate_error (error, g_steal_pointer (&wait_error));
          return FALSE;
        }
      if (unfinished (self) > 0)
        {
          /* Readable but not done: a put is taking the signal back. Wait
           * for it to go, not in a busy loop. */
          GPollFD pfd = { self->done_fd, G_IO_IN, 0 };
          while (unfinished (self) > 0 && g_poll (&pfd, 1, 0) > 0)
            g_thread_yield ();
        }
    }
  return TRUE;
}

static gboolean
join_ready (GTask *task)
{
  MpQueue *self = g_task_get_source_object (task);

  if (unfinished (self) > 0)
    return FALSE;
  g_task_return_boolean (task, TRUE);
  return TRUE;
}

/**
 * mp_queue_join_async:
 * @self: an #MpQueue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once every item is done
 * @user_data: (closure): data for @callback
 *
 * Waits, from the caller's thread-default main context, until every item
 * put has been marked done.
 */
void
mp_queue_join_async (MpQueue             *self,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_QUEUE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_queue_join_async);
  /* The "done" eventfd stays readable while nothing is unfinished. */
  if (!join_ready (task))
    mp_task_wait_fd (task, self->done_fd, G_IO_IN, join_ready, "[mp] queue join");
}

/**
 * mp_queue_join_finish:
 * @self: an #MpQueue
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once every item was done; %FALSE with @error set when
 *   cancelled
 */
gboolean
mp_queue_join_finish (MpQueue       *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
