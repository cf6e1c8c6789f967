/* mp-wire.c: frames, descriptors and the SOCK_SEQPACKET channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "mp-debug-private.h"
#include "mp-error.h"
#include "mp-handle-private.h"
#include "mp-wire-private.h"

#define MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)
#define CMSG_BUFFER_SIZE (CMSG_SPACE (sizeof (int) * (MP_WIRE_MAX_FDS + 8)))

/* ---- messages ---------------------------------------------------------- */

/* Takes @body: a floating reference is sunk, a full one is adopted. */
MpMessage *
mp_message_new (MpWireKind  kind,
                GVariant   *body)
{
  MpMessage *message = g_new0 (MpMessage, 1);

  message->kind = kind;
  message->body = g_variant_take_ref (body ? body : g_variant_new ("()"));
  message->fds = g_array_new (FALSE, FALSE, sizeof (int));
  message->owned = g_array_new (FALSE, FALSE, sizeof (int));
  return message;
}

static gboolean
own_handle (gint32    handle,
            gint32   *mapped,
            gpointer  user_data,
            GError  **error)
{
  GArray *owned = user_data;
  int fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The handle %d in a message is not an open descriptor: %s"),
                   handle, g_strerror (errsv));
      return FALSE;
    }
  g_array_append_val (owned, fd);
  *mapped = fd;
  return TRUE;
}

gboolean
mp_message_own_handles (MpMessage  *message,
                        GError    **error)
{
  GVariant *mapped;

  if (!mp_handles_possible (g_variant_get_type (message->body)))
    return TRUE;
  mapped = mp_handles_map (message->body, own_handle, message->owned, error);
  if (mapped == NULL)
    return FALSE;
  g_variant_unref (message->body);
  message->body = mapped;
  return TRUE;
}

/* Takes @fd; returns its index in the message's descriptor list, which is
 * what an "h" handle in the body refers to. */
int
mp_message_add_fd (MpMessage *message,
                   int        fd)
{
  g_array_append_val (message->fds, fd);
  return message->fds->len - 1;
}

int
mp_message_steal_fd (MpMessage *message,
                     guint      index)
{
  int fd;

  if (index >= message->fds->len)
    return -1;
  fd = g_array_index (message->fds, int, index);
  g_array_index (message->fds, int, index) = -1;
  return fd;
}

guint
mp_message_get_n_fds (MpMessage *message)
{
  return message->fds->len;
}

void
mp_message_free (MpMessage *message)
{
  if (message == NULL)
    return;
  for (guint i = 0; i < message->fds->len; i++)
    {
      int fd = g_array_index (message->fds, int, i);
      if (fd >= 0)
        close (fd);
    }
  g_array_unref (message->fds);
  for (guint i = 0; i < message->owned->len; i++)
    close (g_array_index (message->owned, int, i));
  g_array_unref (message->owned);
  g_variant_unref (message->body);
  g_free (message);
}

const char *
mp_wire_kind_to_string (MpWireKind kind)
{
  static const char *names[] = {
    [MP_WIRE_KIND_INVALID] = "invalid",
    [MP_WIRE_KIND_RUN] = "run",
    [MP_WIRE_KIND_RESULT] = "result",
    [MP_WIRE_KIND_ERROR] = "error",
    [MP_WIRE_KIND_FORK_REQUEST] = "fork-request",
    [MP_WIRE_KIND_FORKED] = "forked",
    [MP_WIRE_KIND_EXITED] = "exited",
    [MP_WIRE_KIND_VALUE] = "value",
    [MP_WIRE_KIND_BYTES] = "bytes",
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (names) == MP_WIRE_N_KINDS);

  if ((guint) kind < MP_WIRE_N_KINDS)
    return names[kind];
  return "unknown";
}

static void
debug_frame (const char *direction,
             MpMessage  *message,
             gboolean    memfd)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "dir");
  json_builder_add_string_value (builder, direction);
  json_builder_set_member_name (builder, "pid");
  json_builder_add_int_value (builder, getpid ());
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, mp_wire_kind_to_string (message->kind));
  json_builder_set_member_name (builder, "fds");
  json_builder_add_int_value (builder, message->fds->len);
  json_builder_set_member_name (builder, "memfd");
  json_builder_add_boolean_value (builder, memfd);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, g_variant_get_type_string (message->body));
  json_builder_set_member_name (builder, "body");
  if (g_variant_get_size (message->body) <= 4096)
    json_builder_add_value (builder, json_gvariant_serialize (message->body));
  else
    json_builder_add_string_value (builder, "(large)");
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  g_printerr ("mp-wire: %s\n", text);
}

/* ---- decoding ---------------------------------------------------------- */

static void
close_fds (const int *fds,
           guint      n_fds)
{
  for (guint i = 0; i < n_fds; i++)
    if (fds[i] >= 0)
      close (fds[i]);
}

/* Received payloads stay mapped together with their sealed memfd, so
 * that sending the same bytes on (a relay, an echo) passes the memfd
 * again instead of copying it. */
typedef struct
{
  gpointer addr;
  gsize    size;
  int      fd;
} Payload;

static GMutex payloads_lock;
static GSList *payloads;   /* newest first */

/* Payloads that keep their descriptor for relaying; older ones keep only
 * their mapping, so that a program holding many received payloads (or a
 * binding that frees them late) does not run out of descriptors. */
#define MAX_RELAYABLE_PAYLOADS 32

void
mp_wire_after_fork_child (void)
{
  g_mutex_init (&payloads_lock);
}

static void
unmap_payload (gpointer data)
{
  Payload *payload = data;

  g_mutex_lock (&payloads_lock);
  payloads = g_slist_remove (payloads, payload);
  g_mutex_unlock (&payloads_lock);
  munmap (payload->addr, payload->size);
  if (payload->fd >= 0)
    close (payload->fd);
  g_free (payload);
}

/* A new descriptor for the sealed memfd that holds exactly the "ay" at
 * @data, or -1. The payload of a message is its "v": the child, a zero
 * byte and the type, so the child is the mapping less three bytes. */
static int
payload_fd_for (gconstpointer data,
                gsize         size)
{
  int fd = -1;

  g_mutex_lock (&payloads_lock);
  for (GSList *l = payloads; l != NULL; l = l->next)
    {
      Payload *payload = l->data;
      if (payload->addr == data && payload->size == size + 3 && payload->fd >= 0)
        {
          fd = fcntl (payload->fd, F_DUPFD_CLOEXEC, 3);
          break;
        }
    }
  g_mutex_unlock (&payloads_lock);
  return fd;
}

/* Maps a sealed memfd read-only; the seals guarantee that the sender can
 * no longer change what the receiver reads. Takes @fd on success. */
static GBytes *
map_payload (int       fd,
             guint64   size,
             GError  **error)
{
  struct stat st;
  int seals;
  gpointer addr;

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: the payload descriptor is not a memory file"));
      return NULL;
    }
  seals = fcntl (fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: the payload memory file is not sealed"));
      return NULL;
    }
  if (size == 0 || (guint64) st.st_size != size || size > G_MAXSSIZE)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: the payload is %" G_GUINT64_FORMAT " bytes but the header says %" G_GUINT64_FORMAT),
                   (guint64) st.st_size, size);
      return NULL;
    }
  addr = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not map a message payload: %s"), g_strerror (errsv));
      return NULL;
    }
  {
    Payload *payload = g_new0 (Payload, 1);

    payload->addr = addr;
    payload->size = size;
    payload->fd = fd;
    g_mutex_lock (&payloads_lock);
    payloads = g_slist_prepend (payloads, payload);
    {
      GSList *oldest = g_slist_nth (payloads, MAX_RELAYABLE_PAYLOADS);
      if (oldest != NULL && ((Payload *) oldest->data)->fd >= 0)
        {
          close (((Payload *) oldest->data)->fd);
          ((Payload *) oldest->data)->fd = -1;
        }
    }
    g_mutex_unlock (&payloads_lock);
    return g_bytes_new_with_free_func (addr, size, unmap_payload, payload);
  }
}

/* Arrays of numbers are normal whatever their bytes, once their size is
 * a whole number of elements; GLib 2.74 checks them one element at a time
 * (about 30 ns each). Booleans must be 0 or 1, so they are not here. */
static gsize
numeric_element_size (const GVariantType *type)
{
  const char *s = g_variant_type_peek_string (type);

  if (s[0] != 'a' || g_variant_type_get_string_length (type) != 2)
    return 0;
  switch (s[1])
    {
    case 'y': return 1;
    case 'n': case 'q': return 2;
    case 'i': case 'u': return 4;
    case 'x': case 't': case 'd': return 8;
    default: return 0;
    }
}

#define FAST_NORMAL_MIN_SIZE (64 * 1024)

/* g_variant_is_normal_form(), but large arrays of numbers inside tuples
 * and variants are checked by size. A large tuple or variant is normal
 * when its children are and its bytes are exactly what they serialize
 * to (the normal form is unique): one copy and one comparison instead of
 * a walk over every element. */
static gboolean
is_normal_form (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  gsize size = g_variant_get_size (value);
  gsize element = numeric_element_size (type);
  gsize n;
  g_autofree GVariant **children = NULL;
  g_autoptr(GVariant) rebuilt = NULL;
  gboolean normal = TRUE;

  if (element > 0)
    return size % element == 0;
  if (size < FAST_NORMAL_MIN_SIZE ||
      !(g_variant_type_is_tuple (type) || g_variant_type_is_variant (type)))
    return g_variant_is_normal_form (value);

  n = g_variant_n_children (value);
  children = g_new0 (GVariant *, n + 1);
  for (gsize i = 0; i < n; i++)
    {
      children[i] = g_variant_get_child_value (value, i);
      normal = normal && is_normal_form (children[i]);
    }
  if (normal)
    {
      rebuilt = g_variant_ref_sink (g_variant_type_is_variant (type) ? g_variant_new_variant (children[0])
                                                                     : g_variant_new_tuple (children, n));
      normal = g_variant_type_equal (g_variant_get_type (rebuilt), type) &&
               g_variant_get_size (rebuilt) == size &&
               memcmp (g_variant_get_data (rebuilt), g_variant_get_data (value), size) == 0;
    }
  for (gsize i = 0; i < n; i++)
    g_variant_unref (children[i]);
  return normal;
}

static GVariant *
body_from_bytes (GBytes  *bytes,
                 GError **error)
{
  g_autoptr(GVariant) wrapper = NULL;

  GVariant *body;

  wrapper = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, FALSE));
  body = g_variant_get_variant (wrapper);
  /* Every byte string is valid as "ay", and GLib 2.74 checks one byte at
   * a time (1.4 s per 100 MiB): the framing was checked on the way to
   * the child, which is all there is to check. */
  if (g_variant_is_of_type (body, G_VARIANT_TYPE_BYTESTRING) || is_normal_form (wrapper))
    return body;
  g_variant_unref (body);
  g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
               _("Malformed message: the body is not a GVariant in normal form"));
  return NULL;
}

MpMessage *
mp_wire_decode (const guint8  *frame,
                gsize          frame_len,
                const int     *fds,
                guint          n_fds,
                GError       **error)
{
  MpWireHeader header;
  g_autoptr(GBytes) body_bytes = NULL;
  g_autoptr(GVariant) body = NULL;
  MpMessage *message;
  guint n_plain_fds = n_fds;

  if (frame_len < sizeof header)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: a frame of %" G_GSIZE_FORMAT " bytes is shorter than its header"),
                   frame_len);
      goto fail;
    }
  memcpy (&header, frame, sizeof header);

  if (header.magic != MP_WIRE_MAGIC)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: bad frame header"));
      goto fail;
    }
  if (header.kind == MP_WIRE_KIND_INVALID || header.kind >= MP_WIRE_N_KINDS)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: unknown message kind %u"), header.kind);
      goto fail;
    }
  if ((header.flags & ~MP_WIRE_KNOWN_FLAGS) != 0)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: unknown flags 0x%x"), header.flags);
      goto fail;
    }
  if (header.n_fds != n_fds)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed message: it announces %u descriptors but carries %u"),
                   header.n_fds, n_fds);
      goto fail;
    }

  if (header.flags & MP_WIRE_FLAG_MEMFD)
    {
      if (n_fds == 0 || frame_len != sizeof header)
        {
          g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("Malformed message: a memory-file payload needs a descriptor and no inline body"));
          goto fail;
        }
      n_plain_fds = n_fds - 1;
      body_bytes = map_payload (fds[n_fds - 1], header.body_size, error);
      if (body_bytes == NULL)
        goto fail;
    }
  else
    {
      if (header.body_size != frame_len - sizeof header)
        {
          g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("Malformed message: the body is %" G_GSIZE_FORMAT " bytes but the header says %" G_GUINT64_FORMAT),
                       frame_len - sizeof header, header.body_size);
          goto fail;
        }
      body_bytes = g_bytes_new (frame + sizeof header, frame_len - sizeof header);
    }

  body = body_from_bytes (body_bytes, error);
  if (body == NULL)
    {
      close_fds (fds, n_plain_fds);
      return NULL;
    }

  {
    g_autofree int *plain = g_memdup2 (fds, sizeof (int) * MAX (n_plain_fds, 1));

    /* Handles in the body become the descriptors that arrived, owned by
     * the value; the others stay in the message for its reader. */
    if (n_plain_fds > 0 && mp_handles_possible (g_variant_get_type (body)))
      {
        GVariant *adopted = mp_handles_adopt (body, plain, n_plain_fds, error);
        if (adopted == NULL)
          {
            close_fds (plain, n_plain_fds);
            return NULL;
          }
        g_variant_unref (body);
        body = adopted;
      }

    message = mp_message_new (header.kind, g_steal_pointer (&body));
    message->serial = header.serial;
    for (guint i = 0; i < n_plain_fds; i++)
      if (plain[i] >= 0)
        g_array_append_val (message->fds, plain[i]);
  }
  return message;

fail:
  close_fds (fds, n_fds);
  return NULL;
}

/* ---- the channel ------------------------------------------------------- */

struct _MpChannel
{
  GObject  parent_instance;
  int      fd;
  gint     closed;   /* atomic */
  gboolean shared;   /* other processes read this socket too */
};

G_DEFINE_FINAL_TYPE (MpChannel, mp_channel, G_TYPE_OBJECT)

static void
mp_channel_finalize (GObject *object)
{
  MpChannel *self = MP_CHANNEL (object);

  if (self->fd >= 0)
    close (self->fd);
  G_OBJECT_CLASS (mp_channel_parent_class)->finalize (object);
}

static void
mp_channel_class_init (MpChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mp_channel_finalize;
}

static void
mp_channel_init (MpChannel *self)
{
  self->fd = -1;
}

/* Takes @fd, which must be one end of a SOCK_SEQPACKET pair. */
MpChannel *
mp_channel_new (int fd)
{
  MpChannel *self = g_object_new (MP_TYPE_CHANNEL, NULL);
  int flags;

  self->fd = fd;
  /* The descriptor stays blocking: a blocking receive is then a single
   * recvmsg(), and every call that must not block says MSG_DONTWAIT (the
   * flag would be shared with every process holding the socket). */
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK))
    fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  return self;
}

gboolean
mp_socket_pair (int      fds[2],
                GError **error)
{
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not create a socket pair: %s"), g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

gboolean
mp_channel_new_pair (MpChannel **a,
                     MpChannel **b,
                     GError    **error)
{
  int fds[2];

  if (!mp_socket_pair (fds, error))
    return FALSE;
  *a = mp_channel_new (fds[0]);
  *b = mp_channel_new (fds[1]);
  return TRUE;
}

int
mp_channel_get_fd (MpChannel *self)
{
  return self->fd;
}

int
mp_channel_steal_fd (MpChannel *self)
{
  int fd = self->fd;

  self->fd = -1;
  g_atomic_int_set (&self->closed, TRUE);
  return fd;
}

/* Shut the socket down rather than close it: another thread may be
 * polling the descriptor, and a closed number can be reused at once. */
void
mp_channel_close (MpChannel *self)
{
  g_return_if_fail (MP_IS_CHANNEL (self));

  if (g_atomic_int_compare_and_exchange (&self->closed, FALSE, TRUE) && self->fd >= 0)
    shutdown (self->fd, SHUT_RDWR);
}

/* A socket that several processes read (a queue) must not be shut down
 * for everyone because one reader got a bad frame: the frame is refused
 * and the socket stays open. */
void
mp_channel_set_shared (MpChannel *self,
                       gboolean   shared)
{
  self->shared = shared;
}

gboolean
mp_channel_is_closed (MpChannel *self)
{
  return g_atomic_int_get (&self->closed);
}

static gboolean
set_closed_error (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       _("The channel is closed"));
  return FALSE;
}

gint64
mp_deadline_from_timeout (double timeout)
{
  if (timeout < 0)
    return -1;
  if (timeout > (double) (G_MAXINT64 / 2) / G_USEC_PER_SEC)
    return -1;
  return g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);
}

gboolean
mp_wait_fd (int            fd,
            short          events,
            gint64         deadline_us,
            GCancellable  *cancellable,
            GError       **error)
{
  GPollFD pfds[2] = { { fd, events, 0 }, { -1, G_IO_IN, 0 } };
  guint n = 1;
  gboolean have_cancel_fd;

  have_cancel_fd = g_cancellable_make_pollfd (cancellable, &pfds[1]);
  if (have_cancel_fd)
    n = 2;

  for (gboolean first = TRUE;; first = FALSE)
    {
      int timeout_ms = -1;
      int r;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (deadline_us >= 0)
        {
          gint64 left = deadline_us - g_get_monotonic_time ();
          /* Look at least once, however short the time: a timeout of 0
           * asks whether the descriptor is ready now. */
          if (left <= 0 && !first)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                   _("Timed out"));
              break;
            }
          timeout_ms = (int) CLAMP ((left + 999) / 1000, 0, G_MAXINT);
        }
      r = g_poll (pfds, n, timeout_ms);
      if (r < 0 && errno != EINTR)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "poll: %s", g_strerror (errsv));
          break;
        }
      if (r > 0 && pfds[0].revents != 0)
        {
          if (have_cancel_fd)
            g_cancellable_release_fd (cancellable);
          return TRUE;
        }
    }

  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  return FALSE;
}

static void
close_fd_at (gpointer p)
{
  close (*(int *) p);
}

typedef struct
{
  GArray *fds;
  guint   first_index;
} HandleSend;

static gboolean
send_handle (gint32    handle,
             gint32   *mapped,
             gpointer  user_data,
             GError  **error)
{
  HandleSend *hs = user_data;
  int fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The handle %d in a message is not an open descriptor: %s"),
                   handle, g_strerror (errsv));
      return FALSE;
    }
  g_array_append_val (hs->fds, fd);
  *mapped = hs->first_index + hs->fds->len - 1;
  return TRUE;
}

static gboolean
write_all (int            fd,
           gconstpointer  data,
           gsize          size)
{
  const guint8 *p = data;

  while (size > 0)
    {
      ssize_t r = write (fd, p, MIN (size, (gsize) 1 << 30));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return FALSE;
      p += r;
      size -= r;
    }
  return TRUE;
}

/* Writes the body into a sealed memfd: one serialization, no socket copy. */
static int
payload_to_memfd (GVariant  *wrapper,
                  GError   **error)
{
  gsize size = g_variant_get_size (wrapper);
  g_autoptr(GVariant) body = g_variant_get_variant (wrapper);
  gpointer addr;
  int fd = -1;

  if (g_variant_is_of_type (body, G_VARIANT_TYPE_BYTESTRING) &&
      (fd = payload_fd_for (g_variant_get_data (body), g_variant_get_size (body))) >= 0)
    {
      /* Bytes that arrived in a sealed memfd go on in it: no copy. */
      return fd;
    }
  fd = memfd_create ("mp-payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    goto fail;
  if (g_variant_is_of_type (body, G_VARIANT_TYPE_BYTESTRING))
    {
      /* Bytes already in memory: write them straight in (a "v" is its
       * child, a zero byte and the type), which costs half of faulting
       * in a fresh mapping page by page. */
      if (!write_all (fd, g_variant_get_data (body), g_variant_get_size (body)) ||
          !write_all (fd, "\0ay", 3))
        goto fail;
    }
  else
    {
      if (ftruncate (fd, size) != 0)
        goto fail;
      addr = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (addr == MAP_FAILED)
        goto fail;
      g_variant_store (wrapper, addr);
      munmap (addr, size);
    }
  if (fcntl (fd, F_ADD_SEALS, MEMFD_SEALS) != 0)
    goto fail;
  return fd;

fail:
  {
    int errsv = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Could not prepare a large message payload: %s"), g_strerror (errsv));
    return -1;
  }
}

gboolean
mp_channel_send (MpChannel     *self,
                 MpMessage     *message,
                 GCancellable  *cancellable,
                 GError       **error)
{
  return mp_channel_send_full (self, message, TRUE, cancellable, error);
}

/* With @block FALSE, a full socket is G_IO_ERROR_WOULD_BLOCK. */
gboolean
mp_channel_send_full (MpChannel     *self,
                      MpMessage     *message,
                      gboolean       block,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GVariant) wrapper = NULL;
  MpWireHeader header = { MP_WIRE_MAGIC, 0, 0, 0, 0, 0 };
  struct iovec iov[2];
  struct msghdr msg = { 0 };
  g_autofree guint8 *cmsg_buf = NULL;
  g_autoptr(GArray) handle_fds = NULL;
  int memfd = -1;
  guint n_fds, n_fds_total;
  gboolean ret = FALSE;

  g_return_val_if_fail (MP_IS_CHANNEL (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  if (mp_channel_is_closed (self))
    return set_closed_error (error);

  n_fds = message->fds->len;
  if (n_fds > MP_WIRE_MAX_FDS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A message can carry at most %u descriptors"), MP_WIRE_MAX_FDS);
      return FALSE;
    }
  for (guint i = 0; i < n_fds; i++)
    if (g_array_index (message->fds, int, i) < 0)
      {
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             _("A message refers to a descriptor that is no longer there"));
        return FALSE;
      }

  /* Descriptors named by handles in the body ride after the message's
   * own, and the handles become their indices. */
  handle_fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_array_set_clear_func (handle_fds, close_fd_at);
  {
    g_autoptr(GVariant) body = NULL;
    g_autoptr(GVariant) boxed = NULL;
    HandleSend hs = { handle_fds, n_fds };

    body = mp_handles_map (message->body, send_handle, &hs, error);
    if (body == NULL)
      return FALSE;
    boxed = g_variant_ref_sink (g_variant_new_variant (body));
    wrapper = g_variant_get_normal_form (boxed);
  }
  n_fds_total = n_fds + handle_fds->len;
  if (n_fds_total > MP_WIRE_MAX_FDS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A message can carry at most %u descriptors"), MP_WIRE_MAX_FDS);
      return FALSE;
    }

  header.kind = message->kind;
  header.serial = message->serial;
  header.body_size = g_variant_get_size (wrapper);
  iov[0].iov_base = &header;
  iov[0].iov_len = sizeof header;
  msg.msg_iov = iov;
  msg.msg_iovlen = 1;

  if (header.body_size > MP_WIRE_INLINE_MAX)
    {
      memfd = payload_to_memfd (wrapper, error);
      if (memfd < 0)
        return FALSE;
      header.flags |= MP_WIRE_FLAG_MEMFD;
    }
  else
    {
      iov[1].iov_base = (gpointer) g_variant_get_data (wrapper);
      iov[1].iov_len = header.body_size;
      msg.msg_iovlen = 2;
    }

  header.n_fds = n_fds_total + (memfd >= 0 ? 1 : 0);
  if (header.n_fds > 0)
    {
      struct cmsghdr *cmsg;
      int *data;

      cmsg_buf = g_malloc0 (CMSG_SPACE (sizeof (int) * header.n_fds));
      msg.msg_control = cmsg_buf;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * header.n_fds);
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int) * header.n_fds);
      data = (int *) CMSG_DATA (cmsg);
      if (n_fds > 0)
        memcpy (data, message->fds->data, sizeof (int) * n_fds);
      if (handle_fds->len > 0)
        memcpy (data + n_fds, handle_fds->data, sizeof (int) * handle_fds->len);
      if (memfd >= 0)
        data[n_fds_total] = memfd;
    }

  if (G_UNLIKELY (mp_debug_enabled (MP_DEBUG_WIRE)))
    debug_frame ("send", message, memfd >= 0);

  for (;;)
    {
      ssize_t r = sendmsg (self->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

      if (r >= 0)
        {
          ret = TRUE;
          break;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        {
          if (!block)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                                   _("The channel is full"));
              break;
            }
          if (!mp_wait_fd (self->fd, G_IO_OUT, -1, cancellable, error))
            break;
          continue;
        }
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN || errno == EBADF)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               _("The peer closed the channel"));
          break;
        }
      {
        int errsv = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     _("Could not send a message: %s"), g_strerror (errsv));
      }
      break;
    }

  if (memfd >= 0)
    close (memfd);
  return ret;
}

#define RECEIVE_BUFFER_SIZE (sizeof (MpWireHeader) + MP_WIRE_INLINE_MAX + 1)

static void
free_receive_buffer (gpointer buffer)
{
  g_free (buffer);
}

/* One frame buffer per thread, reused: a receive copies the body out of
 * it, so small messages do not pay for a 64 KiB allocation each. */
static guint8 *
receive_buffer (void)
{
  static GPrivate key = G_PRIVATE_INIT (free_receive_buffer);
  guint8 *buffer = g_private_get (&key);

  if (buffer == NULL)
    {
      buffer = g_malloc (RECEIVE_BUFFER_SIZE);
      g_private_set (&key, buffer);
    }
  return buffer;
}

/* One non-blocking receive. Returns NULL with @would_block set when no
 * message is waiting (another reader may have taken it). */
static MpMessage *
receive_one (MpChannel  *self,
             gboolean    block,
             gboolean   *would_block,
             GError    **error)
{
  guint8 *frame = receive_buffer ();
  guint8 cmsg_buf[CMSG_BUFFER_SIZE] __attribute__((aligned (8)));
  struct iovec iov = { frame, RECEIVE_BUFFER_SIZE };
  struct msghdr msg = { 0 };
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  MpMessage *message;
  ssize_t r;

  *would_block = FALSE;
  if (mp_channel_is_closed (self))
    {
      set_closed_error (error);
      return NULL;
    }

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cmsg_buf;
  msg.msg_controllen = sizeof cmsg_buf;

  do
    r = recvmsg (self->fd, &msg, (block ? 0 : MSG_DONTWAIT) | MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);

  if (r < 0)
    {
      int errsv = errno;
      if (errsv == EAGAIN)
        {
          *would_block = TRUE;
          return NULL;
        }
      if (errsv == ECONNRESET || errsv == EBADF || errsv == ENOTCONN)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               _("The peer closed the channel"));
          return NULL;
        }
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not receive a message: %s"), g_strerror (errsv));
      return NULL;
    }

  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      g_array_append_vals (fds, CMSG_DATA (c), (c->cmsg_len - CMSG_LEN (0)) / sizeof (int));

  if (r == 0 && fds->len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           _("The peer closed the channel"));
      return NULL;
    }

  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
    {
      close_fds ((int *) fds->data, fds->len);
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                           (msg.msg_flags & MSG_TRUNC)
                             ? _("Malformed message: the frame is larger than any valid frame")
                             : _("Malformed message: too many descriptors"));
      if (!self->shared)
        mp_channel_close (self);
      return NULL;
    }

  message = mp_wire_decode (frame, r, (int *) fds->data, fds->len, error);
  if (message == NULL)
    {
      /* A peer that sends garbage is not trusted with another frame. */
      if (!self->shared)
        mp_channel_close (self);
      return NULL;
    }

  if (G_UNLIKELY (mp_debug_enabled (MP_DEBUG_WIRE)))
    debug_frame ("recv", message, FALSE);

  return message;
}

MpMessage *
mp_channel_receive (MpChannel     *self,
                    double         timeout,
                    GCancellable  *cancellable,
                    GError       **error)
{
  gint64 deadline = mp_deadline_from_timeout (timeout);

  g_return_val_if_fail (MP_IS_CHANNEL (self), NULL);

  for (;;)
    {
      gboolean would_block;
      /* Nothing to watch but the socket: wait in recvmsg() itself. */
      gboolean block = timeout < 0 && cancellable == NULL;
      MpMessage *message = receive_one (self, block, &would_block, error);

      if (message != NULL || !would_block)
        return message;
      if (!mp_wait_fd (self->fd, G_IO_IN, deadline, cancellable, error))
        return NULL;
    }
}

MpMessage *
mp_channel_try_receive (MpChannel  *self,
                        gboolean   *would_block,
                        GError    **error)
{
  g_return_val_if_fail (MP_IS_CHANNEL (self), NULL);
  return receive_one (self, FALSE, would_block, error);
}

/* ---- waiting for a descriptor from a main loop --------------------------- */

typedef struct
{
  GSource       *fd_source;
  GSource       *cancel_source;
  MpFdReadyFunc  ready;
} FdWait;

static void
fd_wait_free (gpointer data)
{
  FdWait *wait = data;

  g_source_destroy (wait->fd_source);
  g_source_unref (wait->fd_source);
  if (wait->cancel_source != NULL)
    {
      g_source_destroy (wait->cancel_source);
      g_source_unref (wait->cancel_source);
    }
  g_free (wait);
}

/* Destroying the sources drops their task references; the callbacks hold
 * their own while the task returns. */
static void
fd_wait_stop (GTask *task)
{
  FdWait *wait = g_object_get_data (G_OBJECT (task), "mp-fd-wait");

  g_source_destroy (wait->fd_source);
  if (wait->cancel_source != NULL)
    g_source_destroy (wait->cancel_source);
}

static gboolean
fd_wait_ready_cb (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  g_autoptr(GTask) task = g_object_ref (user_data);
  FdWait *wait = g_object_get_data (G_OBJECT (task), "mp-fd-wait");

  /* Readiness and cancellation can come in one iteration: cancellation
   * wins, before anything is taken. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      fd_wait_stop (task);
      g_task_return_error_if_cancelled (task);
      return G_SOURCE_REMOVE;
    }
  if (!wait->ready (task))
    return G_SOURCE_CONTINUE;
  fd_wait_stop (task);
  return G_SOURCE_REMOVE;
}

static gboolean
fd_wait_cancelled_cb (GCancellable *cancellable,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = g_object_ref (user_data);

  fd_wait_stop (task);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

/* Tasks that take something (a message, a place) must be made with
 * g_task_set_check_cancellable (task, FALSE): what was taken is then
 * always delivered, and a cancellation that came first wins here. */
void
mp_task_wait_fd (GTask         *task,
                 int            fd,
                 GIOCondition   condition,
                 MpFdReadyFunc  ready,
                 const char    *name)
{
  FdWait *wait = g_new0 (FdWait, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);

  /* Each source holds a task reference; whichever ends the wait destroys
   * both, which breaks the cycle. */
  wait->ready = ready;
  wait->fd_source = g_unix_fd_source_new (fd, condition);
  g_source_set_callback (wait->fd_source, G_SOURCE_FUNC (fd_wait_ready_cb),
                         g_object_ref (task), g_object_unref);
  g_source_set_static_name (wait->fd_source, name);
  if (cancellable != NULL)
    {
      wait->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (wait->cancel_source, G_SOURCE_FUNC (fd_wait_cancelled_cb),
                             g_object_ref (task), g_object_unref);
    }
  g_object_set_data_full (G_OBJECT (task), "mp-fd-wait", wait, fd_wait_free);
  g_source_attach (wait->fd_source, g_task_get_context (task));
  if (wait->cancel_source != NULL)
    g_source_attach (wait->cancel_source, g_task_get_context (task));
}

static gboolean
receive_ready (GTask *task)
{
  MpChannel *self = g_task_get_source_object (task);
  GError *error = NULL;
  gboolean would_block;
  MpMessage *message;

  message = receive_one (self, FALSE, &would_block, &error);
  if (message == NULL && would_block)
    return FALSE;   /* another reader was faster */
  if (message != NULL)
    g_task_return_pointer (task, message, (GDestroyNotify) mp_message_free);
  else
    g_task_return_error (task, error);
  return TRUE;
}

void
mp_channel_receive_async (MpChannel           *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MP_IS_CHANNEL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_channel_receive_async);
  /* A message taken from the socket is delivered, cancelled or not. */
  g_task_set_check_cancellable (task, FALSE);

  if (mp_channel_is_closed (self))
    {
      GError *error = NULL;
      set_closed_error (&error);
      g_task_return_error (task, error);
      return;
    }
  mp_task_wait_fd (task, self->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, receive_ready,
                   "[mp] channel receive");
}

MpMessage *
mp_channel_receive_finish (MpChannel     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
