/* pool-imap.c: mirrors seed 000's imap example: foo(param) over the
 * params (i, i + 1) for i in range(10), through imap(), which gives each
 * result as soon as it and those before it are done, in the order of the
 * params, where map() would wait for them all. The seed's foo unpacks
 * arg1, arg2 and does nothing (pass), and nothing takes imap()'s
 * results; here foo returns arg1 * arg2 and the parent prints each
 * result as it comes, then closes and joins the pool (Pool(8), as in
 * the seed).
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-imap
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

#define N_PARAMS 10

/* def foo(param): arg1, arg2 = param; return arg1 * arg2 */
static GVariant *
foo (GVariant      *param,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  gint64 arg1, arg2;

  g_variant_get (param, "(xx)", &arg1, &arg2);
  return g_variant_new_int64 (arg1 * arg2);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(MpPoolIterator) results = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder params;
  gint64 i = 0;

  mp_register_task ("foo", foo, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  g_variant_builder_init (&params, G_VARIANT_TYPE ("a(xx)"));
  for (gint64 n = 0; n < N_PARAMS; n++)
    g_variant_builder_add (&params, "(xx)", n, n + 1);   /* params.append((i, i+1)) */

  if (!(pool = mp_pool_new (8, &error))
      || !(results = mp_pool_imap (pool, "foo", g_variant_builder_end (&params), 1, &error)))
    return print_error (argv[0], error);

  for (;;)
    {
      g_autoptr(GVariant) product = NULL;

      /* FALSE without an error: there are no more results */
      if (!mp_pool_iterator_next (results, -1, &product, &error))
        {
          if (error != NULL)
            return print_error (argv[0], error);
          break;
        }
      printf ("foo(%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") = %" G_GINT64_FORMAT "\n",
              i, i + 1, g_variant_get_int64 (product));
      fflush (stdout);
      i++;
    }
  if (i != N_PARAMS)
    {
      g_printerr ("%s: %" G_GINT64_FORMAT " results for %d params\n", argv[0], i, N_PARAMS);
      return 1;
    }

  mp_pool_close (pool);
  if (!mp_pool_join (pool, -1, NULL, &error))
    return print_error (argv[0], error);
  printf ("imap done.\n");
  return 0;
}
