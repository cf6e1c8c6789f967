/* mp-fork.c: every fork libmp makes, through a binding's function if set
 *
 * libmp forks in C (the fork start method, the forkserver and the
 * workers it forks), called from a binding that released its
 * interpreter's lock for the call. A plain fork() then leaves Python's
 * GIL as another thread held it, owned by a thread that does not exist
 * in the child, which hangs on its first Python call; and Python's
 * at-fork bookkeeping (os.register_at_fork() handlers: random's reseed,
 * threading's cleanup) never runs. A binding that forks through its
 * own os.fork() has neither problem, so it can hand libmp that.
 * (Prepare/parent/child hooks around our own fork() cannot do it from
 * Python: PyGObject releases the GIL when a callback returns, whatever
 * the callback took, so the GIL would be free again at the fork.)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "mp-fork.h"
#include "mp-fork-private.h"

/* The function set, with its data: shared by mp_fork() calls in flight,
 * so that replacing it never frees data a fork is using. */
typedef struct
{
  gint            ref_count;
  MpForkFunc      func;
  gpointer        data;
  GDestroyNotify  destroy;
} ForkFunc;

static GMutex fork_lock;
static ForkFunc *fork_func;   /* under fork_lock */

static void
fork_func_unref (ForkFunc *f)
{
  if (f == NULL || !g_atomic_int_dec_and_test (&f->ref_count))
    return;
  if (f->destroy != NULL)
    f->destroy (f->data);
  g_free (f);
}

/**
 * mp_set_fork_func:
 * @func: (nullable) (scope notified) (closure user_data) (destroy destroy):
 *   how to fork, or %NULL for fork()
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * For language bindings: makes libmp fork through @func instead of
 * fork(), wherever it forks (the fork start method, and the forkserver
 * and its workers). An interpreter with a global lock needs it: libmp
 * is called with that lock released, so a plain fork() can copy it as
 * another thread holds it, and the child hangs on its first call into
 * the language. Python's override passes os.fork(), which also runs
 * os.register_at_fork() handlers, as multiprocessing's fork does.
 *
 * Call it before libmp forks (before mp_init(), which forks the
 * forkserver); it replaces the function set before.
 */
void
mp_set_fork_func (MpForkFunc     func,
                  gpointer       user_data,
                  GDestroyNotify destroy)
{
  ForkFunc *f = NULL, *old;

  if (func != NULL)
    {
      f = g_new0 (ForkFunc, 1);
      f->ref_count = 1;
      f->func = func;
      f->data = user_data;
      f->destroy = destroy;
    }
  g_mutex_lock (&fork_lock);
  old = fork_func;
  fork_func = f;
  g_mutex_unlock (&fork_lock);
  fork_func_unref (old);
}

/* Like fork(), with @error set on failure (its message is the reason
 * alone: callers say what they were doing) and errno set too. */
pid_t
mp_fork (GError **error)
{
  ForkFunc *f;
  pid_t parent = getpid ();
  GError *local_error = NULL;
  siginfo_t info = { 0 };
  pid_t pid;

  /* Not held across the fork: the child would inherit it taken. */
  g_mutex_lock (&fork_lock);
  f = fork_func;
  if (f != NULL)
    g_atomic_int_inc (&f->ref_count);
  g_mutex_unlock (&fork_lock);

  if (f == NULL)
    {
      pid = fork ();
      if (pid < 0)
        {
          int errsv = errno;
          g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                               g_strerror (errsv));
          errno = errsv;
        }
      return pid;
    }

  errno = 0;
  pid = f->func (f->data, &local_error);
  if (pid == 0 && getpid () != parent)
    {
      /* The child: the lock may have been held by another thread. */
      g_mutex_init (&fork_lock);
      g_clear_error (&local_error);
      return 0;
    }
  fork_func_unref (f);
  /* A binding returns 0 with no error when its code failed in a way it
   * could not report (PyGObject does for any exception but GLib.Error,
   * and returns whatever without calling Python at all once the
   * interpreter is finalizing): in this same process that is no child,
   * and neither is a pid that is not our child's. */
  if (pid > 0 && waitid (P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0)
    {
      g_clear_error (&local_error);
      return pid;
    }
  if (local_error == NULL)
    local_error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                       _("The fork function made no child"));
  g_propagate_error (error, local_error);
  /* The forkserver passes errno on; fork() fails for want of resources. */
  if (errno == 0)
    errno = EAGAIN;
  return -1;
}
