/* example-helpers.h: what the Pipe and Queue examples (pipe-*.c,
 * queue-*.c) share.
 *
 * A pipe end or a queue reaches a task as an argument: the parent puts
 * mp_pipe_to_variant (end) or mp_queue_to_variant (queue) in the task's
 * arguments (the format "@*" takes it whatever its type), the child turns
 * it back into an object with mp_pipe_new_from_variant() or
 * mp_queue_new_from_variant().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>

#include <mp.h>

/* Process(target=task, args=args), started. */
static inline MpProcess *
start_process (const char  *task,
               GVariant    *args,
               GError     **error)
{
  g_autoptr(MpProcess) p = mp_process_new (task, args);

  return mp_process_start (p, error) ? g_steal_pointer (&p) : NULL;
}

/* Process(target=task, args=(end,)), started. */
static inline MpProcess *
start_with_pipe (const char  *task,
                 MpPipe      *end,
                 GError     **error)
{
  return start_process (task, g_variant_new ("(@*)", mp_pipe_to_variant (end)), error);
}

/* In the task: the pipe end it was given as its first argument. */
static inline MpPipe *
pipe_arg (GVariant  *args,
          GError   **error)
{
  g_autoptr(GVariant) reference = g_variant_get_child_value (args, 0);

  return mp_pipe_new_from_variant (reference, error);
}

/* In the task: the queue it was given as its first argument. */
static inline MpQueue *
queue_arg (GVariant  *args,
           GError   **error)
{
  g_autoptr(GVariant) reference = g_variant_get_child_value (args, 0);

  return mp_queue_new_from_variant (reference, error);
}

/* join(), then the child's error, if it had one. */
static inline gboolean
join_checked (MpProcess  *p,
              GError    **error)
{
  return mp_process_join (p, -1, error) && mp_process_check_error (p, error);
}

/* Process(target=task, args=args).start(), then processes.append(p):
 * the seeds keep their processes in a list to join them. */
static inline gboolean
start_into (GPtrArray   *processes,
            const char  *task,
            GVariant    *args,
            GError     **error)
{
  MpProcess *p = start_process (task, args, error);

  if (p != NULL)
    g_ptr_array_add (processes, p);
  return p != NULL;
}

/* A list for start_into(), that unrefs its processes when freed. */
static inline GPtrArray *
process_list_new (void)
{
  return g_ptr_array_new_with_free_func (g_object_unref);
}

/* for p in processes: p.join(), then the child's error, if it had one. */
static inline gboolean
join_all (GPtrArray  *processes,
          GError    **error)
{
  for (guint i = 0; i < processes->len; i++)
    if (!join_checked (g_ptr_array_index (processes, i), error))
      return FALSE;
  return TRUE;
}

/* print(label, value), flushed: another process may print next. */
static inline void
show (const char *label,
      GVariant   *value)
{
  g_autofree char *text = g_variant_print (value, FALSE);

  printf ("%s %s\n", label, text);
  fflush (stdout);
}

/* main()'s way out on an error: says what it was, gives the exit status. */
static inline int
print_error (const char *program,
             GError     *error)
{
  g_printerr ("%s: %s\n", program, error->message);
  return 1;
}
