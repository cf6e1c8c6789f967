/* mp-queue.c: a queue between many producers and consumers across processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-queue.h"
#include "mp-runtime-private.h"
#include "mp-wire-private.h"

/**
 * MpQueue:
 *
 * Python's `multiprocessing.Queue` (and `JoinableQueue`, `SimpleQueue`):
 * any number of processes put #GVariant values in and take them out.
 *
 * It is one SOCK_SEQPACKET socket pair that every holder shares: a put
 * is one datagram written to one end, a get one datagram read from the
 * other. The kernel delivers each datagram whole to exactly one reader,
 * so items are never torn, lost or duplicated: a consumer killed while
 * idle holds nothing, and a producer killed in the middle of a put has
 * either put the item or not. Items from one producer keep their order.
 *
 * A bounded queue counts its free places in an eventfd semaphore, so a
 * full queue blocks producers and can be waited on from a main loop.
 * When the socket buffer is full, a put does not block: the item waits in
 * this process and a feeder thread sends it, as Python's does;
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
#define REF_TYPE "(shhhhhi)"

typedef struct
{
  guint32 magic;
  gint32  maxsize;
  gint32  size;        /* items put and not yet taken */
  gint32  unfinished;  /* items put and not yet task_done() */
} Shared;

struct _MpQueue
{
  GObject    parent_instance;

  int        maxsize;
  MpChannel *put_end;
  MpChannel *get_end;
  int        shared_fd;
  Shared    *shared;
  int        slots_fd;    /* eventfd semaphore of free places (bounded) */
  int        done_fd;     /* eventfd, readable once every item was done */
  gboolean   closed;

  /* The feeder: items the socket could not take yet, in order. */
  GMutex     lock;
  GCond      drained;
  GQueue     overflow;
  GThread   *feeder;
};

G_DEFINE_FINAL_TYPE (MpQueue, mp_queue, G_TYPE_OBJECT)

static GMutex feeding_lock;
static GList *feeding;  /* queues with a running feeder, for the exit flush */

static void flush_all_queues (void);
static gboolean create_resources (int maxsize, int out[5], GError **error);
static gboolean queue_attach (MpQueue *self, int maxsize, int put_fd, int get_fd,
                              int shared_fd, int slots_fd, int done_fd, GError **error);
static void forget_feeders (void);
static void mark_done (MpQueue *self);
static void give_slot (MpQueue *self);

static void
mp_queue_finalize (GObject *object)
{
  MpQueue *self = MP_QUEUE (object);

  mp_queue_close (self);
  g_clear_object (&self->put_end);
  g_clear_object (&self->get_end);
  if (self->shared != NULL)
    munmap (self->shared, sizeof (Shared));
  if (self->shared_fd >= 0)
    close (self->shared_fd);
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
  if (self->put_end == NULL && self->maxsize != -2)
    {
      g_autoptr(GError) error = NULL;
      int maxsize = MAX (self->maxsize, 0);
      int fds[5];

      if (!create_resources (maxsize, fds, &error) ||
          !queue_attach (self, maxsize, fds[0], fds[1], fds[2], fds[3], fds[4], &error))
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
  self->shared_fd = -1;
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

/* Gives @self its descriptors (taken). */
static gboolean
queue_attach (MpQueue  *self,
              int       maxsize,
              int       put_fd,
              int       get_fd,
              int       shared_fd,
              int       slots_fd,
              int       done_fd,
              GError  **error)
{
  int sndbuf = 4 * 1024 * 1024;

  self->maxsize = maxsize;
  self->put_end = mp_channel_new (put_fd);
  self->get_end = mp_channel_new (get_fd);
  mp_channel_set_shared (self->get_end, TRUE);
  self->shared_fd = shared_fd;
  self->slots_fd = slots_fd;
  self->done_fd = done_fd;
  /* Room for many small items before the feeder has to step in; the
   * kernel caps this at net.core.wmem_max. */
  setsockopt (put_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  self->shared = mmap (NULL, sizeof (Shared), PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
  if (self->shared == MAP_FAILED)
    {
      self->shared = NULL;
      return set_errno_error (error, _("Could not map the queue's shared state"));
    }
  return TRUE;
}

static MpQueue *
queue_new (int       maxsize,
           int       put_fd,
           int       get_fd,
           int       shared_fd,
           int       slots_fd,
           int       done_fd,
           GError  **error)
{
  /* -2: the descriptors come from the caller, not from constructed(). */
  g_autoptr(MpQueue) self = g_object_new (MP_TYPE_QUEUE, "maxsize", -2, NULL);

  if (!queue_attach (self, maxsize, put_fd, get_fd, shared_fd, slots_fd, done_fd, error))
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
  int fds[5];

  if (maxsize < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A queue's maximum size cannot be negative (%d)"), maxsize);
      return NULL;
    }
  if (!create_resources (maxsize, fds, error))
    return NULL;
  return queue_new (maxsize, fds[0], fds[1], fds[2], fds[3], fds[4], error);
}

/* The socket pair, shared state and eventfds of a new queue. */
static gboolean
create_resources (int      maxsize,
                  int      out[5],
                  GError **error)
{
  int fds[2];
  int shared_fd = -1, slots_fd = -1, done_fd = -1;
  Shared *shared;

  if (!mp_socket_pair (fds, error))
    return FALSE;

  shared_fd = memfd_create ("mp-queue", MFD_CLOEXEC);
  if (shared_fd < 0 || ftruncate (shared_fd, sizeof (Shared)) != 0)
    goto fail;
  shared = mmap (NULL, sizeof (Shared), PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
  if (shared == MAP_FAILED)
    goto fail;
  shared->magic = SHARED_MAGIC;
  shared->maxsize = maxsize;
  munmap (shared, sizeof (Shared));

  slots_fd = eventfd (maxsize, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  if (slots_fd < 0)
    goto fail;
  /* Nothing put yet: every item is done. */
  done_fd = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC);
  if (done_fd < 0)
    goto fail;

  out[0] = fds[0];
  out[1] = fds[1];
  out[2] = shared_fd;
  out[3] = slots_fd;
  out[4] = done_fd;
  return TRUE;

fail:
  set_errno_error (error, _("Could not make a queue"));
  close (fds[0]);
  close (fds[1]);
  if (shared_fd >= 0)
    close (shared_fd);
  if (slots_fd >= 0)
    close (slots_fd);
  return FALSE;
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
  g_return_val_if_fail (MP_IS_QUEUE (self), NULL);

  return g_variant_new (REF_TYPE, "mp:queue",
                        mp_channel_get_fd (self->put_end),
                        mp_channel_get_fd (self->get_end),
                        self->shared_fd, self->slots_fd, self->done_fd, self->maxsize);
}

static int
dup_fd (gint32 handle)
{
  return fcntl (handle, F_DUPFD_CLOEXEC, 3);
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
  gint32 put_h, get_h, shared_h, slots_h, done_h;
  int maxsize;
  int fds[5] = { -1, -1, -1, -1, -1 };
  g_autoptr(MpQueue) self = NULL;

  g_return_val_if_fail (reference != NULL, NULL);

  if (!g_variant_is_of_type (reference, G_VARIANT_TYPE (REF_TYPE)))
    goto bad;
  g_variant_get (reference, "(&shhhhhi)", &tag, &put_h, &get_h, &shared_h, &slots_h, &done_h, &maxsize);
  if (!g_str_equal (tag, "mp:queue") || maxsize < 0)
    goto bad;
  fds[0] = dup_fd (put_h);
  fds[1] = dup_fd (get_h);
  fds[2] = dup_fd (shared_h);
  fds[3] = dup_fd (slots_h);
  fds[4] = dup_fd (done_h);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    if (fds[i] < 0)
      goto bad;

  self = queue_new (maxsize, fds[0], fds[1], fds[2], fds[3], fds[4], error);
  if (self == NULL)
    return NULL;
  if (self->shared->magic != SHARED_MAGIC || self->shared->maxsize != maxsize)
    goto bad_state;
  return g_steal_pointer (&self);

bad:
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    if (fds[i] >= 0)
      close (fds[i]);
bad_state:
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

/* ---- the feeder ------------------------------------------------------------ */

static gpointer
feeder_thread (gpointer data)
{
  MpQueue *self = data;

  g_mutex_lock (&self->lock);
  while (!g_queue_is_empty (&self->overflow))
    {
      MpMessage *message = g_queue_peek_head (&self->overflow);
      g_autoptr(GError) error = NULL;

      /* Send unlocked: producers keep appending meanwhile. */
      g_mutex_unlock (&self->lock);
      if (!mp_channel_send (self->put_end, message, NULL, &error))
        {
          /* The item is lost to the queue: count it out again. */
          g_warning ("libmp: an item could not be put in a queue: %s", error->message);
          g_atomic_int_add (&self->shared->size, -1);
          mark_done (self);
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

/* Sends @message now if the socket takes it and nothing waits before it;
 * otherwise leaves it to the feeder. Takes @message. */
static gboolean
enqueue (MpQueue    *self,
         MpMessage  *message,
         GError    **error)
{
  g_autoptr(GError) send_error = NULL;

  g_mutex_lock (&self->lock);
  if (g_queue_is_empty (&self->overflow))
    {
      if (mp_channel_send_full (self->put_end, message, FALSE, NULL, &send_error))
        {
          g_mutex_unlock (&self->lock);
          mp_message_free (message);
          return TRUE;
        }
      if (!g_error_matches (send_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_mutex_unlock (&self->lock);
          mp_message_free (message);
          g_propagate_error (error, g_steal_pointer (&send_error));
          return FALSE;
        }
    }
  /* Sent later: its descriptors must not depend on the caller's. */
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

/* One item less unfinished; the last one signals the joiners. */
static void
mark_done (MpQueue *self)
{
  if (g_atomic_int_dec_and_test (&self->shared->unfinished))
    {
      guint64 one = 1;
      while (write (self->done_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    }
}

static gboolean
put_taken_slot (MpQueue   *self,
                GVariant  *value,
                GError   **error)
{
  MpMessage *message = mp_message_new (MP_WIRE_KIND_VALUE, g_variant_ref (value));

  g_atomic_int_inc (&self->shared->size);
  if (g_atomic_int_add (&self->shared->unfinished, 1) == 0)
    {
      /* Not all done any more: take the "done" signal back. */
      guint64 count;
      while (read (self->done_fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    }
  if (!enqueue (self, message, error))
    {
      g_atomic_int_add (&self->shared->size, -1);
      mark_done (self);
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
  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  g_variant_ref_sink (value);
  if (!check_open (self, error) || !take_slot (self, block, timeout, cancellable, error))
    {
      g_variant_unref (value);
      return FALSE;
    }
  {
    gboolean ok = put_taken_slot (self, value, error);
    g_variant_unref (value);
    return ok;
  }
}

static GVariant *
taken (MpQueue   *self,
       MpMessage *message,
       GError   **error)
{
  GVariant *value;

  g_atomic_int_add (&self->shared->size, -1);
  give_slot (self);
  if (message->kind != MP_WIRE_KIND_VALUE)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("A queue received an unexpected “%s” message"),
                   mp_wire_kind_to_string (message->kind));
      mp_message_free (message);
      return NULL;
    }
  value = g_variant_ref (message->body);
  mp_message_free (message);
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
  g_autoptr(GError) local_error = NULL;
  MpMessage *message;

  g_return_val_if_fail (MP_IS_QUEUE (self), NULL);

  message = mp_channel_receive (self->get_end, block ? timeout : 0, cancellable, &local_error);
  if (message == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error_literal (error, G_IO_ERROR, block ? G_IO_ERROR_TIMED_OUT : G_IO_ERROR_WOULD_BLOCK,
                             block ? _("The queue stayed empty until the timeout")
                                   : _("The queue is empty"));
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return taken (self, message, error);
}

static void
get_ready_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MpQueue *self = g_task_get_source_object (task);
  GError *error = NULL;
  MpMessage *message;
  GVariant *value;

  message = mp_channel_receive_finish (MP_CHANNEL (source), result, &error);
  if (message == NULL || (value = taken (self, message, &error)) == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
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
  GTask *task;

  g_return_if_fail (MP_IS_QUEUE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_queue_get_async);
  /* An item taken is delivered, cancelled or not: nothing is lost. */
  g_task_set_check_cancellable (task, FALSE);
  mp_channel_receive_async (self->get_end, cancellable, get_ready_cb, task);
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
  return MAX (0, g_atomic_int_get (&self->shared->size));
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
  gint32 old;

  g_return_val_if_fail (MP_IS_QUEUE (self), FALSE);

  do
    {
      old = g_atomic_int_get (&self->shared->unfinished);
      if (old <= 0)
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                               _("task_done() called more times than items were put"));
          return FALSE;
        }
    }
  while (!g_atomic_int_compare_and_exchange (&self->shared->unfinished, old, old - 1));

  if (old == 1)
    {
      guint64 one = 1;
      while (write (self->done_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    }
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
  while (g_atomic_int_get (&self->shared->unfinished) > 0)
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
      if (g_atomic_int_get (&self->shared->unfinished) > 0)
        {
          /* Readable but not done: a put is taking the signal back. Wait
           * for it to go, not in a busy loop. */
          GPollFD pfd = { self->done_fd, G_IO_IN, 0 };
          while (g_atomic_int_get (&self->shared->unfinished) > 0 && g_poll (&pfd, 1, 0) > 0)
            g_thread_yield ();
        }
    }
  return TRUE;
}

static gboolean
join_ready (GTask *task)
{
  MpQueue *self = g_task_get_source_object (task);

  if (g_atomic_int_get (&self->shared->unfinished) > 0)
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
