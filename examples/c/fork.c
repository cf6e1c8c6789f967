/* fork.c: mirrors seed 003 §9.1's os.fork() demo: fork() is called once
 * and returns twice, 0 in the child and the child's PID in the parent.
 * This is the system call under libmp's fork start method; libmp is only
 * initialized here so that the example takes the same option as the
 * others (it does not change what fork() does).
 *
 *   fork [--start-method=fork|spawn|forkserver]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp.h>

/* --start-method=fork|spawn|forkserver. Called after mp_init(), which a
 * spawn child never returns from. */
static void
apply_start_method_option (int    argc,
                           char **argv)
{
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--start-method="))
      {
        const char *name = argv[i] + strlen ("--start-method=");
        MpStartMethod method = g_str_equal (name, "fork") ? MP_START_METHOD_FORK
                             : g_str_equal (name, "spawn") ? MP_START_METHOD_SPAWN
                             : g_str_equal (name, "forkserver") ? MP_START_METHOD_FORKSERVER
                             : MP_START_METHOD_DEFAULT;
        g_autoptr(GError) error = NULL;

        if (method == MP_START_METHOD_DEFAULT)
          g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "unknown start method “%s”", name);
        if (error != NULL || !mp_set_start_method (method, &error))
          {
            g_printerr ("%s: %s\n", argv[0], error->message);
            exit (2);
          }
      }
}

int
main (int    argc,
      char **argv)
{
  pid_t pid;
  int status;

  mp_init (argc, argv);
  apply_start_method_option (argc, argv);

  printf ("Process (%d) start...\n", (int) getpid ());
  /* The child gets a copy of stdout's buffer: flush it first, or that
   * line would be printed twice when stdout is a pipe or a file. */
  fflush (stdout);

  /* Only works on Unix/Linux/Mac: */
  pid = fork ();
  if (pid < 0)
    {
      perror ("fork");
      return 1;
    }
  printf ("fork() returned %d\n", (int) pid);

  if (pid == 0)
    {
      printf ("I am child process (%d) and my parent is %d.\n", (int) getpid (), (int) getppid ());
      return 0;
    }

  printf ("I (%d) just created a child process (%d).\n", (int) getpid (), (int) pid);
  fflush (stdout);

  /* A child that nobody waits for stays a zombie until the parent ends. */
  if (waitpid (pid, &status, 0) < 0)
    {
      perror ("waitpid");
      return 1;
    }
  printf ("Child %d exited with status %d.\n", (int) pid,
          WIFEXITED (status) ? WEXITSTATUS (status) : -WTERMSIG (status));
  return 0;
}
