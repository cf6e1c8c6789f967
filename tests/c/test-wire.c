/* test-wire.c: frames, descriptors, large payloads and bad input
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mp.h>
#include "mp-wire-private.h"

static void
mp_message_free_void (gpointer message)
{
  mp_message_free (message);
}

static void
make_pair (MpChannel **a,
           MpChannel **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_channel_new_pair (a, b, &error));
  g_assert_no_error (error);
}

/* Descriptors travel two ways: raw (the message's own list) and as "h"
 * handles inside the body, which the receiver's value owns. */
static void
test_roundtrip (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(MpMessage) out = NULL, in = NULL;
  g_autoptr(GError) error = NULL;
  int raw[2], inner[2];
  char c = 0;

  make_pair (&a, &b);
  g_assert_cmpint (pipe (raw), ==, 0);
  g_assert_cmpint (pipe (inner), ==, 0);
  out = mp_message_new (MP_WIRE_KIND_RESULT,
                        g_variant_new ("(si@av)", "hello", 42,
                                       g_variant_new_parsed ("[<(%h, %h)>]", inner[1], inner[1])));
  mp_message_add_fd (out, raw[1]);
  g_assert_true (mp_channel_send (a, out, NULL, &error));
  g_assert_no_error (error);
  /* The sender's own descriptors are untouched. */
  g_assert_cmpint (write (inner[1], "i", 1), ==, 1);
  g_assert_cmpint (read (inner[0], &c, 1), ==, 1);

  in = mp_channel_receive (b, 5, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (in);
  g_assert_cmpint (in->kind, ==, MP_WIRE_KIND_RESULT);
  g_assert_cmpstr (g_variant_get_type_string (in->body), ==, "(siav)");
  /* The handle descriptor belongs to the value, not to the raw list. */
  g_assert_cmpuint (mp_message_get_n_fds (in), ==, 1);

  {
    int fd = mp_message_steal_fd (in, 0);
    g_assert_cmpint (write (fd, "x", 1), ==, 1);
    g_assert_cmpint (read (raw[0], &c, 1), ==, 1);
    g_assert_cmpint (c, ==, 'x');
    close (fd);
  }
  {
    g_autoptr(GVariant) list = g_variant_get_child_value (in->body, 2);
    g_autoptr(GVariant) boxed = g_variant_get_child_value (list, 0);
    g_autoptr(GVariant) pair = g_variant_get_variant (boxed);
    gint32 h1, h2;

    g_variant_get (pair, "(hh)", &h1, &h2);
    /* Named twice, sent once per name, each a working end of the pipe. */
    g_assert_cmpint (h1, !=, inner[1]);
    g_assert_cmpint (write (h1, "y", 1), ==, 1);
    g_assert_cmpint (read (inner[0], &c, 1), ==, 1);
    g_assert_cmpint (c, ==, 'y');
    g_assert_cmpint (write (h2, "z", 1), ==, 1);
    g_assert_cmpint (read (inner[0], &c, 1), ==, 1);
  }
  close (raw[0]);
  close (inner[0]);
  close (inner[1]);
}

/* A handle that is not an open descriptor is the sender's error. */
static void
test_bad_handle (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(MpMessage) out = NULL;
  g_autoptr(GError) error = NULL;

  make_pair (&a, &b);
  out = mp_message_new (MP_WIRE_KIND_RESULT, g_variant_new ("(h)", 9999));
  g_assert_false (mp_channel_send (a, out, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_large_payload (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(MpMessage) out = NULL, in = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 8 * 1024 * 1024 + 13;
  guint8 *data = g_malloc (size);
  gsize got_size;
  const guint8 *got;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31 + 7);

  make_pair (&a, &b);
  out = mp_message_new (MP_WIRE_KIND_RESULT,
                        g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size, TRUE, g_free, data));
  g_assert_true (mp_channel_send (a, out, NULL, &error));
  g_assert_no_error (error);

  in = mp_channel_receive (b, 5, NULL, &error);
  g_assert_no_error (error);
  got = g_variant_get_fixed_array (in->body, &got_size, 1);
  g_assert_cmpuint (got_size, ==, size);
  g_assert_true (memcmp (got, g_variant_get_data (out->body), size) == 0);
  /* The payload descriptor is not handed to the caller. */
  g_assert_cmpuint (mp_message_get_n_fds (in), ==, 0);
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* Received payloads keep a descriptor for relaying, but only a bounded
 * number of them: holding many large messages does not exhaust fds. */
static void
test_many_payloads_held (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (mp_message_free_void);
  g_autoptr(GError) error = NULL;
  guint before;

  make_pair (&a, &b);
  before = count_fds ();
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(MpMessage) out = NULL;
      guint8 *data = g_malloc0 (MP_WIRE_INLINE_MAX * 2);

      data[0] = i;
      out = mp_message_new (MP_WIRE_KIND_BYTES,
                            g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data,
                                                     MP_WIRE_INLINE_MAX * 2, TRUE, g_free, data));
      g_assert_true (mp_channel_send (a, out, NULL, &error));
      g_ptr_array_add (held, mp_channel_receive (b, 5, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (count_fds (), <=, before + 40);
  for (guint i = 0; i < held->len; i++)
    {
      MpMessage *m = held->pdata[i];
      g_assert_cmpuint (((const guint8 *) g_variant_get_data (m->body))[0], ==, i);
    }
  g_ptr_array_set_size (held, 0);
  g_assert_cmpuint (count_fds (), ==, before);
}

static void
test_peer_closed (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MpMessage) in = NULL;

  make_pair (&a, &b);
  g_clear_object (&a);
  in = mp_channel_receive (b, 5, NULL, &error);
  g_assert_null (in);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
test_timeout_and_cancel (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  MpMessage *in;

  make_pair (&a, &b);
  in = mp_channel_receive (b, 0.01, NULL, &error);
  g_assert_null (in);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  in = mp_channel_receive (b, -1, cancellable, &error);
  g_assert_null (in);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
on_received (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  MpMessage **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = mp_channel_receive_finish (MP_CHANNEL (source), result, &error);
  g_assert_no_error (error);
}

static void
test_receive_async (void)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(MpMessage) out = NULL;
  MpMessage *in = NULL;
  g_autoptr(GError) error = NULL;

  make_pair (&a, &b);
  mp_channel_receive_async (b, NULL, on_received, &in);
  out = mp_message_new (MP_WIRE_KIND_RUN, g_variant_new_string ("async"));
  g_assert_true (mp_channel_send (a, out, NULL, &error));
  while (in == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_variant_get_string (in->body, NULL), ==, "async");
  mp_message_free (in);
}

/* ---- malformed frames, written raw ----------------------------------- */

static void
send_raw (int            fd,
          const void    *data,
          gsize          len,
          const int     *fds,
          guint          n_fds)
{
  struct iovec iov = { (void *) data, len };
  struct msghdr msg = { 0 };
  char cbuf[CMSG_SPACE (sizeof (int) * 4)] = { 0 };

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n_fds > 0)
    {
      struct cmsghdr *c;
      msg.msg_control = cbuf;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
      memcpy (CMSG_DATA (c), fds, sizeof (int) * n_fds);
    }
  g_assert_cmpint (sendmsg (fd, &msg, 0), ==, (ssize_t) len);
}

static void
expect_protocol_error (const void *frame,
                       gsize       len,
                       const int  *fds,
                       guint       n_fds,
                       const char *fragment)
{
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  MpMessage *in;

  make_pair (&a, &b);
  send_raw (mp_channel_get_fd (a), frame, len, fds, n_fds);
  in = mp_channel_receive (b, 5, NULL, &error);
  g_assert_null (in);
  g_assert_error (error, MP_ERROR, MP_ERROR_PROTOCOL);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, fragment);
  /* The connection is closed after a bad frame. */
  g_assert_true (mp_channel_is_closed (b));
  g_clear_error (&error);
  in = mp_channel_receive (b, 0, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* Sends @body (a serialized "v") in a sealed memory file; with @fragment,
 * expects the receiver to refuse it with an error that says so. */
static void
expect_memfd_body (const guint8 *body,
                   gsize         size,
                   const char   *fragment)
{
  MpWireHeader h = { MP_WIRE_MAGIC, MP_WIRE_KIND_RUN, MP_WIRE_FLAG_MEMFD, 1, 0, size };
  int memfd = memfd_create ("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  g_autoptr(MpChannel) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  MpMessage *in;

  g_assert_cmpint (write (memfd, body, size), ==, (gssize) size);
  g_assert_cmpint (fcntl (memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);
  if (fragment != NULL)
    {
      expect_protocol_error (&h, sizeof h, &memfd, 1, fragment);
      close (memfd);
      return;
    }
  make_pair (&a, &b);
  send_raw (mp_channel_get_fd (a), &h, sizeof h, &memfd, 1);
  close (memfd);
  in = mp_channel_receive (b, 5, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (in);
  mp_message_free (in);
}

static GBytes *
valid_frame (MpWireKind kind,
             GVariant  *body)
{
  g_autoptr(GVariant) wrapper = g_variant_ref_sink (g_variant_new_variant (body));
  MpWireHeader header = { MP_WIRE_MAGIC, kind, 0, 0, 0, g_variant_get_size (wrapper) };
  GByteArray *frame = g_byte_array_new ();

  g_byte_array_append (frame, (guint8 *) &header, sizeof header);
  g_byte_array_append (frame, g_variant_get_data (wrapper), g_variant_get_size (wrapper));
  return g_byte_array_free_to_bytes (frame);
}

static void
test_malformed (void)
{
  g_autoptr(GBytes) good = valid_frame (MP_WIRE_KIND_RUN, g_variant_new ("(si)", "abc", 7));
  gsize len;
  const guint8 *data = g_bytes_get_data (good, &len);
  guint8 *copy;
  MpWireHeader *header;
  int p[2];

  /* Truncated: shorter than a header. */
  expect_protocol_error (data, 10, NULL, 0, "shorter than its header");

  /* Bad magic. */
  copy = g_memdup2 (data, len);
  ((MpWireHeader *) copy)->magic = 0xdeadbeef;
  expect_protocol_error (copy, len, NULL, 0, "bad frame header");
  g_free (copy);

  /* Unknown kind. */
  copy = g_memdup2 (data, len);
  ((MpWireHeader *) copy)->kind = 999;
  expect_protocol_error (copy, len, NULL, 0, "unknown message kind");
  g_free (copy);

  /* Body shorter than the header says (a truncated message). */
  expect_protocol_error (data, len - 3, NULL, 0, "header says");

  /* A forged descriptor count, both ways. */
  g_assert_cmpint (pipe (p), ==, 0);
  expect_protocol_error (data, len, p, 1, "carries 1");
  copy = g_memdup2 (data, len);
  ((MpWireHeader *) copy)->n_fds = 3;
  expect_protocol_error (copy, len, NULL, 0, "announces 3");
  g_free (copy);

  /* Wrong type: the body does not parse as a variant in normal form. */
  copy = g_memdup2 (data, len);
  memset (copy + sizeof (MpWireHeader), 0xff, len - sizeof (MpWireHeader));
  expect_protocol_error (copy, len, NULL, 0, "normal form");
  g_free (copy);

  /* Oversized: larger than any inline frame. */
  {
    gsize big = sizeof (MpWireHeader) + MP_WIRE_INLINE_MAX + 100;
    guint8 *huge = g_malloc0 (big);
    int size = 4 * 1024 * 1024;
    g_autoptr(MpChannel) a = NULL, b = NULL;

    memcpy (huge, data, sizeof (MpWireHeader));
    header = (MpWireHeader *) huge;
    header->body_size = big - sizeof (MpWireHeader);
    /* Let the socket take it, so that the receiver sees the truncation. */
    make_pair (&a, &b);
    setsockopt (mp_channel_get_fd (a), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    g_clear_object (&a);
    g_clear_object (&b);
    {
      g_autoptr(MpChannel) c = NULL, d = NULL;
      g_autoptr(GError) error = NULL;
      make_pair (&c, &d);
      setsockopt (mp_channel_get_fd (c), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      send_raw (mp_channel_get_fd (c), huge, big, NULL, 0);
      g_assert_null (mp_channel_receive (d, 5, NULL, &error));
      g_assert_error (error, MP_ERROR, MP_ERROR_PROTOCOL);
      g_assert_true (mp_channel_is_closed (d));
    }
    g_free (huge);
  }

  /* A handle that points past the descriptors that came. */
  {
    g_autoptr(GBytes) bad = valid_frame (MP_WIRE_KIND_RUN, g_variant_new ("(h)", 5));
    gsize bad_len;
    guint8 *frame = g_memdup2 (g_bytes_get_data (bad, &bad_len), g_bytes_get_size (bad));
    ((MpWireHeader *) frame)->n_fds = 1;
    expect_protocol_error (frame, bad_len, &p[0], 1, "refers to descriptor 5");
    g_free (frame);
  }

  /* A memory-file payload that is not sealed. */
  {
    int memfd = memfd_create ("test", MFD_CLOEXEC);
    MpWireHeader h = { MP_WIRE_MAGIC, MP_WIRE_KIND_RUN, MP_WIRE_FLAG_MEMFD, 1, 0, 64 };
    g_assert_cmpint (ftruncate (memfd, 64), ==, 0);
    expect_protocol_error (&h, sizeof h, &memfd, 1, "not sealed");
    close (memfd);
  }

  /* Large bodies in a memory file, checked by size for arrays of numbers
   * and by their rebuilt bytes for the tuples and variants around them:
   * a good one arrives, broken framing, a bad array size and a boolean
   * that is not 0 or 1 do not. */
  {
    g_autofree gint64 *numbers = g_new0 (gint64, 20000);
    g_autofree guint8 *bools = g_new0 (guint8, 100000);
    GVariant *array = g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, numbers, 20000, sizeof (gint64));
    g_autoptr(GVariant) body = g_variant_ref_sink (g_variant_new ("(tysv)", (guint64) 7, 1, "square", array));
    g_autoptr(GVariant) wrapper = g_variant_ref_sink (g_variant_new_variant (body));
    gsize size = g_variant_get_size (wrapper);
    g_autofree guint8 *bytes = g_malloc (size);
    g_autoptr(GVariant) bool_wrapper = NULL;
    g_autofree guint8 *bool_bytes = NULL;

    g_variant_store (wrapper, bytes);
    expect_memfd_body (bytes, size, NULL);
    /* The tuple's framing offset (its last byte, for "(tysv)" one offset
     * for the string's end) made to point elsewhere. */
    bytes[size - 1 - strlen ("(tysv)") - 1] ^= 0x01;
    expect_memfd_body (bytes, size, "normal form");
    bytes[size - 1 - strlen ("(tysv)") - 1] ^= 0x01;
    expect_memfd_body (bytes, size, NULL);

    /* An "ax" whose size is not a whole number of elements. */
    {
      gsize odd = 20000 * 8 + 1;
      g_autofree guint8 *v = g_malloc0 (odd + 3);

      memcpy (v + odd, "\0ax", 3);
      expect_memfd_body (v, odd + 3, "normal form");
    }

    bools[99999] = 2;
    bool_wrapper = g_variant_ref_sink (g_variant_new_variant (
      g_variant_new_from_data (G_VARIANT_TYPE ("ab"), bools, 100000, FALSE, NULL, NULL)));
    bool_bytes = g_malloc (g_variant_get_size (bool_wrapper));
    g_variant_store (bool_wrapper, bool_bytes);
    expect_memfd_body (bool_bytes, g_variant_get_size (bool_wrapper), "normal form");
  }

  /* A pipe where the payload memory file should be. */
  {
    MpWireHeader h = { MP_WIRE_MAGIC, MP_WIRE_KIND_RUN, MP_WIRE_FLAG_MEMFD, 1, 0, 64 };
    expect_protocol_error (&h, sizeof h, &p[0], 1, "not a memory file");
  }

  close (p[0]);
  close (p[1]);
}

/* No descriptor leaks through any of the error paths above. */
static void
test_no_fd_leak (void)
{
  guint before = 0, after = 0;
  g_autoptr(GDir) d1 = NULL;

  /* Once first, for whatever GLib opens on first use. */
  test_malformed ();
  d1 = g_dir_open ("/proc/self/fd", 0, NULL);
  while (g_dir_read_name (d1))
    before++;
  g_clear_pointer (&d1, g_dir_close);
  for (int i = 0; i < 20; i++)
    {
      test_malformed ();
      test_roundtrip ();
      test_large_payload ();
    }
  {
    g_autoptr(GDir) d2 = g_dir_open ("/proc/self/fd", 0, NULL);
    while (g_dir_read_name (d2))
      after++;
  }
  g_assert_cmpuint (before, ==, after);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire/roundtrip", test_roundtrip);
  g_test_add_func ("/wire/bad-handle", test_bad_handle);
  g_test_add_func ("/wire/large-payload", test_large_payload);
  g_test_add_func ("/wire/peer-closed", test_peer_closed);
  g_test_add_func ("/wire/many-payloads-held", test_many_payloads_held);
  g_test_add_func ("/wire/timeout-and-cancel", test_timeout_and_cancel);
  g_test_add_func ("/wire/receive-async", test_receive_async);
  g_test_add_func ("/wire/malformed", test_malformed);
  g_test_add_func ("/wire/no-fd-leak", test_no_fd_leak);
  return g_test_run ();
}
