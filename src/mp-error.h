/* mp-error.h: the MP_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MP_INSIDE) && !defined(MP_COMPILATION)
# error "Only <mp.h> can be included directly."
#endif

#include "mp-version-macros.h"

G_BEGIN_DECLS

#define MP_ERROR (mp_error_quark ())

/**
 * MpError:
 * @MP_ERROR_FAILED: a failure with no more specific code
 * @MP_ERROR_NOT_INITIALIZED: mp_init() was not called, and the operation needs it
 * @MP_ERROR_START_METHOD: the start method cannot be used for this process or here
 * @MP_ERROR_UNKNOWN_TASK: no task is registered under that name (in the process that would run it)
 * @MP_ERROR_INVALID_STATE: the object is in the wrong state for the call
 *   (start twice, close while running, use after close)
 * @MP_ERROR_PROTOCOL: a malformed or unexpected message arrived on a channel
 * @MP_ERROR_TASK_FAILED: a task failed in another process and its own error
 *   could not be carried over
 * @MP_ERROR_WORKER_DIED: the process that ran a task ended before answering
 * @MP_ERROR_POOL_BROKEN: a pool's workers kept dying, and the pool stopped
 * @MP_ERROR_OWNER_DIED: the process that held a lock died holding it; the
 *   call that reports it has acquired the lock, and the data it protects may
 *   be half-updated
 * @MP_ERROR_BROKEN_BARRIER: a barrier was aborted, reset or broken by a
 *   timeout while the call waited on it (Python's BrokenBarrierError)
 * @MP_ERROR_TASK_REFUSED: the language runtime of the process refused to
 *   call the task (GJS while its garbage collector sweeps); a pool runs
 *   the task again in a fresh worker
 *
 * Error codes in the %MP_ERROR domain. Where GIO has a fitting code
 * (%G_IO_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %G_IO_ERROR_CLOSED), libmp
 * uses that instead.
 */
typedef enum
{
  MP_ERROR_FAILED,
  MP_ERROR_NOT_INITIALIZED,
  MP_ERROR_START_METHOD,
  MP_ERROR_UNKNOWN_TASK,
  MP_ERROR_INVALID_STATE,
  MP_ERROR_PROTOCOL,
  MP_ERROR_TASK_FAILED,
  MP_ERROR_WORKER_DIED,
  MP_ERROR_POOL_BROKEN,
  MP_ERROR_OWNER_DIED,
  MP_ERROR_BROKEN_BARRIER,
  MP_ERROR_TASK_REFUSED,
} MpError;

MP_AVAILABLE_IN_1_0
GQuark mp_error_quark (void);

G_END_DECLS
