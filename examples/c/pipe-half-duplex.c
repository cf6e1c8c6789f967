/* pipe-half-duplex.c: mirrors seed 003 §9.7 "半双工通信": with
 * Pipe(duplex=False) the first end, p_a, only receives and the second,
 * p_b, only sends. The child receives on p_a what the parent sends on p_b.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pipe-half-duplex
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

static GVariant *
run (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  g_autoptr(MpPipe) p_a = pipe_arg (args, error);
  g_autoptr(GVariant) recv = NULL;

  if (p_a != NULL && (recv = mp_pipe_recv (p_a, NULL, NULL, error)))   /* 子进程接收主进程发的数据 */
    show ("Child received (p_a):", recv);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPipe) p_a = NULL, p_b = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *data = g_variant_new_parsed ("[1, 2, 3, 4, 5]");

  mp_register_task ("run", run, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  if (!mp_pipe_new_pair (FALSE, &p_a, &p_b, &error)   /* p_a 只能收, p_b 只能发 */
      || !(p = start_with_pipe ("run", p_a, &error)))
    goto fail;
  show ("Parent sends (p_b):", data);
  if (!mp_pipe_send (p_b, data, NULL, &error)   /* 主进程向子进程发数据 */
      || !join_checked (p, &error))
    goto fail;
  printf ("Parent ends\n");   /* 主进程结束 */
  return 0;

fail:
  g_printerr ("%s: %s\n", argv[0], error->message);
  return 1;
}
