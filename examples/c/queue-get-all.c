/* queue-get-all.c: mirrors seed 001 "4.进程之间的数据交互": two processes
 * put a name each into a queue; once both are joined, the parent takes
 * everything out (the seed's get_all() hook) and prints the list. Which
 * name comes first is up to the scheduler.
 *
 * The seed stops when queue.empty() says so. Across processes qsize()
 * and empty() are only approximate (a put or get under way in another
 * process is not counted yet); here they would be exact, the producers
 * being joined, but the reliable way is to get without blocking until
 * the queue says it is empty: G_IO_ERROR_WOULD_BLOCK, Python's Empty.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./queue-get-all
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

/* 简单的小钩子,用于快速将数据做成一个列表返回。 */
static GVariant *
get_all (MpQueue  *queue,
         GError  **error)
{
  g_auto(GVariantBuilder) q = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_STRING_ARRAY);
  g_autoptr(GError) local_error = NULL;

  for (;;)
    {
      g_autoptr(GVariant) item = mp_queue_get (queue, FALSE, 0, NULL, &local_error);   /* get_nowait() */

      if (item == NULL)
        break;
      g_variant_builder_add_value (&q, item);
    }
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_variant_builder_end (&q);
}

static GVariant *
run (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, error);
  g_autoptr(GVariant) name = g_variant_get_child_value (args, 1);

  if (q != NULL)
    mp_queue_put (q, name, TRUE, -1, NULL, error);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) processes = process_list_new ();
  g_autoptr(MpQueue) q = NULL;
  g_autoptr(GVariant) li = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("run", run, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  if (!(q = mp_queue_new (0, &error))
      || !start_into (processes, "run", g_variant_new ("(@*s)", mp_queue_to_variant (q), "XeanYu"), &error)
      || !start_into (processes, "run", g_variant_new ("(@*s)", mp_queue_to_variant (q), "XY"), &error)
      || !join_all (processes, &error)
      || !(li = get_all (q, &error)))
    return print_error (argv[0], error);
  text = g_variant_print (li, FALSE);
  printf ("%s\n", text);   /* print(li) */
  return 0;
}
