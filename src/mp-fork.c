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
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "mp-fork.h"
#include "mp-fork-private.h"

G_LOCK_DEFINE_STATIC (fork_func);
static MpForkFunc fork_func;
static gpointer fork_data;
static GDestroyNotify fork_destroy;

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
  gpointer old_data;
  GDestroyNotify old_destroy;

  G_LOCK (fork_func);
  old_data = fork_data;
  old_destroy = fork_destroy;
  fork_func = func;
  fork_data = func != NULL ? user_data : NULL;
  fork_destroy = func != NULL ? destroy : NULL;
  G_UNLOCK (fork_func);

  if (old_destroy != NULL)
    old_destroy (old_data);
}

/* Like fork(), with @error set on failure (its message is the reason
 * alone: callers say what they were doing) and errno set too. */
pid_t
mp_fork (GError **error)
{
  MpForkFunc func;
  gpointer data;
  pid_t parent = getpid ();
  GError *local_error = NULL;
  pid_t pid;

  /* Not held across the fork: the child would inherit it taken. */
  G_LOCK (fork_func);
  func = fork_func;
  data = fork_data;
  G_UNLOCK (fork_func);

  if (func == NULL)
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
  pid = func (data, &local_error);
  /* A binding returns 0 with no error when its code failed in a way it
   * could not report (PyGObject does for any exception but GLib.Error):
   * in this same process that is no child. */
  if (pid > 0 || (pid == 0 && getpid () != parent))
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
