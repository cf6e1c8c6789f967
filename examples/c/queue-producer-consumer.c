/* queue-producer-consumer.c: mirrors seed 000 "进程间通信 / Queue模版": two
 * producer processes put their names, then 'quit', into one queue; three
 * consumer processes get names until they see 'quit', which each puts
 * back for the others before it exits.
 *
 * The seed's consumers poll (`if not get_queue.empty()`) and its
 * producers sleep a second after each put. Here a consumer simply blocks
 * in mp_queue_get() until an item is there: no busy loop and no sleep.
 *
 * Without the sleeps, one producer's 'quit' could reach the consumers
 * before the other producer has put its names, and they would all exit
 * and leave those names in the queue (the seed says its exit condition
 * needs adjusting to the numbers of jobs). So the consumers start once
 * the producers are joined: every name is then in the queue, ahead of the
 * 'quit's put back, and each is got exactly once.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./queue-producer-consumer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

#define NUM_PUT_JOBS 2
#define NUM_GET_JOBS 3

static GVariant *
func_input (GVariant      *args,
            GCancellable  *cancellable,
            gpointer       user_data,
            GError       **error)
{
  g_autoptr(MpQueue) input_queue = queue_arg (args, error);
  g_autofree const char **name_list = NULL;
  int i;

  if (input_queue == NULL)
    return NULL;
  g_variant_get (args, "(@*^a&si)", NULL, &name_list, &i);
  for (guint n = 0; name_list[n] != NULL; n++)
    {
      printf ("process %d put data %s\n", i, name_list[n]);
      if (!mp_queue_put (input_queue, g_variant_new_string (name_list[n]), TRUE, -1, NULL, error))
        return NULL;
    }
  if (mp_queue_put (input_queue, g_variant_new_string ("quit"), TRUE, -1, NULL, error))
    printf ("exit input.\n");
  return NULL;
}

static GVariant *
func_get (GVariant      *args,
          GCancellable  *cancellable,
          gpointer       user_data,
          GError       **error)
{
  g_autoptr(MpQueue) get_queue = queue_arg (args, error);
  int i;

  if (get_queue == NULL)
    return NULL;
  g_variant_get (args, "(@*i)", NULL, &i);
  for (;;)
    {
      /* blocks until an item is there, instead of polling empty() */
      g_autoptr(GVariant) item = mp_queue_get (get_queue, TRUE, -1, NULL, error);
      const char *name;

      if (item == NULL)
        return NULL;
      name = g_variant_get_string (item, NULL);
      if (g_str_equal (name, "quit"))
        {
          if (mp_queue_put (get_queue, item, TRUE, -1, NULL, error))   /* for the others */
            printf ("exit get.\n");
          return NULL;
        }
      printf ("process %d get data %s\n", i, name);
    }
}

int
main (int    argc,
      char **argv)
{
  const char *name_lists[NUM_PUT_JOBS][4] = { { "a", "b", "c", NULL }, { "d", "e", "f", NULL } };
  g_autoptr(GPtrArray) producers = process_list_new ();
  g_autoptr(GPtrArray) consumers = process_list_new ();
  g_autoptr(MpQueue) queue = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("func_input", func_input, NULL, NULL);   /* tasks first, then mp_init() */
  mp_register_task ("func_get", func_get, NULL, NULL);
  mp_init (argc, argv);

  if (!(queue = mp_queue_new (0, &error)))
    return print_error (argv[0], error);
  for (int i = 0; i < NUM_PUT_JOBS; i++)
    if (!start_into (producers, "func_input",
                     g_variant_new ("(@*^asi)", mp_queue_to_variant (queue), name_lists[i], i), &error))
      return print_error (argv[0], error);
  if (!join_all (producers, &error))   /* see above: every name is in, then the consumers start */
    return print_error (argv[0], error);
  for (int i = 0; i < NUM_GET_JOBS; i++)
    if (!start_into (consumers, "func_get",
                     g_variant_new ("(@*i)", mp_queue_to_variant (queue), i + NUM_PUT_JOBS), &error))
      return print_error (argv[0], error);
  if (!join_all (consumers, &error))
    return print_error (argv[0], error);

  printf ("Done.\n");
  return 0;
}
