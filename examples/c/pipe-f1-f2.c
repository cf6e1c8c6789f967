/* pipe-f1-f2.c: mirrors seed 004 "进程间通信 / Pipe": process f1 writes
 * 'Hello shiyanlou' into one end of a pipe, process f2 reads it from the
 * other end and prints it.
 *
 * The seed makes conn1, conn2 = Pipe() at module level and its tasks use
 * them as globals. In libmp only a forked child would share such a pipe
 * (a spawn child runs the program again and would make a pipe of its
 * own), so the ends go to the tasks as arguments instead. The output is
 * the same.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pipe-f1-f2
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

static GVariant *
f1 (GVariant      *args,
    GCancellable  *cancellable,
    gpointer       user_data,
    GError       **error)
{
  g_autoptr(MpPipe) conn1 = pipe_arg (args, error);

  if (conn1 != NULL)
    mp_pipe_send (conn1, g_variant_new_string ("Hello shiyanlou"), NULL, error);
  return NULL;
}

static GVariant *
f2 (GVariant      *args,
    GCancellable  *cancellable,
    gpointer       user_data,
    GError       **error)
{
  g_autoptr(MpPipe) conn2 = pipe_arg (args, error);
  g_autoptr(GVariant) data = NULL;

  if (conn2 != NULL && (data = mp_pipe_recv (conn2, G_VARIANT_TYPE_STRING, NULL, error)))
    printf ("%s\n", g_variant_get_string (data, NULL));
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPipe) conn1 = NULL, conn2 = NULL;
  g_autoptr(MpProcess) p1 = NULL, p2 = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("f1", f1, NULL, NULL);   /* tasks first, then mp_init() */
  mp_register_task ("f2", f2, NULL, NULL);
  mp_init (argc, argv);

  if (!mp_pipe_new_pair (TRUE, &conn1, &conn2, &error)   /* conn1, conn2 = Pipe() */
      || !(p1 = start_with_pipe ("f1", conn1, &error))
      || !(p2 = start_with_pipe ("f2", conn2, &error))
      || !join_checked (p1, &error) || !join_checked (p2, &error))   /* the seed does not join */
    {
      g_printerr ("%s: %s\n", argv[0], error->message);
      return 1;
    }
  return 0;
}
