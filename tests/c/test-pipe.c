/* test-pipe.c: MpPipe in one process and across each start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <mp.h>

#include "test-util.h"


/* Deterministic bytes, so both sides can check without sharing a copy. */
static guint8
pattern (gsize i)
{
  return (guint8) ((i * 2654435761u) >> 13);
}

static GBytes *
make_pattern (gsize size)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = pattern (i);
  return g_bytes_new_take (data, size);
}

static gboolean
check_pattern (GBytes *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (gsize i = 0; i < size; i++)
    if (data[i] != pattern (i))
      return FALSE;
  return TRUE;
}

/* ---- tasks ------------------------------------------------------------- */

/* The son of the seeds' example: says hello, then answers the father. */
static GVariant *
task_son (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);
  g_autoptr(MpPipe) pipe = mp_pipe_new_from_variant (ref, error);
  g_autoptr(GVariant) got = NULL;

  if (pipe == NULL)
    return NULL;
  if (!mp_pipe_send (pipe, g_variant_new_string ("Hello Father"), NULL, error))
    return NULL;
  got = mp_pipe_recv (pipe, G_VARIANT_TYPE_STRING, NULL, error);
  if (got == NULL)
    return NULL;
  return mp_pipe_send (pipe, g_variant_new_printf ("From Father:%s", g_variant_get_string (got, NULL)),
                       NULL, error) ? g_variant_new ("()") : NULL;
}

/* Receives a pipe end through a pipe, and answers on it. */
static GVariant *
task_relay (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);
  g_autoptr(MpPipe) pipe = mp_pipe_new_from_variant (ref, error);
  g_autoptr(GVariant) inner_ref = NULL;
  g_autoptr(MpPipe) inner = NULL;

  if (pipe == NULL || !(inner_ref = mp_pipe_recv (pipe, G_VARIANT_TYPE ("(sh)"), NULL, error)))
    return NULL;
  inner = mp_pipe_new_from_variant (inner_ref, error);
  if (inner == NULL)
    return NULL;
  return mp_pipe_send (inner, g_variant_new_string ("through the pipe"), NULL, error)
    ? g_variant_new ("()") : NULL;
}

/* Sends @size pattern bytes. */
static GVariant *
task_send_big (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) ref = NULL;
  g_autoptr(MpPipe) pipe = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint64 size;

  g_variant_get (args, "(@(sh)t)", &ref, &size);
  pipe = mp_pipe_new_from_variant (ref, error);
  if (pipe == NULL)
    return NULL;
  bytes = make_pattern (size);
  return mp_pipe_send_bytes (pipe, bytes, NULL, error) ? g_variant_new ("()") : NULL;
}

/* Sends back the bytes it receives: a relay, which passes the sealed
 * memory file on instead of copying it. */
static GVariant *
task_echo_bytes (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);
  g_autoptr(MpPipe) pipe = mp_pipe_new_from_variant (ref, error);
  g_autoptr(GBytes) bytes = NULL;

  if (pipe == NULL || (bytes = mp_pipe_recv_bytes (pipe, NULL, error)) == NULL)
    return NULL;
  return mp_pipe_send_bytes (pipe, bytes, NULL, error) ? g_variant_new ("()") : NULL;
}

/* Sends three messages, then dies before the fourth. */
static GVariant *
task_send_then_die (GVariant *args, GCancellable *c, gpointer data, GError **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);
  g_autoptr(MpPipe) pipe = mp_pipe_new_from_variant (ref, error);

  for (int i = 0; i < 3; i++)
    mp_pipe_send (pipe, g_variant_new_int32 (i), NULL, NULL);
  raise (SIGKILL);
  return NULL;
}

/* ---- a subclass holding a pipe end ------------------------------------- */

#define TEST_TYPE_PIPE_PROCESS (test_pipe_process_get_type ())
G_DECLARE_FINAL_TYPE (TestPipeProcess, test_pipe_process, TEST, PIPE_PROCESS, MpProcess)

struct _TestPipeProcess
{
  MpProcess parent_instance;
  MpPipe *conn;
};

G_DEFINE_FINAL_TYPE (TestPipeProcess, test_pipe_process, MP_TYPE_PROCESS)

static void
test_pipe_process_run (MpProcess *process, GCancellable *c, GError **error)
{
  TestPipeProcess *self = TEST_PIPE_PROCESS (process);

  if (self->conn == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the pipe did not travel");
  else
    mp_pipe_send (self->conn, g_variant_new_string ("from the property"), NULL, error);
}

static void
test_pipe_process_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  g_value_set_object (value, TEST_PIPE_PROCESS (object)->conn);
}

static void
test_pipe_process_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  g_set_object (&TEST_PIPE_PROCESS (object)->conn, g_value_get_object (value));
}

static void
test_pipe_process_dispose (GObject *object)
{
  g_clear_object (&TEST_PIPE_PROCESS (object)->conn);
  G_OBJECT_CLASS (test_pipe_process_parent_class)->dispose (object);
}

static void
test_pipe_process_class_init (TestPipeProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_pipe_process_get_property;
  object_class->set_property = test_pipe_process_set_property;
  object_class->dispose = test_pipe_process_dispose;
  MP_PROCESS_CLASS (klass)->run = test_pipe_process_run;
  g_object_class_install_property (object_class, 1,
    g_param_spec_object ("conn", NULL, NULL, MP_TYPE_PIPE, G_PARAM_READWRITE));
}

static void
test_pipe_process_init (TestPipeProcess *self)
{
}

/* ---- helpers ----------------------------------------------------------- */

static void
new_pair (gboolean duplex, MpPipe **a, MpPipe **b)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_pipe_new_pair (duplex, a, b, &error));
  g_assert_no_error (error);
}

/* ---- in one process ---------------------------------------------------- */

static void
test_values_and_bytes (void)
{
  g_autoptr(MpPipe) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("raw\0bytes", 9);
  g_autoptr(GBytes) got = NULL;

  new_pair (TRUE, &a, &b);
  {
    /* A value the caller keeps stays the caller's. */
    g_autoptr(GVariant) kept = g_variant_ref_sink (g_variant_new_parsed ("[1, 2, 3]"));
    g_assert_true (mp_pipe_send (a, kept, NULL, &error));
  }
  g_assert_true (mp_pipe_send_bytes (a, bytes, NULL, &error));
  g_assert_true (mp_pipe_send (b, g_variant_new_string ("back"), NULL, &error));
  g_assert_no_error (error);

  v = mp_pipe_recv (b, NULL, NULL, &error);
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "ai");
  got = mp_pipe_recv_bytes (b, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
  g_clear_pointer (&v, g_variant_unref);
  v = mp_pipe_recv (a, G_VARIANT_TYPE_STRING, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "back");
}

/* A value of the wrong type is refused and kept: nothing is lost. */
static void
test_wrong_type_keeps_message (void)
{
  g_autoptr(MpPipe) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  new_pair (TRUE, &a, &b);
  mp_pipe_send (a, g_variant_new_string ("text"), NULL, NULL);
  g_assert_null (mp_pipe_recv (b, G_VARIANT_TYPE_INT32, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (mp_pipe_recv_bytes (b, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_true (mp_pipe_poll (b, 0, &error));
  v = mp_pipe_recv (b, NULL, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "text");
}

static void
test_half_duplex (void)
{
  g_autoptr(MpPipe) r = NULL, w = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  new_pair (FALSE, &r, &w);
  g_assert_true (mp_pipe_get_readable (r));
  g_assert_false (mp_pipe_get_writable (r));
  g_assert_false (mp_pipe_get_readable (w));
  g_assert_true (mp_pipe_get_writable (w));

  g_assert_false (mp_pipe_send (r, g_variant_new_int32 (1), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (mp_pipe_recv (w, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  g_assert_true (mp_pipe_send (w, g_variant_new_int32 (5), NULL, &error));
  v = mp_pipe_recv (r, G_VARIANT_TYPE_INT32, NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 5);
}

static void
test_closed_peer (void)
{
  g_autoptr(MpPipe) a = NULL, b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  new_pair (TRUE, &a, &b);
  g_assert_false (mp_pipe_poll (b, 0.01, &error));
  g_assert_no_error (error);

  mp_pipe_send (a, g_variant_new_string ("last words"), NULL, NULL);
  mp_pipe_close (a);
  g_assert_true (mp_pipe_get_closed (a));
  g_assert_false (mp_pipe_send (a, g_variant_new_int32 (1), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);

  /* What was sent before the close still arrives, then EOF. */
  g_assert_true (mp_pipe_poll (b, 5, &error));
  v = mp_pipe_recv (b, NULL, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "last words");
  g_assert_true (mp_pipe_poll (b, 5, &error));
  g_assert_null (mp_pipe_recv (b, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (mp_pipe_send (b, g_variant_new_int32 (1), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
on_recv (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GVariant **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = mp_pipe_recv_finish (MP_PIPE (source), result, &error);
  g_assert_no_error (error);
}

static void
test_recv_async (void)
{
  g_autoptr(MpPipe) a = NULL, b = NULL;
  GVariant *got = NULL;

  new_pair (TRUE, &a, &b);
  mp_pipe_recv_async (b, G_VARIANT_TYPE_STRING, NULL, on_recv, &got);
  mp_pipe_send (a, g_variant_new_string ("on the main loop"), NULL, NULL);
  while (got == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_variant_get_string (got, NULL), ==, "on the main loop");
  g_variant_unref (got);
}

static void
test_bad_reference (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (mp_pipe_new_from_variant (g_variant_new ("(sh)", "mp:pipe:rw", 0), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (mp_pipe_new_from_variant (g_variant_new_string ("nope"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* ---- across processes -------------------------------------------------- */

static void
test_father_son (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPipe) father = NULL, son = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) hello = NULL, answer = NULL;

  new_pair (TRUE, &father, &son);
  p = test_start (method, "son", g_variant_new ("(@(sh))", mp_pipe_to_variant (son)));
  hello = mp_pipe_recv (father, G_VARIANT_TYPE_STRING, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (hello, NULL), ==, "Hello Father");
  g_assert_true (mp_pipe_send (father, g_variant_new_string ("Hi my son!"), NULL, &error));
  answer = mp_pipe_recv (father, G_VARIANT_TYPE_STRING, NULL, &error);
  g_assert_cmpstr (g_variant_get_string (answer, NULL), ==, "From Father:Hi my son!");
  test_join_ok (p);
}

static void
test_subclass_property (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPipe) a = NULL, b = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  new_pair (TRUE, &a, &b);
  p = g_object_new (TEST_TYPE_PIPE_PROCESS, "conn", b, "start-method", method, NULL);
  g_assert_true (mp_process_start (p, &error));
  v = mp_pipe_recv (a, G_VARIANT_TYPE_STRING, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "from the property");
  test_join_ok (p);
}

static void
test_pipe_through_pipe (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPipe) a = NULL, b = NULL, inner_a = NULL, inner_b = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  new_pair (TRUE, &a, &b);
  new_pair (FALSE, &inner_a, &inner_b);
  p = test_start (method, "relay", g_variant_new ("(@(sh))", mp_pipe_to_variant (b)));
  g_assert_true (mp_pipe_send (a, mp_pipe_to_variant (inner_b), NULL, &error));
  /* Our copy can go: the child has its own now. */
  g_clear_object (&inner_b);
  v = mp_pipe_recv (inner_a, G_VARIANT_TYPE_STRING, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "through the pipe");
  test_join_ok (p);
}

static void
test_big (MpStartMethod method, guint64 size)
{
  g_autoptr(MpPipe) r = NULL, w = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;

  new_pair (FALSE, &r, &w);
  p = test_start (method, "send-big", g_variant_new ("(@(sh)t)", mp_pipe_to_variant (w), size));
  got = mp_pipe_recv_bytes (r, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, size);
  g_assert_true (check_pattern (got));
  test_join_ok (p);
}

static void
test_64mib (gconstpointer data)
{
  test_big (GPOINTER_TO_INT (data), 64 * 1024 * 1024 + 7);
}

static void
test_1gib (void)
{
  test_big (MP_START_METHOD_FORK, G_GUINT64_CONSTANT (1) << 30);
}

static void
test_echo_big (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPipe) a = NULL, b = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) sent = make_pattern (32 * 1024 * 1024 + 5);
  g_autoptr(GBytes) back = NULL, again = NULL;

  new_pair (TRUE, &a, &b);
  p = test_start (method, "echo-bytes", g_variant_new ("(@(sh))", mp_pipe_to_variant (b)));
  g_assert_true (mp_pipe_send_bytes (a, sent, NULL, &error));
  back = mp_pipe_recv_bytes (a, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, sent));
  test_join_ok (p);

  /* What came back can itself go round again (it is relayed too). */
  g_clear_object (&p);
  p = test_start (method, "echo-bytes", g_variant_new ("(@(sh))", mp_pipe_to_variant (b)));
  g_assert_true (mp_pipe_send_bytes (a, back, NULL, &error));
  again = mp_pipe_recv_bytes (a, NULL, &error);
  g_assert_true (g_bytes_equal (again, sent));
  test_join_ok (p);
}

/* A peer that dies: whole messages arrive, then EOF; never a torn one. */
static void
test_peer_dies (gconstpointer data)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpPipe) r = NULL, w = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;

  new_pair (FALSE, &r, &w);
  p = test_start (method, "send-then-die", g_variant_new ("(@(sh))", mp_pipe_to_variant (w)));
  /* Our copy of the writing end would keep the pipe open. */
  mp_pipe_close (w);
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(GVariant) v = mp_pipe_recv (r, G_VARIANT_TYPE_INT32, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  g_assert_null (mp_pipe_recv (r, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (mp_process_join (p, 120, NULL));
  g_assert_cmpint (mp_process_get_exitcode (p), ==, -SIGKILL);
}

int
main (int   argc,
      char *argv[])
{
  mp_register_task ("son", task_son, NULL, NULL);
  mp_register_task ("relay", task_relay, NULL, NULL);
  mp_register_task ("send-big", task_send_big, NULL, NULL);
  mp_register_task ("send-then-die", task_send_then_die, NULL, NULL);
  mp_register_task ("echo-bytes", task_echo_bytes, NULL, NULL);
  g_type_ensure (TEST_TYPE_PIPE_PROCESS);
  mp_init (argc, argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pipe/values-and-bytes", test_values_and_bytes);
  g_test_add_func ("/pipe/wrong-type-keeps-message", test_wrong_type_keeps_message);
  g_test_add_func ("/pipe/half-duplex", test_half_duplex);
  g_test_add_func ("/pipe/closed-peer", test_closed_peer);
  g_test_add_func ("/pipe/recv-async", test_recv_async);
  g_test_add_func ("/pipe/bad-reference", test_bad_reference);
  g_test_add_func ("/pipe/fork/1gib", test_1gib);

  test_add_per_method ("pipe", "father-son", test_father_son);
  test_add_per_method ("pipe", "subclass-property", test_subclass_property);
  test_add_per_method ("pipe", "pipe-through-pipe", test_pipe_through_pipe);
  test_add_per_method ("pipe", "64mib", test_64mib);
  test_add_per_method ("pipe", "peer-dies", test_peer_dies);
  test_add_per_method ("pipe", "echo-big", test_echo_big);
  return g_test_run ();
}
