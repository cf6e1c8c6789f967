/* pool-callback.c: mirrors seed 003 §9.6 "进程池": a Pool(4) gets five
 * task calls through apply_async() with a callback, which gets the task's
 * return value (its number) in the parent; close() and join() wait for
 * them all.
 *
 * Each task prints its number and its worker's pid, sleeps a random time
 * (random() * 0.3 s here, against the seed's 3 s, to keep the test short),
 * prints how long it ran and returns its number. The callback prints
 * "callback <number>" (the seed prints the bare number).
 *
 * Python runs the callbacks on a thread of the pool; libmp delivers them
 * in the thread-default main context of the caller, so a main loop runs
 * here until the pool is joined (mp_pool_join_async()) and every
 * callback has run. A failed task is printed and makes the exit status 1
 * (Python would call its error_callback).
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include "example-helpers.h"

#define N_TASKS 5

static GVariant *
task (GVariant      *args,
      GCancellable  *cancellable,
      gpointer       user_data,
      GError       **error)
{
  int num;
  gint64 start, end;

  g_variant_get (args, "(i)", &num);
  printf ("Run task %d (%d)...\n", num, (int) getpid ());
  fflush (stdout);   /* the other workers and the parent print too */
  start = g_get_monotonic_time ();
  g_usleep ((gulong) (g_random_double () * 0.3 * G_USEC_PER_SEC));
  end = g_get_monotonic_time ();
  printf ("Task %d runs %.2f seconds.\n", num, (double) (end - start) / G_USEC_PER_SEC);
  fflush (stdout);
  return g_variant_new_int32 (num);
}

typedef struct
{
  GMainLoop *loop;
  int        pending;   /* apply_async() calls whose callback has not run */
  gboolean   joined;
  GError    *error;     /* the first failure */
} State;

static void
maybe_quit (State *state)
{
  if (state->pending == 0 && state->joined)
    g_main_loop_quit (state->loop);
}

/* The seed's callback(num): runs in the parent with the task's result. */
static void
callback (GObject      *pool,
          GAsyncResult *result,
          gpointer      data)
{
  State *state = data;
  g_autoptr(GVariant) num = NULL;
  GError *error = NULL;

  if ((num = mp_pool_apply_finish (MP_POOL (pool), result, &error)))
    {
      printf ("callback %d\n", g_variant_get_int32 (num));
      fflush (stdout);
    }
  else if (state->error == NULL)
    state->error = error;
  else
    g_error_free (error);
  state->pending--;
  maybe_quit (state);
}

static void
joined (GObject      *pool,
        GAsyncResult *result,
        gpointer      data)
{
  State *state = data;
  GError *error = NULL;

  if (!mp_pool_join_finish (MP_POOL (pool), result, &error))
    {
      g_clear_error (&state->error);
      state->error = error;
      g_main_loop_quit (state->loop);
      return;
    }
  state->joined = TRUE;
  maybe_quit (state);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  State state = { 0 };

  mp_register_task ("task", task, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  printf ("cpu count: %u\n", mp_cpu_count ());   /* 获取cpu核心数 */
  printf ("Parent process %d\n", (int) getpid ());
  fflush (stdout);
  /* 创建进程池，一般进程池中的进程数不超过cpu核心数 */
  if (!(pool = mp_pool_new (4, &error)))
    return print_error (argv[0], error);

  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  for (int i = 0; i < N_TASKS; i++)   /* 循环创建进程并添加到进程池中 */
    {
      state.pending++;
      mp_pool_apply_async (pool, "task", g_variant_new ("(i)", i), NULL, callback, &state);
    }
  printf ("Waiting for all subprocess done...\n");
  fflush (stdout);
  mp_pool_close (pool);   /* 关闭进程池，关闭后就不能添加进程了 */
  mp_pool_join_async (pool, NULL, joined, &state);   /* 等待进程结束 */
  g_main_loop_run (loop);

  if (state.error != NULL)
    {
      error = state.error;
      return print_error (argv[0], error);
    }
  printf ("All subprocess done.\n");
  return 0;
}
