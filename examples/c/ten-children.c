/* ten-children.c: mirrors seed 000's second example (多个子进程只需要for循环):
 * start ten children in a loop, keep them in a list, join them all.
 *
 *   ten-children [--start-method=fork|spawn|forkserver]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* --start-method=fork|spawn|forkserver. Called after mp_init(), which a
 * spawn child never returns from. */
static void
apply_start_method_option (int    argc,
                           char **argv)
{
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--start-method="))
      {
        const char *name = argv[i] + strlen ("--start-method=");
        MpStartMethod method = g_str_equal (name, "fork") ? MP_START_METHOD_FORK
                             : g_str_equal (name, "spawn") ? MP_START_METHOD_SPAWN
                             : g_str_equal (name, "forkserver") ? MP_START_METHOD_FORKSERVER
                             : MP_START_METHOD_DEFAULT;
        g_autoptr(GError) error = NULL;

        if (method == MP_START_METHOD_DEFAULT)
          g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "unknown start method “%s”", name);
        if (error != NULL || !mp_set_start_method (method, &error))
          {
            g_printerr ("%s: %s\n", argv[0], error->message);
            exit (2);
          }
      }
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
  apply_start_method_option (argc, argv);


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
