/* value-counter-lock.c: mirrors seed 004 "进程同步" (the corrected
 * example): as value-counter.c, ten processes that each add 1 fifty times
 * to a shared Value('i', 0), but each addition happens while holding a
 * Lock, so no process reads the value while another is between its read
 * and its write: the result is always 500.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./value-counter-lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-sync-helpers.h"

static GVariant *
func (GVariant      *args,
      GCancellable  *cancellable,
      gpointer       user_data,
      GError       **error)
{
  g_autoptr(MpValue) val = shareable_arg (args, 0, MP_TYPE_VALUE, error);
  g_autoptr(MpLock) lock = val ? shareable_arg (args, 1, MP_TYPE_LOCK, error) : NULL;

  if (lock == NULL)
    return NULL;
  for (int i = 0; i < 50; i++)
    {
      g_autoptr(GVariant) value = NULL;
      gboolean done;

      g_usleep (G_USEC_PER_SEC / 100);
      /* with lock: val.value += 1 */
      if (!mp_lock_acquire (lock, -1, cancellable, error))
        return NULL;
      value = g_variant_ref_sink (mp_value_get (val));
      done = mp_value_set (val, g_variant_new_int32 (g_variant_get_int32 (value) + 1), error);
      if (!mp_lock_release (lock, done ? error : NULL) || !done)
        return NULL;
    }
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) procs = process_list_new ();
  g_autoptr(MpValue) v = NULL;
  g_autoptr(MpLock) lock = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("func", func, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  if (!(v = mp_value_new ("i", g_variant_new_int32 (0), TRUE, &error))
      || !(lock = mp_lock_new (&error)))   /* 初始化锁 */
    return print_error (argv[0], error);
  for (int i = 0; i < 10; i++)
    if (!start_into (procs, "func", g_variant_new ("(@*@*)", shareable_ref (v), shareable_ref (lock)),
                     &error))
      return print_error (argv[0], error);
  if (!join_all_exited_ok (procs, &error))
    return print_error (argv[0], error);

  result = g_variant_ref_sink (mp_value_get (v));
  printf ("%d\n", g_variant_get_int32 (result));   /* print(v.value) */
  return 0;
}
