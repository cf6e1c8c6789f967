/* pipe-duplex.c: mirrors seed 003 §9.7 "全双工通信": Pipe() is duplex by
 * default, so the parent and its child both send and receive on their
 * end. The values are GVariants, printed as g_variant_print() does.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pipe-duplex
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
  GVariant *reply;

  if (p_a == NULL || !(recv = mp_pipe_recv (p_a, NULL, NULL, error)))   /* 子进程接收主进程发的数据 */
    return NULL;
  show ("Child received:", recv);
  reply = g_variant_new_parsed ("['a', 'b', 'c', 'd']");
  show ("Child sends:", reply);
  mp_pipe_send (p_a, reply, NULL, error);   /* 子进程给主进程发数据 */
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPipe) p_a = NULL, p_b = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GVariant) recv = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *data = g_variant_new_parsed ("[1, 2, 3, 4, 5]");

  mp_register_task ("run", run, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  if (!mp_pipe_new_pair (TRUE, &p_a, &p_b, &error)   /* 创建管道, 默认为全双工 */
      || !(p = start_with_pipe ("run", p_a, &error)))
    goto fail;
  show ("Parent sends:", data);
  if (!mp_pipe_send (p_b, data, NULL, &error)   /* 主进程向子进程发数据 */
      || !join_checked (p, &error)
      || !(recv = mp_pipe_recv (p_b, NULL, NULL, &error)))   /* 主进程接收子进程的数据 */
    goto fail;
  show ("Parent received:", recv);
  printf ("Parent ends\n");   /* 主进程结束 */
  return 0;

fail:
  g_printerr ("%s: %s\n", argv[0], error->message);
  return 1;
}
