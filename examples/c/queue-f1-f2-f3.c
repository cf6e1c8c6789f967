/* queue-f1-f2-f3.c: mirrors seed 004 "进程间通信 / Queue, 情况1": process f1
 * puts 'Hello shiyanlou' into a queue, f3 puts 'charu', f2 gets one of
 * them (whichever came first) and prints it. Then the parent prints
 * whether the queue is empty: it is not, one item is left.
 *
 * The seed prints queue.empty() without joining the processes, so what it
 * prints depends on how far they got; here the parent joins all three
 * first, and the answer is always False. As in pipe-f1-f2.c, the queue
 * goes to the tasks as an argument rather than as a global.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./queue-f1-f2-f3
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

/* q.put(what): f1 puts 'Hello shiyanlou', f3 'charu' (user_data) */
static GVariant *
put (GVariant      *args,
     GCancellable  *cancellable,
     gpointer       user_data,
     GError       **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, error);

  if (q != NULL)
    mp_queue_put (q, g_variant_new_string (user_data), TRUE, -1, NULL, error);
  return NULL;
}

static GVariant *
f2 (GVariant      *args,
    GCancellable  *cancellable,
    gpointer       user_data,
    GError       **error)
{
  g_autoptr(MpQueue) q = queue_arg (args, error);
  g_autoptr(GVariant) data = NULL;

  if (q != NULL && (data = mp_queue_get (q, TRUE, -1, NULL, error)))
    printf ("%s\n", g_variant_get_string (data, NULL));
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  const char *tasks[] = { "f1", "f3", "f2" };   /* started in the seed's order */
  g_autoptr(GPtrArray) processes = process_list_new ();
  g_autoptr(MpQueue) queue = NULL;
  g_autoptr(GError) error = NULL;

  mp_register_task ("f1", put, (gpointer) "Hello shiyanlou", NULL);   /* tasks first, then mp_init() */
  mp_register_task ("f3", put, (gpointer) "charu", NULL);
  mp_register_task ("f2", f2, NULL, NULL);
  mp_init (argc, argv);

  if (!(queue = mp_queue_new (0, &error)))
    return print_error (argv[0], error);
  for (guint i = 0; i < G_N_ELEMENTS (tasks); i++)
    if (!start_into (processes, tasks[i], g_variant_new ("(@*)", mp_queue_to_variant (queue)), &error))
      return print_error (argv[0], error);
  if (!join_all (processes, &error))   /* the seed does not join */
    return print_error (argv[0], error);

  printf ("%s\n", mp_queue_empty (queue) ? "True" : "False");   /* print(queue.empty()) */
  return 0;
}
