/* test-util.h: what the C tests share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mp.h>

static const MpStartMethod test_methods[] = {
  MP_START_METHOD_FORK, MP_START_METHOD_SPAWN, MP_START_METHOD_FORKSERVER,
};
static const char *test_method_names[] = { NULL, "fork", "spawn", "forkserver" };

/* Starts @task with @args in @method; any failure fails the test. */
static inline MpProcess *
test_start (MpStartMethod  method,
            const char    *task,
            GVariant      *args)
{
  g_autoptr(GError) error = NULL;
  MpProcess *p = mp_process_new (task, args);

  mp_process_set_start_method (p, method);
  g_assert_true (mp_process_start (p, &error));
  g_assert_no_error (error);
  return p;
}

/* Joins @p, which must end with 0 and no error; the timeout only fires
 * on a bug. */
static inline void
test_join_ok (MpProcess *p)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mp_process_join (p, 120, &error));
  g_assert_true (mp_process_check_error (p, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mp_process_get_exitcode (p), ==, 0);
}

/* Adds @func as /@prefix/<method>/@name for each start method. */
static inline void
test_add_per_method (const char     *prefix,
                     const char     *name,
                     GTestDataFunc   func)
{
  for (guint i = 0; i < G_N_ELEMENTS (test_methods); i++)
    {
      g_autofree char *path = g_strdup_printf ("/%s/%s/%s", prefix,
                                               test_method_names[test_methods[i]], name);
      g_test_add_data_func (path, GINT_TO_POINTER (test_methods[i]), func);
    }
}
