/* pipe-father-son.c: mirrors seed 001 §5 "进程之间的数据通讯": Father and Son
 * run in two children joined by a duplex pipe. The son says 'Hello
 * Father', the father answers 'Hi my son!'. (The seed forgot to join
 * them; here the main program does.)
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pipe-father-son
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

static GVariant *
son (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_arg (args, error);
  g_autoptr(GVariant) answer = NULL;

  if (pipe != NULL
      && mp_pipe_send (pipe, g_variant_new_string ("Hello Father"), NULL, error)  /* 向父亲发送 */
      && (answer = mp_pipe_recv (pipe, G_VARIANT_TYPE_STRING, NULL, error)))     /* 接收父亲发过来的 */
    printf ("From Father:%s\n", g_variant_get_string (answer, NULL));
  return NULL;
}

static GVariant *
father (GVariant      *args,
        GCancellable  *cancellable,
        gpointer       user_data,
        GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_arg (args, error);
  g_autoptr(GVariant) hello = NULL;

  if (pipe == NULL || !(hello = mp_pipe_recv (pipe, G_VARIANT_TYPE_STRING, NULL, error)))  /* 接收儿子发来的 */
    return NULL;
  printf ("From Son:%s\n", g_variant_get_string (hello, NULL));
  fflush (stdout);   /* before the son can print his answer */
  mp_pipe_send (pipe, g_variant_new_string ("Hi my son!"), NULL, error);   /* 发送给儿子 */
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPipe) father_end = NULL, son_end = NULL;
  g_autoptr(MpProcess) f = NULL, s = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("Father", father, NULL, NULL);   /* tasks first, then mp_init() */
  mp_register_task ("Son", son, NULL, NULL);
  mp_init (argc, argv);

  if (!mp_pipe_new_pair (TRUE, &father_end, &son_end, &error)   /* father, son = Pipe() */
      || !(f = start_with_pipe ("Father", father_end, &error))   /* 父亲的进程 */
      || !(s = start_with_pipe ("Son", son_end, &error))         /* 儿子的进程 */
      || !join_checked (f, &error) || !join_checked (s, &error))
    {
      g_printerr ("%s: %s\n", argv[0], error->message);
      return 1;
    }
  return 0;
}
