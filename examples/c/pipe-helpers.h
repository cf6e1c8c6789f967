/* pipe-helpers.h: what the Pipe examples (pipe-*.c) share.
 *
 * A pipe end reaches a task as an argument: the parent puts
 * mp_pipe_to_variant (end) in the task's arguments, the child turns it
 * back into an end with mp_pipe_new_from_variant().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>

#include <mp.h>

/* Process(target=task, args=(end,)), started. */
static inline MpProcess *
start_with_pipe (const char  *task,
                 MpPipe      *end,
                 GError     **error)
{
  g_autoptr(MpProcess) p = mp_process_new (task, g_variant_new ("(@(sh))", mp_pipe_to_variant (end)));

  return mp_process_start (p, error) ? g_steal_pointer (&p) : NULL;
}

/* In the task: the pipe end it was given as its first argument. */
static inline MpPipe *
pipe_arg (GVariant  *args,
          GError   **error)
{
  g_autoptr(GVariant) reference = g_variant_get_child_value (args, 0);

  return mp_pipe_new_from_variant (reference, error);
}

/* join(), then the child's error, if it had one. */
static inline gboolean
join_checked (MpProcess  *p,
              GError    **error)
{
  return mp_process_join (p, -1, error) && mp_process_check_error (p, error);
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
