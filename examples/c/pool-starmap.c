/* pool-starmap.c: mirrors seed 002 "使用 Pool 实现多进程的步骤": the task
 * function func(a, b) takes several arguments, so it goes through
 * starmap() (each item is a tuple of arguments) instead of map(); then
 * through starmap_async(), its asynchronous form; then close() and
 * join(). The seed's func(x, y) returns x + y; over ((1, 2), (3, 4),
 * (5, 6)) both give [3, 7, 11].
 *
 * (The seed writes pool.starmap(...).get(): starmap() gives the list
 * itself; .get() belongs to starmap_async()'s result.) In C the
 * asynchronous result comes to a callback in this thread's main context,
 * with mp_pool_starmap_finish(); a main loop runs until then.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-starmap
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

/* def func(a, b): return a + b */
static GVariant *
func (GVariant      *args,
      GCancellable  *cancellable,
      gpointer       user_data,
      GError       **error)
{
  gint64 a, b;

  g_variant_get (args, "(xx)", &a, &b);
  return g_variant_new_int64 (a + b);
}

/* print(label, result): the list as Python prints it */
static void
print_result (const char *label,
              GVariant   *result)
{
  g_autofree char *text = g_variant_print (result, FALSE);

  printf ("%s %s\n", label, text);
  fflush (stdout);
}

typedef struct
{
  GMainLoop *loop;
  GVariant  *result;
  GError    *error;
} AsyncCall;

static void
starmap_done (GObject      *pool,
              GAsyncResult *result,
              gpointer      data)
{
  AsyncCall *call = data;

  call->result = mp_pool_starmap_finish (MP_POOL (pool), result, &call->error);
  g_main_loop_quit (call->loop);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  AsyncCall call = { 0 };

  mp_register_task ("func", func, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  /* 实例化一个进程池: multiprocessing.Pool() has cpu_count() workers */
  if (!(pool = mp_pool_new (0, &error)))
    return print_error (argv[0], error);
  items = g_variant_ref_sink (g_variant_new_parsed ("[(int64 1, int64 2), (3, 4), (5, 6)]"));

  /* (2) starmap: blocks until every call is done */
  if (!(result = mp_pool_starmap (pool, "func", items, 0, NULL, &error)))
    return print_error (argv[0], error);
  print_result ("starmap:", result);

  /* (3) starmap_async: the results come to a callback */
  loop = g_main_loop_new (NULL, FALSE);
  call.loop = loop;
  mp_pool_starmap_async (pool, "func", items, 0, NULL, starmap_done, &call);
  g_main_loop_run (loop);
  if (call.result == NULL)
    {
      error = call.error;
      return print_error (argv[0], error);
    }
  g_clear_pointer (&result, g_variant_unref);
  result = call.result;
  print_result ("starmap_async:", result);

  mp_pool_close (pool);
  if (!mp_pool_join (pool, -1, NULL, &error))
    return print_error (argv[0], error);
  return 0;
}
