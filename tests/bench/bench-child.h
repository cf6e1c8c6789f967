/* bench-child.h: a benchmark's partner process, with a pipe of its own
 * for "ready" and its report
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mp.h>

typedef struct
{
  MpProcess *process;
  MpPipe    *mine;
} Child;

/* Starts @task with the arguments (@head, the child's pipe end, @rest...):
 * @head is left out when %NULL, @rest is a tuple (adopted) whose members
 * follow. */
static inline gboolean
child_start (Child          *child,
             const char     *task,
             GVariant       *head,
             GVariant       *rest,
             MpStartMethod   method,
             GError        **error)
{
  g_autoptr(MpPipe) theirs = NULL;
  g_autoptr(GVariant) extra = g_variant_ref_sink (rest);
  GVariantBuilder b;

  if (!mp_pipe_new_pair (TRUE, &child->mine, &theirs, error))
    return FALSE;
  g_variant_builder_init (&b, G_VARIANT_TYPE_TUPLE);
  if (head != NULL)
    g_variant_builder_add_value (&b, head);
  g_variant_builder_add_value (&b, mp_pipe_to_variant (theirs));
  for (gsize i = 0; i < g_variant_n_children (extra); i++)
    {
      g_autoptr(GVariant) x = g_variant_get_child_value (extra, i);
      g_variant_builder_add_value (&b, x);
    }
  child->process = mp_process_new (task, g_variant_builder_end (&b));
  mp_process_set_start_method (child->process, method);
  return mp_process_start (child->process, error);
}

static inline gboolean
child_expect_ready (Child   *child,
                    GError **error)
{
  g_autoptr(GVariant) ready = mp_pipe_recv (child->mine, G_VARIANT_TYPE_STRING, NULL, error);

  return ready != NULL;
}

/* Joins the child; with @ok FALSE, ends it first and only cleans up. */
static inline gboolean
child_finish (Child     *child,
              gboolean   ok,
              GError   **error)
{
  if (child->process == NULL)
    return ok;
  if (!ok)
    {
      if (mp_process_is_alive (child->process))
        mp_process_kill (child->process, NULL);
      mp_process_join (child->process, 5, NULL);
    }
  else if (!mp_process_join (child->process, -1, error) || !mp_process_check_error (child->process, error))
    ok = FALSE;
  else if (mp_process_get_exitcode (child->process) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the %s child exited with %d",
                   mp_process_get_task_name (child->process), mp_process_get_exitcode (child->process));
      ok = FALSE;
    }
  g_clear_object (&child->mine);
  g_clear_object (&child->process);
  return ok;
}
