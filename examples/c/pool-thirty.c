/* pool-thirty.c: mirrors seed 004 "进程池": a pool of 3 processes prints
 * the numbers 0 to 29, one apply_async(f, (i,)) each; f prints its
 * number and a space, without a newline. After close() and join() all
 * thirty are on one line, in the order the workers ran them; the parent
 * ends it and prints "Done." (the seed ends there, in its screenshot at
 * the shell prompt).
 *
 * The seed passes no callback and so never sees a call fail. Here each
 * apply_async() has one that checks the result: a failure is printed and
 * the exit status is 1. The callbacks come in this thread's main context,
 * so a main loop runs until the pool is joined (mp_pool_join_async())
 * and every callback has run.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./pool-thirty
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "example-helpers.h"

#define N_CALLS 30

/* def f(i): print(i, end=' ') */
static GVariant *
f (GVariant      *args,
   GCancellable  *cancellable,
   gpointer       user_data,
   GError       **error)
{
  int i;

  g_variant_get (args, "(i)", &i);
  printf ("%d ", i);
  fflush (stdout);   /* no newline: without this the number would wait in the buffer */
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
call_done (GObject      *pool,
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
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  State state = { 0 };

  mp_register_task ("f", f, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  if (!(pool = mp_pool_new (3, &error)))   /* 初始化一个 3 个进程的进程池 */
    return print_error (argv[0], error);

  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  for (int i = 0; i < N_CALLS; i++)
    {
      state.pending++;
      /* 调用 apply 方法开始处理任务，传入任务处理函数 f，和参数 i */
      mp_pool_apply_async (pool, "f", g_variant_new ("(i)", i), NULL, call_done, &state);
    }
  mp_pool_close (pool);
  mp_pool_join_async (pool, NULL, joined, &state);
  g_main_loop_run (loop);

  printf ("\n");   /* ends the line of numbers */
  if (state.error != NULL)
    {
      error = state.error;
      return print_error (argv[0], error);
    }
  printf ("Done.\n");
  return 0;
}
