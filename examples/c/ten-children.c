/* ten-children.c: mirrors seed 000's second example (多个子进程只需要for循环):
 * start ten children in a loop, keep them in a list, join them all.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./ten-children
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <unistd.h>

#include <mp.h>

/* 子进程要执行的代码 */
static GVariant *
run_proc (GVariant      *args,
          GCancellable  *cancellable,
          gpointer       user_data,
          GError       **error)
{
  const char *name;

  g_variant_get (args, "(&s)", &name);
  printf ("Run child process %s (%d)...\n", name, (int) getpid ());
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) process_list = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  int status = 0;

  mp_register_task ("run_proc", run_proc, NULL, NULL);
  mp_init (argc, argv);

  printf ("Parent process %d.\n", (int) getpid ());

  for (int i = 0; i < 10; i++)
    {
      MpProcess *p = mp_process_new ("run_proc", g_variant_new ("(s)", "test"));

      printf ("%dth Child process will start.\n", i);
      if (!mp_process_start (p, &error))   /* 进程开始 */
        {
          g_printerr ("%s: %s\n", argv[0], error->message);
          g_object_unref (p);
          status = 1;
          break;   /* the ones already started are still joined below */
        }
      g_ptr_array_add (process_list, p);
    }

  for (guint i = 0; i < process_list->len; i++)
    {
      MpProcess *p = g_ptr_array_index (process_list, i);

      mp_process_join (p, -1, NULL);   /* 等待进程结束 */
      if (mp_process_get_exitcode (p) != 0)
        {
          g_printerr ("%s: %s exited with %d\n", argv[0],
                      mp_process_get_name (p), mp_process_get_exitcode (p));
          status = 1;
        }
    }

  printf ("Done.\n");
  return status;
}
