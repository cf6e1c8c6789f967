/* pool-map.c: mirrors seed 002's first example, Pool 的数据并行:
 *
 *   with Pool(5) as p:
 *       print(p.map(f, [1, 2, 3]))
 *
 * f(x) = x*x runs in the pool's workers over [1, 2, 3]; map() waits and
 * gives the results in the order of the items: [1, 4, 9]. Leaving the
 * with block terminates the pool; here the last reference does.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-map
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

/* def f(x): return x*x */
static GVariant *
f (GVariant      *args,
   GCancellable  *cancellable,
   gpointer       user_data,
   GError       **error)
{
  gint64 x = g_variant_get_int64 (args);

  return g_variant_new_int64 (x * x);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPool) p = NULL;
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("f", f, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  /* each item of the array is the argument of one call of f */
  if (!(p = mp_pool_new (5, &error))
      || !(results = mp_pool_map (p, "f", g_variant_new_parsed ("[int64 1, 2, 3]"), 0, NULL, &error)))
    return print_error (argv[0], error);

  /* "ax", printed as Python prints the list */
  {
    g_autofree char *text = g_variant_print (results, FALSE);

    printf ("%s\n", text);
  }
  return 0;
}
