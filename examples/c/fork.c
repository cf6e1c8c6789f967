/* fork.c: mirrors seed 003 §9.1's os.fork() demo: fork() is called once
 * and returns twice, 0 in the child and the child's PID in the parent.
 * This is the system call under libmp's fork start method. mp_init() is
 * called as in the other examples: fork() works as usual in a program
 * that uses libmp, whatever MP_START_METHOD says.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp.h>

int
main (int    argc,
      char **argv)
{
  pid_t pid;
  int status;

  mp_init (argc, argv);

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
