/* mp-pool-line-private.h: a worker's direct line, for blocking calls
 *
 * A blocking apply made while nothing waits in the pool's queue borrows
 * an idle worker and talks to it over the worker's second channel, its
 * line: the call goes from the caller's thread to the worker and back,
 * two hops instead of four through the pool's thread. Both ends spin a
 * little before they sleep (MP_POOL_LINE_SPIN_US), so that a call
 * answered at once, and a worker asked again at once, wake nobody
 * through the kernel.
 *
 * The line's state says who may use the worker: the pool's thread claims
 * it (IDLE -> POOL) before it sends jobs on the worker's own channel and
 * gives it back once they are all answered; a caller borrows it
 * (IDLE -> LENT) for one call. The job a caller sends is parked in the
 * line until the call ends: if the worker dies meanwhile, the pool's
 * thread takes it from there and ends it as the job its worker was
 * running (failed with the exit, retried, cancelled or timed out).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "mp-wire-private.h"

G_BEGIN_DECLS

/* How long each end looks before it sleeps: the caller for its answer,
 * the worker for the next call after answering one. Measured here with
 * a socket ping-pong between two processes: 51 us a round trip when both
 * sleep, 3.7 us when both look for 20 us. */
#define MP_POOL_LINE_SPIN_US 50

typedef enum
{
  MP_POOL_LINE_IDLE,     /* the worker waits: a caller may borrow it */
  MP_POOL_LINE_POOL,     /* the pool's thread has jobs out on it */
  MP_POOL_LINE_LENT,     /* a caller's call runs on it */
  MP_POOL_LINE_CLOSED,   /* the worker is going */
} MpPoolLineState;

typedef enum
{
  MP_POOL_LINE_ANSWERED,     /* *ok and *value are the worker's answer */
  MP_POOL_LINE_UNSENT,       /* the call never reached the worker */
  MP_POOL_LINE_WORKER_DIED,  /* the worker ended during the call */
  MP_POOL_LINE_TIMED_OUT,
  MP_POOL_LINE_CANCELLED,
} MpPoolLineOutcome;

typedef struct _MpPoolLine MpPoolLine;

/* Takes @channel (the pool's end) and @pidfd (the worker's, or -1). */
MpPoolLine        *mp_pool_line_new      (MpChannel      *channel,
                                          int             pidfd);
MpPoolLine        *mp_pool_line_ref      (MpPoolLine     *line);
void               mp_pool_line_unref    (MpPoolLine     *line);

/* Moves the line from @from to @to; FALSE if it was not in @from. */
gboolean           mp_pool_line_move     (MpPoolLine     *line,
                                          MpPoolLineState from,
                                          MpPoolLineState to);
MpPoolLineState    mp_pool_line_get_state (MpPoolLine    *line);
/* No caller may borrow it any more. */
void               mp_pool_line_close    (MpPoolLine     *line);

/* What a call carries for the pool (its job): parked by the caller, and
 * taken by whoever ends the call, the caller or the pool's thread. */
void               mp_pool_line_park     (MpPoolLine     *line,
                                          gpointer        job);
gpointer           mp_pool_line_take     (MpPoolLine     *line);

/* One call, on a line the caller borrowed: sends job @id and waits for
 * its answer until @deadline_us (monotonic; negative: none), the
 * worker's end or @cancellable. */
MpPoolLineOutcome  mp_pool_line_call     (MpPoolLine     *line,
                                          guint64         id,
                                          const char     *task,
                                          GVariant       *payload,
                                          gint64          deadline_us,
                                          GCancellable   *cancellable,
                                          gboolean       *ok,
                                          GVariant      **value);
/* Kills the worker, for a call that timed out or was cancelled. */
void               mp_pool_line_kill     (MpPoolLine     *line);
/* Whether a caller killed it. */
gboolean           mp_pool_line_was_killed (MpPoolLine   *line);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpPoolLine, mp_pool_line_unref)

G_END_DECLS
