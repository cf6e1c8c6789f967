/* bench-util.h: what the C benchmarks share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <math.h>

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

typedef struct
{
  double mean, median, min, max, stddev;
} Summary;

static Summary
summarize (GArray *samples)
{
  Summary s = { 0 };
  g_autoptr(GArray) sorted = NULL;
  guint n = samples != NULL ? samples->len : 0;

  if (n == 0)
    return s;
  sorted = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
  g_array_append_vals (sorted, samples->data, n);
  g_array_sort (sorted, compare_doubles);

  for (guint i = 0; i < n; i++)
    s.mean += g_array_index (sorted, double, i);
  s.mean /= n;
  s.median = n % 2 ? g_array_index (sorted, double, n / 2)
                   : (g_array_index (sorted, double, n / 2 - 1) + g_array_index (sorted, double, n / 2)) / 2;
  s.min = g_array_index (sorted, double, 0);
  s.max = g_array_index (sorted, double, n - 1);
  for (guint i = 0; i < n; i++)
    {
      double d = g_array_index (sorted, double, i) - s.mean;
      s.stddev += d * d;
    }
  s.stddev = n > 1 ? sqrt (s.stddev / (n - 1)) : 0;
  return s;
}
