/* pool-long-task.c: mirrors seed 000's 进程池 example: a Pool(4) gets five
 * long_time_task calls through apply_async(), so the fifth waits for a
 * free worker; close() and join() wait for them all.
 *
 * Each task prints its number and its worker's pid, sleeps a random time
 * (random() * 0.3 s here, against the seed's 3 s, to keep the test short)
 * and prints how long it ran.
 *
 * The seed passes no callback and so never sees a task fail. Here each
 * apply_async() has one that checks the result: a failure is printed and
 * the exit status is 1. The callbacks come in this thread's main context,
 * so a main loop runs until the pool is joined (mp_pool_join_async())
 * and every callback has run.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-long-task
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include "example-helpers.h"

#define N_TASKS 5

static GVariant *
long_time_task (GVariant      *args,
                GCancellable  *cancellable,
                gpointer       user_data,
                GError       **error)
{
  int name;
  gint64 start, end;

  g_variant_get (args, "(i)", &name);
  printf ("Run task %d (%d)...\n", name, (int) getpid ());
  fflush (stdout);   /* the other workers and the parent print too */
  start = g_get_monotonic_time ();
  g_usleep ((gulong) (g_random_double () * 0.3 * G_USEC_PER_SEC));
  end = g_get_monotonic_time ();
  printf ("Task %d runs %0.2f seconds.\n", name, (double) (end - start) / G_USEC_PER_SEC);
  fflush (stdout);
  return NULL;
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

static void
task_done (GObject      *pool,
           GAsyncResult *result,
           gpointer      data)
{
  State *state = data;
  g_autoptr(GVariant) value = NULL;
  GError *error = NULL;

  if (!(value = mp_pool_apply_finish (MP_POOL (pool), result, &error)))
    {
      if (state->error == NULL)
        state->error = error;
      else
        g_error_free (error);
    }
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
  g_autoptr(MpPool) p = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  State state = { 0 };

  mp_register_task ("long_time_task", long_time_task, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  printf ("Parent process %d.\n", (int) getpid ());
  fflush (stdout);
  if (!(p = mp_pool_new (4, &error)))   /* 实例化进程池并指定同时执行的子进程数量 */
    return print_error (argv[0], error);

  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  for (int i = 0; i < N_TASKS; i++)   /* 这里指定5，所以第五个任务不是与前四个同时执行 */
    {
      state.pending++;
      mp_pool_apply_async (p, "long_time_task", g_variant_new ("(i)", i), NULL, task_done, &state);
    }
  printf ("Waiting for all subprocesses done...\n");
  fflush (stdout);
  mp_pool_close (p);
  mp_pool_join_async (p, NULL, joined, &state);
  g_main_loop_run (loop);

  if (state.error != NULL)
    {
      error = state.error;
      return print_error (argv[0], error);
    }
  printf ("All subprocesses done.\n");
  return 0;
}
