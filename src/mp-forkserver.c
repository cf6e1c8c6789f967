/* mp-forkserver.c: a server forked inside mp_init() that forks workers
 *
 * mp_init() forks the server while the program still has one thread, so
 * every worker it forks starts from a clean, single-threaded copy of the
 * program with its tasks and types registered, at the cost of one fork.
 *
 * A request carries two descriptors: the worker's end of its channel,
 * and a status socket on which the server answers with the worker's pid
 * and, once it has reaped the worker, its exit code. A spare worker,
 * forked ahead of time, takes each request, so the fork is not on the
 * path of mp_process_start().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-fork-private.h"
#include "mp-forkserver-private.h"
#include "mp-runtime-private.h"
#include "mp-worker-private.h"

static MpChannel *control;   /* client side; NULL when no server runs */
static struct sigaction program_sigint;  /* restored in every worker */

typedef struct
{
  pid_t      pid;
  int        pidfd;
  MpChannel *status;   /* NULL for the spare */
} Worker;

/* The server's state. One worker is forked ahead of time and waits for
 * its channel, so that a request costs a message, not a fork: the next
 * spare is forked after the answer has gone out. */
typedef struct
{
  pid_t      client_pid;
  MpChannel *control;
  GArray    *workers;
  Worker     spare;
  MpChannel *spare_feed;   /* server end of the spare's socket */
} Server;

static void
send_int (MpChannel  *status,
          MpWireKind  kind,
          int         value)
{
  g_autoptr(MpMessage) message = mp_message_new (kind, g_variant_new ("(i)", value));

  /* A client that went away does not care; nothing else to do. */
  mp_channel_send (status, message, NULL, NULL);
}

/* In a new child: keep nothing of the server. Other workers' status
 * sockets would otherwise hide the server's death from their clients. */
static void
forget_server (Server *server)
{
  close (mp_channel_get_fd (server->control));
  for (guint i = 0; i < server->workers->len; i++)
    {
      Worker *w = &g_array_index (server->workers, Worker, i);
      close (w->pidfd);
      close (mp_channel_get_fd (w->status));
    }
  sigaction (SIGINT, &program_sigint, NULL);
}

G_NORETURN static void
spare_main (Server *server,
            int     feed_fd,
            pid_t   server_pid)
{
  g_autoptr(MpChannel) feed = NULL;
  g_autoptr(MpMessage) message = NULL;

  mp_child_setup_parent_death (server_pid);
  forget_server (server);
  feed = mp_channel_new (feed_fd);
  message = mp_channel_receive (feed, -1, NULL, NULL);
  if (message == NULL || mp_message_get_n_fds (message) != 1)
    _exit (0);   /* the server is gone, or retired us */
  mp_worker_main (mp_message_steal_fd (message, 0), server_pid, server->client_pid, FALSE);
}

static void
fork_spare (Server *server)
{
  pid_t server_pid = getpid ();
  int fds[2];
  pid_t pid;

  if (!mp_socket_pair (fds, NULL))
    return;
  /* Through the binding's fork too: each worker then runs the
   * language's after-fork handlers (Python reseeds random), as the
   * children of Python's forkserver do. */
  pid = mp_fork (NULL);
  if (pid == 0)
    {
      close (fds[0]);
      spare_main (server, fds[1], server_pid);
    }
  close (fds[1]);
  if (pid < 0)
    {
      close (fds[0]);
      return;
    }
  server->spare.pid = pid;
  server->spare.pidfd = mp_pidfd_open (pid);
  server->spare.status = NULL;
  server->spare_feed = mp_channel_new (fds[0]);
}

static void
serve_request (Server *server)
{
  g_autoptr(MpMessage) message = NULL;
  g_autoptr(MpMessage) feed = NULL;
  g_autoptr(GError) error = NULL;
  Worker worker;

  message = mp_channel_receive (server->control, 0, NULL, &error);
  if (message == NULL)
    {
      /* Nothing there after all, or the client is gone (or sent garbage):
       * in the latter cases so is our reason to be. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return;
      _exit (0);
    }
  if (message->kind != MP_WIRE_KIND_FORK_REQUEST || mp_message_get_n_fds (message) != 2)
    return;

  if (server->spare.pid <= 0)
    fork_spare (server);
  if (server->spare.pid <= 0)
    {
      g_autoptr(MpChannel) status = mp_channel_new (mp_message_steal_fd (message, 1));
      send_int (status, MP_WIRE_KIND_FORKED, -errno);
      return;
    }

  /* Hand the worker's channel to the spare: it becomes the worker. */
  feed = mp_message_new (MP_WIRE_KIND_RUN, NULL);
  mp_message_add_fd (feed, mp_message_steal_fd (message, 0));
  mp_channel_send (server->spare_feed, feed, NULL, NULL);
  g_clear_object (&server->spare_feed);

  worker = server->spare;
  worker.status = mp_channel_new (mp_message_steal_fd (message, 1));
  send_int (worker.status, MP_WIRE_KIND_FORKED, worker.pid);
  g_array_append_val (server->workers, worker);

  server->spare.pid = 0;
  fork_spare (server);
}

G_NORETURN static void
serve (int   fd,
       pid_t client_pid)
{
  Server server = { 0 };
  g_autoptr(GArray) pfds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));

  server.client_pid = client_pid;
  server.control = mp_channel_new (fd);
  server.workers = g_array_new (FALSE, FALSE, sizeof (Worker));
  fork_spare (&server);

  for (;;)
    {
      struct pollfd control_pfd = { fd, POLLIN, 0 };
      struct pollfd spare_pfd = { server.spare.pid > 0 ? server.spare.pidfd : -1, POLLIN, 0 };

      g_array_set_size (pfds, 0);
      g_array_append_val (pfds, control_pfd);
      g_array_append_val (pfds, spare_pfd);
      for (guint i = 0; i < server.workers->len; i++)
        {
          struct pollfd p = { g_array_index (server.workers, Worker, i).pidfd, POLLIN, 0 };
          g_array_append_val (pfds, p);
        }

      if (poll ((struct pollfd *) pfds->data, pfds->len, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          _exit (1);
        }

      /* Reap first, from the end so that removal keeps indices valid. */
      for (guint i = server.workers->len; i > 0; i--)
        {
          struct pollfd *p = &g_array_index (pfds, struct pollfd, i + 1);
          Worker *w = &g_array_index (server.workers, Worker, i - 1);
          int code;

          if (p->revents == 0)
            continue;
          if (!mp_pidfd_wait (w->pidfd, FALSE, &code))
            continue;
          send_int (w->status, MP_WIRE_KIND_EXITED, code);
          close (w->pidfd);
          g_object_unref (w->status);
          g_array_remove_index (server.workers, i - 1);
        }

      /* A spare that died (someone killed it) is replaced. */
      if (g_array_index (pfds, struct pollfd, 1).revents != 0)
        {
          int code;
          if (mp_pidfd_wait (server.spare.pidfd, FALSE, &code))
            {
              close (server.spare.pidfd);
              g_clear_object (&server.spare_feed);
              server.spare.pid = 0;
              fork_spare (&server);
            }
        }

      {
        struct pollfd *p = &g_array_index (pfds, struct pollfd, 0);
        if (p->revents & (POLLHUP | POLLERR | POLLNVAL))
          _exit (0);
        if (p->revents & POLLIN)
          serve_request (&server);
      }
    }
}

gboolean
mp_forkserver_launch (GError **error)
{
  int fds[2];
  pid_t client = getpid ();
  pid_t pid;

  if (!mp_socket_pair (fds, error))
    return FALSE;

  pid = mp_fork (error);
  if (pid < 0)
    {
      close (fds[0]);
      close (fds[1]);
      g_prefix_error (error, _("Could not start the forkserver: "));
      return FALSE;
    }
  if (pid == 0)
    {
      close (fds[0]);
      mp_forkserver_serve (fds[1], client);
    }

  close (fds[1]);
  control = mp_channel_new (fds[0]);
  return TRUE;
}

/* For a program that already had threads at mp_init(), where forking the
 * program itself is unsafe: the server is a fresh copy of the program,
 * started as for spawn, that mp_init() turns into the server before the
 * program does any work. Python's forkserver is started the same way. */
gboolean
mp_forkserver_launch_spawned (GError **error)
{
  int fds[2];
  GPid pid;

  if (!mp_socket_pair (fds, error))
    return FALSE;
  pid = mp_runtime_spawn_self (MP_FORKSERVER_ENV, fds[1], error);
  close (fds[1]);
  if (pid <= 0)
    {
      close (fds[0]);
      g_prefix_error (error, _("Could not start the forkserver: "));
      return FALSE;
    }
  control = mp_channel_new (fds[0]);
  return TRUE;
}

void
mp_forkserver_serve (int   fd,
                     pid_t client)
{
  mp_child_setup_parent_death (client);
  /* Ctrl-C reaches the whole process group; the server outlives it so
   * that the parent can still clean up. Workers get back what the
   * program had (Python's KeyboardInterrupt handler, say). */
  struct sigaction ignore = { .sa_handler = SIG_IGN };
  sigaction (SIGINT, &ignore, &program_sigint);
  serve (fd, client);
}

gboolean
mp_forkserver_is_running (void)
{
  return control != NULL && !mp_runtime_is_child () && !mp_channel_is_closed (control);
}

static gboolean
read_int (MpChannel   *status,
          MpWireKind   kind,
          int         *value,
          GError     **error)
{
  g_autoptr(MpMessage) message = mp_channel_receive (status, -1, NULL, error);

  if (message == NULL)
    return FALSE;
  if (message->kind != kind || !g_variant_is_of_type (message->body, G_VARIANT_TYPE ("(i)")))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("The forkserver sent an unexpected “%s” message"),
                   mp_wire_kind_to_string (message->kind));
      return FALSE;
    }
  g_variant_get (message->body, "(i)", value);
  return TRUE;
}

pid_t
mp_forkserver_fork_worker (int          worker_fd,
                           MpChannel  **status_out,
                           GError     **error)
{
  g_autoptr(MpMessage) request = NULL;
  g_autoptr(MpChannel) status = NULL;
  int fds[2];
  int pid;

  if (!mp_forkserver_is_running ())
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_START_METHOD,
                           _("The forkserver is not running"));
      return -1;
    }
  if (!mp_socket_pair (fds, error))
    return -1;

  status = mp_channel_new (fds[0]);
  request = mp_message_new (MP_WIRE_KIND_FORK_REQUEST, NULL);
  {
    /* Close-on-exec: a spawn in another thread must not inherit it. */
    int copy = fcntl (worker_fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
      {
        int errsv = errno;
        close (fds[1]);
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                     "dup: %s", g_strerror (errsv));
        return -1;
      }
    mp_message_add_fd (request, copy);   /* 0: the worker's channel */
  }
  mp_message_add_fd (request, fds[1]);   /* 1: the status socket */
  if (!mp_channel_send (control, request, NULL, error))
    {
      g_prefix_error (error, _("The forkserver is gone: "));
      return -1;
    }
  g_clear_pointer (&request, mp_message_free);

  if (!read_int (status, MP_WIRE_KIND_FORKED, &pid, error))
    return -1;
  if (pid <= 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-pid),
                   _("The forkserver could not fork: %s"), g_strerror (-pid));
      return -1;
    }

  *status_out = g_steal_pointer (&status);
  return pid;
}

/* Blocks until the server reports the worker's exit. */
gboolean
mp_forkserver_read_exit (MpChannel  *status,
                         int        *exitcode,
                         GError    **error)
{
  return read_int (status, MP_WIRE_KIND_EXITED, exitcode, error);
}
