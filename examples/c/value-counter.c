/* value-counter.c: mirrors seed 004 "进程同步" (first example): a counter
 * i = Value('i', 0) in shared memory, ten processes that each add 1 to it
 * fifty times, sleeping 0.01 s before each step. Each step reads the value
 * and then writes it plus one, with nothing held in between (val.value +=
 * 1 in Python), so two processes may read the same value and one of their
 * additions is lost: the result is 500 at most, and may be less.
 * value-counter-lock.c is the fix (mp_value_add() would be another: it adds
 * in one atomic step).
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./value-counter
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

  if (val == NULL)
    return NULL;
  for (int i = 0; i < 50; i++)
    {
      g_autoptr(GVariant) value = NULL;

      g_usleep (G_USEC_PER_SEC / 100);
      /* val.value += 1: a read, then a write */
      value = g_variant_ref_sink (mp_value_get (val));
      if (!mp_value_set (val, g_variant_new_int32 (g_variant_get_int32 (value) + 1), error))
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
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("func", func, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  /* 多进程无法使用全局变量，Value 可以在多进程中共享这个变量. The
   * value has a lock (as Value('i', 0) has), which this example does not
   * use. */
  if (!(v = mp_value_new ("i", g_variant_new_int32 (0), TRUE, &error)))
    return print_error (argv[0], error);
  for (int i = 0; i < 10; i++)
    if (!start_into (procs, "func", g_variant_new ("(@*)", shareable_ref (v)), &error))
      return print_error (argv[0], error);
  if (!join_all_exited_ok (procs, &error))
    return print_error (argv[0], error);

  result = g_variant_ref_sink (mp_value_get (v));
  printf ("%d\n", g_variant_get_int32 (result));   /* print(v.value) */
  return 0;
}
