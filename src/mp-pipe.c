/* mp-pipe.c: one end of a connection between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-pipe.h"
#include "mp-shareable.h"
#include "mp-wire-private.h"

/**
 * MpPipe:
 *
 * One end of a connection, as returned in pairs by Python's
 * `multiprocessing.Pipe()`: mp_pipe_new_pair().
 *
 * Messages are #GVariant values (mp_pipe_send(), mp_pipe_recv()) or raw
 * bytes (mp_pipe_send_bytes(), mp_pipe_recv_bytes()). Message boundaries
 * are kept; a value larger than about 64 KiB travels in a sealed memory
 * file that the receiver maps, so it is not copied through the socket.
 *
 * A pipe end reaches a child as a task argument, as a property of an
 * #MpProcess subclass, or inside a message on another pipe or queue:
 * mp_pipe_to_variant() gives the value to put there and
 * mp_pipe_new_from_variant() the object back on the other side. In a
 * forked child the object itself is there.
 *
 * mp_pipe_recv_async() receives on the main loop of the calling thread's
 * thread-default context, so a GUI needs no polling.
 */

struct _MpPipe
{
  GObject     parent_instance;

  MpChannel  *channel;
  gboolean    readable;
  gboolean    writable;

  GMutex      lock;
  MpMessage  *pending;   /* received but refused (wrong type or kind) */
};

static void mp_pipe_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpPipe, mp_pipe, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_pipe_shareable_init))

static GVariant *
shareable_to_variant (MpShareable *shareable)
{
  return mp_pipe_to_variant (MP_PIPE (shareable));
}

static void
mp_pipe_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = shareable_to_variant;
}

enum {
  PROP_0,
  PROP_READABLE,
  PROP_WRITABLE,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define REF_TYPE "(sh)"

static void
mp_pipe_finalize (GObject *object)
{
  MpPipe *self = MP_PIPE (object);

  g_clear_object (&self->channel);
  g_clear_pointer (&self->pending, mp_message_free);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mp_pipe_parent_class)->finalize (object);
}

static void
mp_pipe_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  MpPipe *self = MP_PIPE (object);

  switch (prop_id)
    {
    case PROP_READABLE:
      g_value_set_boolean (value, self->readable);
      break;
    case PROP_WRITABLE:
      g_value_set_boolean (value, self->writable);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, mp_pipe_get_closed (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_pipe_class_init (MpPipeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mp_pipe_finalize;
  object_class->get_property = mp_pipe_get_property;

  /**
   * MpPipe:readable:
   *
   * Whether this end can receive.
   */
  properties[PROP_READABLE] =
    g_param_spec_boolean ("readable", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * MpPipe:writable:
   *
   * Whether this end can send.
   */
  properties[PROP_WRITABLE] =
    g_param_spec_boolean ("writable", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * MpPipe:closed:
   *
   * Whether mp_pipe_close() was called on this end.
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mp_pipe_init (MpPipe *self)
{
  g_mutex_init (&self->lock);
}

static MpPipe *
pipe_new (MpChannel *channel,
          gboolean   readable,
          gboolean   writable)
{
  MpPipe *self = g_object_new (MP_TYPE_PIPE, NULL);

  self->channel = channel;
  self->readable = readable;
  self->writable = writable;
  return self;
}

/**
 * mp_pipe_new_pair:
 * @duplex: whether both ends can send and receive
 * @first: (out) (transfer full): the first end; with @duplex %FALSE it
 *   only receives
 * @second: (out) (transfer full): the second end; with @duplex %FALSE it
 *   only sends
 * @error: return location for a #GError
 *
 * Makes a connected pair, as Python's `Pipe(duplex)`.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
mp_pipe_new_pair (gboolean   duplex,
                  MpPipe   **first,
                  MpPipe   **second,
                  GError   **error)
{
  MpChannel *a, *b;

  g_return_val_if_fail (first != NULL && second != NULL, FALSE);

  if (!mp_channel_new_pair (&a, &b, error))
    return FALSE;
  if (!duplex)
    {
      /* The kernel enforces the direction too. */
      shutdown (mp_channel_get_fd (a), SHUT_WR);
      shutdown (mp_channel_get_fd (b), SHUT_RD);
    }
  *first = pipe_new (a, TRUE, duplex);
  *second = pipe_new (b, duplex, TRUE);
  return TRUE;
}

/**
 * mp_pipe_to_variant:
 * @self: an #MpPipe
 *
 * A value that stands for this end in a message or in task arguments:
 * the receiving process turns it back into a pipe end with
 * mp_pipe_new_from_variant(). Its descriptor travels with the message.
 *
 * Returns: (transfer none): a new floating `(sh)` reference, as
 *   g_variant_new() returns
 */
GVariant *
mp_pipe_to_variant (MpPipe *self)
{
  const char *tag;

  g_return_val_if_fail (MP_IS_PIPE (self), NULL);

  tag = self->readable && self->writable ? "mp:pipe:rw" : self->readable ? "mp:pipe:r" : "mp:pipe:w";
  return g_variant_new (REF_TYPE, tag, mp_channel_get_fd (self->channel));
}

/**
 * mp_pipe_new_from_variant:
 * @reference: a value made by mp_pipe_to_variant(), as received
 * @error: return location for a #GError
 *
 * The pipe end that @reference stands for. The new object has its own
 * descriptor; @reference keeps its.
 *
 * Returns: (transfer full): the pipe end, or %NULL with @error set when
 *   @reference is not a pipe reference
 */
MpPipe *
mp_pipe_new_from_variant (GVariant  *reference,
                          GError   **error)
{
  const char *tag;
  gint32 handle;
  gboolean readable, writable;
  int type = 0;
  socklen_t len = sizeof type;
  int fd;

  g_return_val_if_fail (reference != NULL, NULL);

  if (!g_variant_is_of_type (reference, G_VARIANT_TYPE (REF_TYPE)))
    goto bad;
  g_variant_get (reference, "(&sh)", &tag, &handle);
  if (g_str_equal (tag, "mp:pipe:rw"))
    readable = writable = TRUE;
  else if (g_str_equal (tag, "mp:pipe:r"))
    readable = TRUE, writable = FALSE;
  else if (g_str_equal (tag, "mp:pipe:w"))
    readable = FALSE, writable = TRUE;
  else
    goto bad;

  if (getsockopt (handle, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
    goto bad;
  fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    goto bad;
  return pipe_new (mp_channel_new (fd), readable, writable);

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The value “%s” does not stand for a pipe end"),
               g_variant_get_type_string (reference));
  return NULL;
}

static gboolean
check_direction (MpPipe    *self,
                 gboolean   sending,
                 GError   **error)
{
  if (mp_pipe_get_closed (self))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           _("The pipe end is closed"));
      return FALSE;
    }
  if (sending && !self->writable)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("This end of the pipe only receives"));
      return FALSE;
    }
  if (!sending && !self->readable)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("This end of the pipe only sends"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
send_message (MpPipe        *self,
              MpWireKind     kind,
              GVariant      *body,
              GCancellable  *cancellable,
              GError       **error)
{
  /* The caller keeps its reference; a floating @body is sunk here. */
  g_autoptr(MpMessage) message = mp_message_new (kind, g_variant_ref_sink (body));

  if (!check_direction (self, TRUE, error))
    return FALSE;
  return mp_channel_send (self->channel, message, cancellable, error);
}

/**
 * mp_pipe_send:
 * @self: an #MpPipe
 * @value: the value to send
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends @value, as Python's `send(obj)`. It blocks only while the
 * socket is full. Pipe ends and queues inside @value (as their variants)
 * travel too.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_pipe_send (MpPipe        *self,
              GVariant      *value,
              GCancellable  *cancellable,
              GError       **error)
{
  g_return_val_if_fail (MP_IS_PIPE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  return send_message (self, MP_WIRE_KIND_VALUE, value, cancellable, error);
}

/**
 * mp_pipe_send_bytes:
 * @self: an #MpPipe
 * @bytes: the bytes to send
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Sends raw bytes, as Python's `send_bytes()`.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_pipe_send_bytes (MpPipe        *self,
                    GBytes        *bytes,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (MP_IS_PIPE (self), FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);

  return send_message (self, MP_WIRE_KIND_BYTES,
                       g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE),
                       cancellable, error);
}

/* Whether @message is what the caller asked for. If not, it is kept for
 * the next receive, so that nothing is lost. */
static gboolean
accept_message (MpPipe              *self,
                MpMessage           *message,
                MpWireKind           kind,
                const GVariantType  *expected_type,
                GError             **error)
{
  if (message->kind != MP_WIRE_KIND_VALUE && message->kind != MP_WIRE_KIND_BYTES)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("A pipe received an unexpected “%s” message"),
                   mp_wire_kind_to_string (message->kind));
      mp_message_free (message);
      return FALSE;
    }
  if (kind == MP_WIRE_KIND_BYTES && message->kind != MP_WIRE_KIND_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Expected bytes, but the next message is a value of type “%s”; it stays for the next receive"),
                   g_variant_get_type_string (message->body));
      goto keep;
    }
  if (expected_type != NULL && !g_variant_is_of_type (message->body, expected_type))
    {
      g_autofree char *expected = g_variant_type_dup_string (expected_type);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("Expected a value of type “%s”, but the next message is of type “%s”; it stays for the next receive"),
                   expected, g_variant_get_type_string (message->body));
      goto keep;
    }
  return TRUE;

keep:
  g_mutex_lock (&self->lock);
  if (self->pending == NULL)
    self->pending = message;
  else
    mp_message_free (message);   /* cannot happen: pending is served first */
  g_mutex_unlock (&self->lock);
  return FALSE;
}

static MpMessage *
take_pending (MpPipe *self)
{
  MpMessage *message;

  g_mutex_lock (&self->lock);
  message = g_steal_pointer (&self->pending);
  g_mutex_unlock (&self->lock);
  return message;
}

static MpMessage *
receive (MpPipe              *self,
         MpWireKind           kind,
         const GVariantType  *expected_type,
         GCancellable        *cancellable,
         GError             **error)
{
  MpMessage *message;

  if (!check_direction (self, FALSE, error))
    return NULL;
  message = take_pending (self);
  if (message == NULL)
    message = mp_channel_receive (self->channel, -1, cancellable, error);
  if (message == NULL)
    return NULL;
  if (!accept_message (self, message, kind, expected_type, error))
    return NULL;
  return message;
}

/**
 * mp_pipe_recv:
 * @self: an #MpPipe
 * @expected_type: (nullable): the type the value must have
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next message, waiting for it, as Python's `recv()`. Bytes
 * sent with mp_pipe_send_bytes() come as an `ay` value.
 *
 * When the peer has closed and nothing is left, it fails with
 * %G_IO_ERROR_CLOSED (Python's EOFError). When @expected_type is given
 * and the value has another type, it fails with %G_IO_ERROR_INVALID_DATA
 * and the message stays for the next receive.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mp_pipe_recv (MpPipe              *self,
              const GVariantType  *expected_type,
              GCancellable        *cancellable,
              GError             **error)
{
  g_autoptr(MpMessage) message = NULL;

  g_return_val_if_fail (MP_IS_PIPE (self), NULL);

  message = receive (self, MP_WIRE_KIND_VALUE, expected_type, cancellable, error);
  return message ? g_variant_ref (message->body) : NULL;
}

/**
 * mp_pipe_recv_bytes:
 * @self: an #MpPipe
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Receives the next message sent with mp_pipe_send_bytes(), as Python's
 * `recv_bytes()`. A large message comes as a read-only mapping: no copy.
 * If the next message is a value, it fails with %G_IO_ERROR_INVALID_DATA
 * and the value stays for mp_pipe_recv().
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 */
GBytes *
mp_pipe_recv_bytes (MpPipe        *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(MpMessage) message = NULL;

  g_return_val_if_fail (MP_IS_PIPE (self), NULL);

  message = receive (self, MP_WIRE_KIND_BYTES, G_VARIANT_TYPE_BYTESTRING, cancellable, error);
  return message ? g_variant_get_data_as_bytes (message->body) : NULL;
}

typedef struct
{
  GVariantType *expected_type;
} RecvData;

static void
recv_data_free (RecvData *data)
{
  g_clear_pointer (&data->expected_type, g_variant_type_free);
  g_free (data);
}

static void
recv_ready_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MpPipe *self = g_task_get_source_object (task);
  RecvData *data = g_task_get_task_data (task);
  GError *error = NULL;
  MpMessage *message;

  message = mp_channel_receive_finish (MP_CHANNEL (source), result, &error);
  if (message == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!accept_message (self, message, MP_WIRE_KIND_VALUE, data->expected_type, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_variant_ref (message->body), (GDestroyNotify) g_variant_unref);
  mp_message_free (message);
}

/**
 * mp_pipe_recv_async:
 * @self: an #MpPipe
 * @expected_type: (nullable): the type the value must have
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the message
 * @user_data: (closure): data for @callback
 *
 * Receives the next message without blocking: @callback runs on the
 * thread-default main context of the caller once a message is there.
 */
void
mp_pipe_recv_async (MpPipe              *self,
                    const GVariantType  *expected_type,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  MpMessage *message;
  RecvData *data;

  g_return_if_fail (MP_IS_PIPE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_pipe_recv_async);
  /* A message taken is delivered, cancelled or not: nothing is lost. */
  g_task_set_check_cancellable (task, FALSE);
  data = g_new0 (RecvData, 1);
  data->expected_type = expected_type ? g_variant_type_copy (expected_type) : NULL;
  g_task_set_task_data (task, data, (GDestroyNotify) recv_data_free);

  if (!check_direction (self, FALSE, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  message = take_pending (self);
  if (message != NULL)
    {
      if (!accept_message (self, message, MP_WIRE_KIND_VALUE, data->expected_type, &error))
        g_task_return_error (task, error);
      else
        {
          g_task_return_pointer (task, g_variant_ref (message->body), (GDestroyNotify) g_variant_unref);
          mp_message_free (message);
        }
      return;
    }
  mp_channel_receive_async (self->channel, cancellable, recv_ready_cb, g_steal_pointer (&task));
}

/**
 * mp_pipe_recv_finish:
 * @self: an #MpPipe
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mp_pipe_recv_finish (MpPipe        *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mp_pipe_poll:
 * @self: an #MpPipe
 * @timeout: seconds to wait; 0 returns at once, negative waits forever
 * @error: return location for a #GError
 *
 * Whether a message (or the peer's close) is waiting, as Python's
 * `poll(timeout)`.
 *
 * Returns: %TRUE when mp_pipe_recv() would not block; %FALSE when the
 *   time ran out (no error) or with @error set
 */
gboolean
mp_pipe_poll (MpPipe  *self,
              double   timeout,
              GError **error)
{
  g_autoptr(GError) wait_error = NULL;
  gboolean have_pending;

  g_return_val_if_fail (MP_IS_PIPE (self), FALSE);

  if (!check_direction (self, FALSE, error))
    return FALSE;
  g_mutex_lock (&self->lock);
  have_pending = self->pending != NULL;
  g_mutex_unlock (&self->lock);
  if (have_pending)
    return TRUE;
  if (mp_wait_fd (mp_channel_get_fd (self->channel), G_IO_IN | G_IO_HUP,
                  mp_deadline_from_timeout (timeout), NULL, &wait_error))
    return TRUE;
  if (!g_error_matches (wait_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_propagate_error (error, g_steal_pointer (&wait_error));
  return FALSE;
}

/**
 * mp_pipe_close:
 * @self: an #MpPipe
 *
 * Closes this end, as Python's `close()`. The peer's receive then fails
 * with %G_IO_ERROR_CLOSED once it has read what was sent before.
 */
void
mp_pipe_close (MpPipe *self)
{
  g_return_if_fail (MP_IS_PIPE (self));

  if (mp_pipe_get_closed (self))
    return;
  /* Close, not shut down: a forked child may share the socket, and its
   * copy must stay usable. */
  close (mp_channel_steal_fd (self->channel));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
}

/**
 * mp_pipe_get_closed:
 * @self: an #MpPipe
 *
 * Returns: whether this end was closed
 */
gboolean
mp_pipe_get_closed (MpPipe *self)
{
  g_return_val_if_fail (MP_IS_PIPE (self), TRUE);
  return mp_channel_is_closed (self->channel);
}

/**
 * mp_pipe_get_readable:
 * @self: an #MpPipe
 *
 * Returns: whether this end receives
 */
gboolean
mp_pipe_get_readable (MpPipe *self)
{
  g_return_val_if_fail (MP_IS_PIPE (self), FALSE);
  return self->readable;
}

/**
 * mp_pipe_get_writable:
 * @self: an #MpPipe
 *
 * Returns: whether this end sends
 */
gboolean
mp_pipe_get_writable (MpPipe *self)
{
  g_return_val_if_fail (MP_IS_PIPE (self), FALSE);
  return self->writable;
}
