/* mp-pool-line.c: a worker's direct line, for blocking calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mp-pool-line-private.h"
#include "mp-pool-private.h"
#include "mp-runtime-private.h"

struct _MpPoolLine
{
  gint        ref_count;
  gint        state;      /* MpPoolLineState, atomic */
  MpChannel  *channel;
  int         pidfd;
  gpointer    job;        /* atomic */
  gint        killed;     /* atomic */
  MpSpinGauge spin;       /* the borrower's */
};

MpPoolLine *
mp_pool_line_new (MpChannel *channel,
                  int        pidfd)
{
  MpPoolLine *line = g_new0 (MpPoolLine, 1);

  line->ref_count = 1;
  line->state = MP_POOL_LINE_IDLE;
  line->spin = (MpSpinGauge) MP_SPIN_GAUGE_INIT;
  line->channel = channel;
  line->pidfd = pidfd;
  return line;
}

MpPoolLine *
mp_pool_line_ref (MpPoolLine *line)
{
  g_atomic_int_inc (&line->ref_count);
  return line;
}

void
mp_pool_line_unref (MpPoolLine *line)
{
  if (!g_atomic_int_dec_and_test (&line->ref_count))
    return;
  /* A job still parked here belongs to a call that ended otherwise. */
  g_warn_if_fail (line->job == NULL);
  g_clear_object (&line->channel);
  if (line->pidfd >= 0)
    close (line->pidfd);
  g_free (line);
}

gboolean
mp_pool_line_move (MpPoolLine      *line,
                   MpPoolLineState  from,
                   MpPoolLineState  to)
{
  return g_atomic_int_compare_and_exchange (&line->state, (gint) from, (gint) to);
}

MpPoolLineState
mp_pool_line_get_state (MpPoolLine *line)
{
  return (MpPoolLineState) g_atomic_int_get (&line->state);
}

void
mp_pool_line_close (MpPoolLine *line)
{
  g_atomic_int_set (&line->state, MP_POOL_LINE_CLOSED);
}

void
mp_pool_line_park (MpPoolLine *line,
                   gpointer    job)
{
  __atomic_store_n (&line->job, job, __ATOMIC_RELEASE);
}

gpointer
mp_pool_line_take (MpPoolLine *line)
{
  return __atomic_exchange_n (&line->job, NULL, __ATOMIC_ACQ_REL);
}

static void
send_kill (MpPoolLine *line)
{
  if (line->pidfd >= 0)
    syscall (SYS_pidfd_send_signal, line->pidfd, SIGKILL, NULL, 0);
}

void
mp_pool_line_kill (MpPoolLine *line)
{
  g_atomic_int_set (&line->killed, TRUE);
  send_kill (line);
}

gboolean
mp_pool_line_was_killed (MpPoolLine *line)
{
  return g_atomic_int_get (&line->killed);
}

/* The answer to job @id in @message; FALSE if it is something else. */
static gboolean
read_answer (MpMessage  *message,
             guint64     id,
             gboolean   *ok,
             GVariant  **value)
{
  guint64 answered;

  if (!g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_REPLY_TYPE)))
    return FALSE;
  g_variant_get_child (message->body, 0, "t", &answered);
  if (answered != id)
    return FALSE;
  g_variant_get (message->body, "(tbv)", NULL, ok, value);
  return TRUE;
}

MpPoolLineOutcome
mp_pool_line_call (MpPoolLine    *line,
                   guint64        id,
                   const char    *task,
                   GVariant      *payload,
                   gint64         deadline_us,
                   GCancellable  *cancellable,
                   gboolean      *ok,
                   GVariant     **value)
{
  g_autoptr(MpMessage) job = NULL;
  GPollFD pfds[3] = { { mp_channel_get_fd (line->channel), G_IO_IN, 0 }, { line->pidfd, G_IO_IN, 0 }, { -1, G_IO_IN, 0 } };
  gboolean have_cancel_fd, worker_gone = FALSE, spinning;
  MpPoolLineOutcome outcome;
  gint64 spin_until, budget;

  job = mp_message_new (MP_WIRE_KIND_VALUE,
                        g_variant_new (MP_POOL_JOB_TYPE, id, (guint8) MP_POOL_JOB_APPLY, task, payload));
  if (!mp_channel_send (line->channel, job, NULL, NULL))
    return MP_POOL_LINE_UNSENT;

  have_cancel_fd = g_cancellable_make_pollfd (cancellable, &pfds[2]);
  budget = mp_spin_gauge_budget (&line->spin, MP_POOL_LINE_SPIN_US);
  spin_until = g_get_monotonic_time () + budget;
  spinning = budget > 0;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MpMessage) message = NULL;
      gboolean would_block = FALSE;
      gint64 now;
      int timeout_ms = -1;

      message = mp_channel_try_receive (line->channel, &would_block, &error);
      if (message != NULL)
        {
          if (read_answer (message, id, ok, value))
            {
              if (spinning)
                mp_spin_gauge_record (&line->spin, TRUE);
              outcome = MP_POOL_LINE_ANSWERED;
              break;
            }
          /* A worker that says something else is broken: it goes, and
           * the pool sees an unexpected death. */
          send_kill (line);
          outcome = MP_POOL_LINE_WORKER_DIED;
          break;
        }
      /* The worker's end is closed, or it ended without an answer. */
      if (!would_block || worker_gone)
        {
          outcome = MP_POOL_LINE_WORKER_DIED;
          break;
        }
      now = g_get_monotonic_time ();
      if (now < spin_until)
        {
          mp_cpu_relax ();
          continue;
        }
      if (spinning)
        {
          mp_spin_gauge_record (&line->spin, FALSE);
          spinning = FALSE;
        }
      if (g_cancellable_is_cancelled (cancellable))
        {
          outcome = MP_POOL_LINE_CANCELLED;
          break;
        }
      if (deadline_us >= 0)
        {
          if (now >= deadline_us)
            {
              outcome = MP_POOL_LINE_TIMED_OUT;
              break;
            }
          timeout_ms = (int) CLAMP ((deadline_us - now + 999) / 1000, 0, G_MAXINT);
        }
      if (g_poll (pfds, have_cancel_fd ? 3 : 2, timeout_ms) < 0 && errno != EINTR)
        {
          /* Cannot wait: the worker goes, as if the call had timed out. */
          outcome = MP_POOL_LINE_TIMED_OUT;
          break;
        }
      /* Its exit: one more look, for an answer sent just before. */
      if (pfds[1].revents != 0)
        worker_gone = TRUE;
    }
  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  return outcome;
}
