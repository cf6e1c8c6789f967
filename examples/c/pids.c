/* pids.c: mirrors seed 001 §3 "进程的简单使用": the main process prints its
 * parent's PID (os.getppid) and its own (os.getpid), then a child prints
 * the same two. The child also prints mp_parent_pid(): the process that
 * started it through libmp. With fork and spawn that is getppid(); with
 * forkserver getppid() is the server, and only mp_parent_pid() names the
 * main process.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pids
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <unistd.h>

#include <mp.h>

static GVariant *
run (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  printf ("Child: parent PID (getppid): %d\n", (int) getppid ());   /* 父进程的PID */
  printf ("Child: PID (getpid): %d\n", (int) getpid ());            /* 当前进程的PID */
  printf ("Child: libmp parent PID (parent_pid): %d\n", mp_parent_pid ());
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GError) error = NULL;
  GEnumClass *methods;

  mp_register_task ("run", run, NULL, NULL);
  mp_init (argc, argv);

  methods = g_type_class_ref (MP_TYPE_START_METHOD);
  printf ("Start method: %s\n", g_enum_get_value (methods, mp_get_start_method ())->value_nick);
  g_type_class_unref (methods);

  printf ("Parent PID of the main process: %d\n", (int) getppid ());   /* 主进程的父进程PID */
  printf ("PID of the main process: %d\n", (int) getpid ());           /* 主进程的PID */
  printf ("____________________\n\n");

  p = mp_process_new ("run", NULL);
  if (!mp_process_start (p, &error))
    {
      g_printerr ("%s: %s\n", argv[0], error->message);
      return 1;
    }
  printf ("Started child process %d.\n", mp_process_get_pid (p));

  /* No join, as in the seed: like Python, libmp waits at exit for the
   * children that are not daemonic. */
  return 0;
}
