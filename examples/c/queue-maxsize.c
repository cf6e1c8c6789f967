/* queue-maxsize.c: mirrors seed 003 §9.7 "队列(Queue)": a queue of at most
 * 3 items, 5 processes that each put "pid time" into it and 5 that each
 * get one item and print it. Two producers wait in mp_queue_put() until
 * a consumer has made room.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./queue-maxsize
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include "example-helpers.h"

static GVariant *
put_data (GVariant      *args,
          GCancellable  *cancellable,
          gpointer       user_data,
          GError       **error)
{
  g_autoptr(MpQueue) queue = queue_arg (args, error);
  g_autofree char *data = NULL;

  if (queue == NULL)
    return NULL;
  /* 拼接数据 */
  data = g_strdup_printf ("%d %.6f", (int) getpid (), g_get_real_time () / 1e6);
  printf ("Put data: %s\n", data);   /* 压入数据 */
  mp_queue_put (queue, g_variant_new_string (data), TRUE, -1, NULL, error);
  return NULL;
}

static GVariant *
get_data (GVariant      *args,
          GCancellable  *cancellable,
          gpointer       user_data,
          GError       **error)
{
  g_autoptr(MpQueue) queue = queue_arg (args, error);
  g_autoptr(GVariant) data = NULL;

  if (queue != NULL && (data = mp_queue_get (queue, TRUE, -1, NULL, error)))
    printf ("Got data: %s\n", g_variant_get_string (data, NULL));   /* 读取数据 */
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) record1 = process_list_new ();
  g_autoptr(GPtrArray) record2 = process_list_new ();
  g_autoptr(MpQueue) q = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("put_data", put_data, NULL, NULL);   /* tasks first, then mp_init() */
  mp_register_task ("get_data", get_data, NULL, NULL);
  mp_init (argc, argv);

  if (!(q = mp_queue_new (3, &error)))   /* 创建队列 */
    return print_error (argv[0], error);
  for (int i = 0; i < 5; i++)   /* 创建5个进程用于写数据 */
    if (!start_into (record1, "put_data", g_variant_new ("(@*)", mp_queue_to_variant (q)), &error))
      return print_error (argv[0], error);
  for (int i = 0; i < 5; i++)   /* 创建5个进程用于读数据 */
    if (!start_into (record2, "get_data", g_variant_new ("(@*)", mp_queue_to_variant (q)), &error))
      return print_error (argv[0], error);
  if (!join_all (record1, &error) || !join_all (record2, &error))
    return print_error (argv[0], error);
  return 0;
}
