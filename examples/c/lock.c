/* lock.c: mirrors seed 003 §9.4 "进程锁": five processes share one Lock;
 * each takes it, sleeps a moment, prints its label and pid, and lets it
 * go, so only one of them is ever between acquire and release.
 *
 * The seed sleeps a second inside the lock; an example need not wait that
 * long, 0.05 s shows the same. The main program also prints each child's
 * pid as it starts it, so the output shows who printed what.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include "example-sync-helpers.h"

static GVariant *
run (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  g_autoptr(MpLock) lock = shareable_arg (args, 1, MP_TYPE_LOCK, error);
  const char *label;

  g_variant_get_child (args, 0, "&s", &label);
  if (lock == NULL || !mp_lock_acquire (lock, -1, cancellable, error))   /* 获取锁 */
    return NULL;
  g_usleep (G_USEC_PER_SEC / 20);
  /* 中间的任务，不可能同时多个进程任务执行 */
  printf ("%s %d\n", label, (int) getpid ());
  fflush (stdout);   /* before the next holder prints */
  mp_lock_release (lock, error);   /* 释放锁 */
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) recode = process_list_new ();   /* 用于存储所有的进程 */
  g_autoptr(MpLock) lock = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("run", run, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  printf ("Main process: %d\n", (int) getpid ());

  if (!(lock = mp_lock_new (&error)))   /* 创建进程锁 */
    return print_error (argv[0], error);
  for (int i = 0; i < 5; i++)   /* 创建多个子进程 */
    {
      g_autofree char *label = g_strdup_printf ("Child process %d", i);

      if (!start_into (recode, "run", g_variant_new ("(s@*)", label, shareable_ref (lock)), &error))
        return print_error (argv[0], error);
      printf ("Started %s (%d).\n", label,
              mp_process_get_pid (g_ptr_array_index (recode, recode->len - 1)));
      fflush (stdout);
    }
  if (!join_all_exited_ok (recode, &error))   /* 等待进程结束 */
    return print_error (argv[0], error);
  return 0;
}
