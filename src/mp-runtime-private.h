/* mp-runtime-private.h: process-wide state shared by the runtime files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include "mp-runtime.h"

G_BEGIN_DECLS

typedef struct _MpProcess MpProcess;

/* Environment that marks a spawned child: "<fd>:<parent pid>". */
#define MP_WORKER_ENV "MP_WORKER_FD"
/* ...and a spawned forkserver. */
#define MP_FORKSERVER_ENV "MP_FORKSERVER_FD"

/* Starts this program again with @fd as descriptor 3 and @env_name set
 * to "3:<our pid>"; mp_init() there sees it. Returns the pid, which the
 * caller reaps (or 0 with @error set). */
GPid                mp_runtime_spawn_self (const char  *env_name,
                                           int          fd,
                                           GError     **error);

/* How this program can be started again (spawn). */
const char * const *mp_runtime_get_argv  (void);
const char         *mp_runtime_get_exe   (void);
const char         *mp_runtime_get_cwd   (void);
guint               mp_runtime_threads_at_init (void);

/* Whether this process was started by libmp (fork, spawn or forkserver). */
gboolean            mp_runtime_is_child  (void);
void                mp_runtime_enter_child (int         parent_pid,
                                            MpProcess  *process);
void                mp_runtime_set_current_process (MpProcess *process);

/* Live children, held until their exit has been collected. */
void                mp_runtime_add_child    (MpProcess *process);
void                mp_runtime_remove_child (MpProcess *process);
void                mp_runtime_reap_children (void);

MpStartMethod       mp_runtime_resolve_method (MpStartMethod method);

/* Called before a libmp process ends (mp_exit(), a child's exit, the
 * main program's exit handler): what was put must go out first. */
void                mp_runtime_add_flush_hook (void (*hook) (void));
/* Called in a new child made by fork(), before anything else runs there:
 * to forget threads and locks that belong to the parent. */
void                mp_runtime_add_child_hook (void (*hook) (void));
void                mp_runtime_flush          (void);

/* Helpers for the start methods. */
int                 mp_pidfd_open        (pid_t pid);
gboolean            mp_pidfd_wait        (int    pidfd,
                                          gboolean block,
                                          int   *exitcode);
void                mp_child_setup_parent_death (pid_t expected_parent);
void                mp_child_start_lifeline     (int   fd);
gboolean            mp_runtime_on_main_thread   (void);
gpointer            mp_runtime_run_on_lasting_thread (GThreadFunc func,
                                                      gpointer    data);
void                mp_flush_stdio       (void);
int                 mp_count_threads     (void);

/* In a spin-wait: tells the core that this thread only waits. */
static inline void
mp_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* How long a blocking wait looks before it sleeps in the kernel, so that
 * a partner that answers at once need not wake it through the kernel.
 * Measured with tests/bench (queue, 1 producer, 2 consumers, 2 cores):
 * 2-5 us is best; 30 us or more takes the core from the partner. */
#define MP_SPIN_US 4

/* Whether a longer spin pays off, learnt from the last ones: a spin that
 * saw its event raises the score, one that did not (the partner had no
 * CPU, or the work took longer) halves it. At 0 the waiter sleeps at
 * once, and spins again one time in MP_SPIN_PROBE_EVERY to look whether
 * things changed. Spinning on a machine whose CPUs are all busy only
 * takes the partner's CPU. One gauge per waiter; not thread-safe. */
typedef struct
{
  guint score;
  guint skipped;
} MpSpinGauge;

#define MP_SPIN_GAUGE_INIT  { 4, 0 }
#define MP_SPIN_SCORE_MAX   4
#define MP_SPIN_PROBE_EVERY 16

/* How long to spin now: @max_us, or 0. */
static inline gint64
mp_spin_gauge_budget (MpSpinGauge *gauge,
                      gint64       max_us)
{
  if (gauge->score > 0)
    return max_us;
  if (++gauge->skipped < MP_SPIN_PROBE_EVERY)
    return 0;
  gauge->skipped = 0;
  return max_us;
}

/* After a spin of a nonzero budget: whether the event came during it. */
static inline void
mp_spin_gauge_record (MpSpinGauge *gauge,
                      gboolean     seen)
{
  gauge->score = seen ? MIN (gauge->score + 1, MP_SPIN_SCORE_MAX) : gauge->score / 2;
}

G_END_DECLS
