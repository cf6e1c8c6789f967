/* one-child.c: mirrors seed 000 "多进程模版" (the same example is seed 003
 * §9.3), followed by seed 004's hello('shiyanlou'): the parent starts one
 * child, waits for it with join, and goes on.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./one-child
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <unistd.h>

#include <mp.h>

/* 子进程要执行的代码: the code the child runs. A task takes its arguments
 * as a GVariant tuple, as Python's target takes args=('test',). */
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

/* Seed 004 */
static GVariant *
hello (GVariant      *args,
       GCancellable  *cancellable,
       gpointer       user_data,
       GError       **error)
{
  const char *name;

  g_variant_get (args, "(&s)", &name);
  printf ("child process: %d\n", (int) getpid ());
  printf ("Hello %s\n", name);
  return NULL;
}

/* Starts a task in a child and waits for it: start() then join(). */
static gboolean
run_in_child (const char  *task,
              GVariant    *args,
              GError     **error)
{
  g_autoptr(MpProcess) p = mp_process_new (task, args);

  if (!mp_process_start (p, error))   /* 进程开始 */
    return FALSE;
  if (!mp_process_join (p, -1, error))   /* 等待进程结束 */
    return FALSE;
  /* The child's own error (it was also printed on its stderr). */
  if (!mp_process_check_error (p, error))
    return FALSE;
  if (mp_process_get_exitcode (p) != 0)
    {
      g_set_error (error, MP_ERROR, MP_ERROR_FAILED, "%s exited with %d",
                   mp_process_get_name (p), mp_process_get_exitcode (p));
      return FALSE;
    }
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;

  /* Tasks first, then mp_init(): children know only what was registered
   * before it. */
  mp_register_task ("run_proc", run_proc, NULL, NULL);
  mp_register_task ("hello", hello, NULL, NULL);
  mp_init (argc, argv);

  /* Seed 000 */
  printf ("Parent process %d.\n", (int) getpid ());
  printf ("Child process will start.\n");
  if (!run_in_child ("run_proc", g_variant_new ("(s)", "test"), &error))
    goto fail;
  printf ("Child process end.\n");

  /* Seed 004 */
  if (!run_in_child ("hello", g_variant_new ("(s)", "shiyanlou"), &error))
    goto fail;
  printf ("parent process: %d\n", (int) getpid ());
  return 0;

fail:
  g_printerr ("%s: %s\n", argv[0], error->message);
  return 1;
}
