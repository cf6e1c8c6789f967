/* bench-process.c: what one start+join of a child that does nothing
 * costs, per start method, next to the floors the kernel sets
 *
 *   bench-process [--methods fork,forkserver,spawn,baselines]
 *                 [--iterations N] [--spawn-iterations N] [--warmup N]
 *                 [--quick] [--json] [--breakdown]
 *
 * One sample is the whole life of an MpProcess: mp_process_new, choosing
 * the start method, mp_process_start, mp_process_join (-1) and the last
 * unref. The baselines are measured by the same program in the same run:
 *
 *   fork_exit          fork, _exit (0) in the child, waitpid
 *   posix_spawn_true   posix_spawn of /bin/true, waitpid
 *   exec_self          posix_spawn of this program, which exits first thing
 *                      in main (before mp_init): the cost of loading it and
 *                      its libraries, the floor under the spawn method
 *
 * --breakdown also says where the time of a start+join goes: the parent
 * and its children share a page of timestamps (CLOCK_MONOTONIC), written
 * when start() returns, when a spawn child enters main(), when the task
 * runs in the child and when join() returns.
 *
 * run-bench.py runs this program and CPython's multiprocessing in turns
 * and prints the comparison; this program alone prints its own figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mp.h>

#include "bench-util.h"

extern char **environ;

/* Set in the environment of the exec_self baseline's child. */
#define EXIT_AT_MAIN_ENV "MP_BENCH_EXIT_AT_MAIN"
/* With --breakdown: where a spawn child finds the page of timestamps. */
#define STAMPS_ENV "MP_BENCH_STAMPS"

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ---- timestamps shared with the children (--breakdown only) ------------- */

typedef struct
{
  volatile gint64 child_main;   /* a spawn child entered main() */
  volatile gint64 task;         /* the task began in the child */
} Stamps;

static Stamps *stamps;

static Stamps *
map_stamps (int fd)
{
  void *page = mmap (NULL, sizeof (Stamps), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

  return page == MAP_FAILED ? NULL : page;
}

/* Runs first in main, in the parent and in every spawn child. The page is
 * mapped before mp_init so that the forkserver, and so its workers, have
 * it too; a spawn child opens it again through the parent's /proc. */
static void
stamps_setup (int    argc,
              char **argv)
{
  const char *path = getenv (STAMPS_ENV);
  gboolean wanted = FALSE;
  int fd;

  if (path != NULL)
    {
      gint64 t = now_ns ();

      fd = open (path, O_RDWR | O_CLOEXEC);
      if (fd >= 0)
        {
          stamps = map_stamps (fd);
          close (fd);
        }
      if (stamps != NULL)
        stamps->child_main = t;
      return;
    }

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--breakdown") == 0)
      wanted = TRUE;
  if (!wanted)
    return;

  fd = memfd_create ("mp-bench-stamps", MFD_CLOEXEC);
  if (fd < 0 || ftruncate (fd, sizeof (Stamps)) != 0 || (stamps = map_stamps (fd)) == NULL)
    {
      g_printerr ("bench-process: no shared page for --breakdown: %s\n", g_strerror (errno));
      exit (1);
    }
  /* The descriptor stays open for the /proc path to work. */
  {
    g_autofree char *where = g_strdup_printf ("/proc/%d/fd/%d", (int) getpid (), fd);
    g_setenv (STAMPS_ENV, where, TRUE);
  }
}

static GVariant *
task_noop (GVariant      *args,
           GCancellable  *cancellable,
           gpointer       user_data,
           GError       **error)
{
  if (stamps != NULL)
    stamps->task = now_ns ();
  return NULL;
}

/* ---- one start+join per kind of measurement ----------------------------- */

typedef struct
{
  gint64 started;   /* mp_process_start returned */
  gint64 joined;    /* mp_process_join returned */
} Marks;

typedef gboolean (*RunOnce) (gpointer data, Marks *marks, GError **error);

static gboolean
run_libmp (gpointer   data,
           Marks     *marks,
           GError   **error)
{
  MpStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MpProcess) p = mp_process_new ("noop", NULL);

  mp_process_set_start_method (p, method);
  if (!mp_process_start (p, error))
    return FALSE;
  marks->started = now_ns ();
  if (!mp_process_join (p, -1, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "join returned early");
      return FALSE;
    }
  marks->joined = now_ns ();
  if (mp_process_get_exitcode (p) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the child exited with %d", mp_process_get_exitcode (p));
      return FALSE;
    }
  return TRUE;
}

static gboolean
wait_child (pid_t    pid,
            GError **error)
{
  int status = 0;

  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      {
        int errsv = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     "waitpid: %s", g_strerror (errsv));
        return FALSE;
      }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the baseline child ended with status 0x%x", status);
      return FALSE;
    }
  return TRUE;
}

static gboolean
run_fork_exit (gpointer   data,
               Marks     *marks,
               GError   **error)
{
  pid_t pid = fork ();

  if (pid < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "fork: %s", g_strerror (errsv));
      return FALSE;
    }
  if (pid == 0)
    _exit (0);
  return wait_child (pid, error);
}

typedef struct
{
  const char *path;
  char      **argv;
  char      **envp;
} SpawnSpec;

static gboolean
run_posix_spawn (gpointer   data,
                 Marks     *marks,
                 GError   **error)
{
  SpawnSpec *spec = data;
  pid_t pid;
  int r;

  r = posix_spawn (&pid, spec->path, NULL, NULL, spec->argv, spec->envp);
  if (r != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (r),
                   "posix_spawn %s: %s", spec->path, g_strerror (r));
      return FALSE;
    }
  return wait_child (pid, error);
}

/* ---- measuring ---------------------------------------------------------- */

/* The phases of one libmp sample, from just before mp_process_new. */
enum
{
  PHASE_STARTED,      /* mp_process_start returned */
  PHASE_CHILD_MAIN,   /* a spawn child entered main() */
  PHASE_MAIN_TO_TASK, /* from there to the task: mp_init, worker, run message */
  PHASE_TASK,         /* the task began in the child */
  PHASE_TASK_TO_JOIN, /* from the task to join() returning: exit, reaping, notice */
  PHASE_UNREF,        /* the last unref after the join */
  N_PHASES
};

static const char *phase_names[N_PHASES] = {
  "start_returned", "child_main", "main_to_task", "task_began", "task_to_joined", "unref",
};

typedef struct
{
  const char *name;
  const char *kind;      /* "libmp" or "baseline" */
  RunOnce     run;
  gpointer    data;
  guint       iterations;
  guint       warmup;
  GArray     *samples;   /* double, milliseconds */
  GArray     *phases[N_PHASES];   /* double, milliseconds; --breakdown only */
} Measure;

static void
add_phase (Measure *m,
           guint    phase,
           gint64   from,
           gint64   to)
{
  double ms;

  if (from <= 0 || to <= 0)
    return;
  if (m->phases[phase] == NULL)
    m->phases[phase] = g_array_new (FALSE, FALSE, sizeof (double));
  ms = (to - from) / 1e6;
  g_array_append_val (m->phases[phase], ms);
}

static gboolean
measure (Measure  *m,
         GError  **error)
{
  m->samples = g_array_sized_new (FALSE, FALSE, sizeof (double), m->iterations);

  for (guint i = 0; i < m->warmup; i++)
    {
      Marks marks = { 0 };

      if (!m->run (m->data, &marks, error))
        {
          g_prefix_error (error, "%s (warm-up): ", m->name);
          return FALSE;
        }
    }

  for (guint i = 0; i < m->iterations; i++)
    {
      Marks marks = { 0 };
      gint64 start, end;
      double ms;

      if (stamps != NULL)
        stamps->child_main = stamps->task = 0;
      start = now_ns ();
      if (!m->run (m->data, &marks, error))
        {
          g_prefix_error (error, "%s: ", m->name);
          return FALSE;
        }
      end = now_ns ();
      ms = (end - start) / 1e6;
      g_array_append_val (m->samples, ms);

      if (stamps != NULL && marks.started > 0)
        {
          gint64 child_main = stamps->child_main, task = stamps->task;

          add_phase (m, PHASE_STARTED, start, marks.started);
          add_phase (m, PHASE_CHILD_MAIN, start, child_main);
          add_phase (m, PHASE_MAIN_TO_TASK, child_main, task);
          add_phase (m, PHASE_TASK, start, task);
          add_phase (m, PHASE_TASK_TO_JOIN, task, marks.joined);
          add_phase (m, PHASE_UNREF, marks.joined, end);
        }
    }
  return TRUE;
}

static void
append_summary_json (GString *out,
                     GArray  *samples)
{
  Summary s = summarize (samples);

  g_string_append_printf (out, "\"iterations\": %u, \"mean_ms\": %.6f, \"median_ms\": %.6f, "
                               "\"min_ms\": %.6f, \"max_ms\": %.6f, \"stddev_ms\": %.6f",
                          samples->len, s.mean, s.median, s.min, s.max, s.stddev);
}

static void
print_json (Measure *measures,
            guint    n)
{
  g_autoptr(GString) out = g_string_new ("{\"program\": \"libmp\", \"pid\": ");

  g_string_append_printf (out, "%d, \"results\": {", (int) getpid ());
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      gboolean any_phase = FALSE;

      g_string_append_printf (out, "%s\n  \"%s\": {\"kind\": \"%s\", ", i ? "," : "", m->name, m->kind);
      append_summary_json (out, m->samples);
      g_string_append (out, ", \"samples_ms\": [");
      for (guint j = 0; j < m->samples->len; j++)
        g_string_append_printf (out, "%s%.6f", j ? ", " : "", g_array_index (m->samples, double, j));
      g_string_append (out, "]");
      for (guint p = 0; p < N_PHASES; p++)
        {
          if (m->phases[p] == NULL)
            continue;
          g_string_append_printf (out, "%s\"%s\": {", any_phase ? ", " : ", \"breakdown\": {", phase_names[p]);
          append_summary_json (out, m->phases[p]);
          g_string_append (out, "}");
          any_phase = TRUE;
        }
      g_string_append (out, any_phase ? "}}" : "}");
    }
  g_string_append (out, "\n}}\n");
  fputs (out->str, stdout);
}

static void
print_table (Measure *measures,
             guint    n)
{
  g_print ("%-18s %6s %10s %10s %10s %10s\n", "what", "n", "mean ms", "median ms", "min ms", "max ms");
  for (guint i = 0; i < n; i++)
    {
      Summary s = summarize (measures[i].samples);

      g_print ("%-18s %6u %10.3f %10.3f %10.3f %10.3f\n", measures[i].name,
               measures[i].samples->len, s.mean, s.median, s.min, s.max);
    }

  if (stamps == NULL)
    return;
  g_print ("\nWhere the time goes (median ms; each phase from just before mp_process_new,\n"
           "or from the previous event where it says so):\n");
  g_print ("%-12s %9s %9s %9s %9s %9s %9s %9s\n", "method", "start()", "child", "main ->",
           "task", "task ->", "unref", "total");
  g_print ("%-12s %9s %9s %9s %9s %9s %9s %9s\n", "", "returned", "main()", "task",
           "began", "joined", "", "");
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];

      if (m->phases[PHASE_STARTED] == NULL)
        continue;
      g_print ("%-12s", m->name);
      for (guint p = 0; p < N_PHASES; p++)
        if (m->phases[p] != NULL)
          g_print (" %9.3f", summarize (m->phases[p]).median);
        else
          g_print (" %9s", "-");
      g_print (" %9.3f\n", summarize (m->samples).median);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *methods = NULL;
  g_auto(GStrv) wanted = NULL;
  g_autofree char *self_exe = NULL;
  g_autoptr(GArray) measures = NULL;
  int iterations = -1, spawn_iterations = -1, warmup = -1;
  gboolean quick = FALSE, json = FALSE, breakdown = FALSE;
  char *true_argv[] = { (char *) "/bin/true", NULL };
  char *self_argv[] = { NULL, NULL };
  g_auto(GStrv) self_envp = NULL;
  SpawnSpec true_spec, self_spec;
  GOptionEntry entries[] = {
    { "methods", 'm', 0, G_OPTION_ARG_STRING, &methods,
      "What to measure, comma-separated: fork, forkserver, spawn, baselines "
      "(= fork_exit, posix_spawn_true, exec_self; each can be named alone) (default: all)", "LIST" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations,
      "Timed start+joins per method (default: 200; 100 for spawn)", "N" },
    { "spawn-iterations", 0, 0, G_OPTION_ARG_INT, &spawn_iterations,
      "Timed start+joins for spawn and exec_self (default: --iterations, or 100)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "Untimed start+joins before each measurement (default: 5)", "N" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
      "A few iterations only: checks that everything runs, measures nothing", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "Print the results as JSON (with every sample)", NULL },
    { "breakdown", 'b', 0, G_OPTION_ARG_NONE, &breakdown,
      "Also time the phases of each start+join (a shared page of timestamps)", NULL },
    { NULL }
  };

  /* The exec_self baseline's child: the program is loaded, main runs. */
  if (getenv (EXIT_AT_MAIN_ENV) != NULL)
    _exit (0);
  stamps_setup (argc, argv);

  mp_register_task ("noop", task_noop, NULL, NULL);
  /* A spawn child never returns from here: it becomes the worker. */
  mp_init (argc, argv);

  context = g_option_context_new ("- time start+join of a child that does nothing");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (quick)
    {
      if (iterations < 0)
        iterations = 3;
      if (warmup < 0)
        warmup = 1;
    }
  if (warmup < 0)
    warmup = 5;
  if (spawn_iterations < 0)
    spawn_iterations = iterations >= 0 ? iterations : 100;
  if (iterations < 0)
    iterations = 200;

  wanted = g_strsplit (methods ? methods : "fork,forkserver,spawn,baselines", ",", -1);

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  self_argv[0] = self_exe ? self_exe : argv[0];
  self_envp = g_environ_setenv (g_get_environ (), EXIT_AT_MAIN_ENV, "1", TRUE);
  true_spec = (SpawnSpec) { "/bin/true", true_argv, environ };
  self_spec = (SpawnSpec) { self_argv[0], self_argv, self_envp };

  measures = g_array_new (FALSE, TRUE, sizeof (Measure));
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      const char *w = g_strstrip (wanted[i]);
      Measure m = { 0 };

      m.warmup = warmup;
      m.iterations = iterations;
      m.kind = "libmp";
      m.run = run_libmp;
      if (g_str_equal (w, "fork"))
        {
          m.name = "fork";
          m.data = GINT_TO_POINTER (MP_START_METHOD_FORK);
        }
      else if (g_str_equal (w, "forkserver"))
        {
          m.name = "forkserver";
          m.data = GINT_TO_POINTER (MP_START_METHOD_FORKSERVER);
        }
      else if (g_str_equal (w, "spawn"))
        {
          m.name = "spawn";
          m.data = GINT_TO_POINTER (MP_START_METHOD_SPAWN);
          m.iterations = spawn_iterations;
        }
      else if (g_str_equal (w, "baselines") || g_str_equal (w, "fork_exit") ||
               g_str_equal (w, "posix_spawn_true") || g_str_equal (w, "exec_self"))
        {
          gboolean all = g_str_equal (w, "baselines");

          m.kind = "baseline";
          if (all || g_str_equal (w, "fork_exit"))
            {
              m.name = "fork_exit";
              m.run = run_fork_exit;
              g_array_append_val (measures, m);
            }
          if (all || g_str_equal (w, "posix_spawn_true"))
            {
              m.name = "posix_spawn_true";
              m.run = run_posix_spawn;
              m.data = &true_spec;
              g_array_append_val (measures, m);
            }
          if (all || g_str_equal (w, "exec_self"))
            {
              m.name = "exec_self";
              m.run = run_posix_spawn;
              m.data = &self_spec;
              m.iterations = spawn_iterations;
              g_array_append_val (measures, m);
            }
          continue;
        }
      else
        {
          g_printerr ("Unknown method “%s” (fork, forkserver, spawn, baselines, "
                      "or one baseline: fork_exit, posix_spawn_true, exec_self)\n", w);
          return 2;
        }
      g_array_append_val (measures, m);
    }

  for (guint i = 0; i < measures->len; i++)
    if (!measure (&g_array_index (measures, Measure, i), &error))
      {
        g_printerr ("bench-process: %s\n", error->message);
        return 1;
      }

  if (json)
    print_json ((Measure *) measures->data, measures->len);
  else
    print_table ((Measure *) measures->data, measures->len);

  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = &g_array_index (measures, Measure, i);

      g_array_unref (m->samples);
      for (guint p = 0; p < N_PHASES; p++)
        g_clear_pointer (&m->phases[p], g_array_unref);
    }
  return 0;
}
