/* mp-lock-private.h: the holder word that MpLock and MpRLock share, and
 * what MpCondition needs of either
 *
 * The cell's atomic word names the holder (mp_sync_self_id()), 0 when the
 * lock is free, or MP_LOCK_WORD_DIED when its holder died holding it; the
 * next acquirer takes it from there and is told so.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mp-sync-private.h"

G_BEGIN_DECLS

#define MP_LOCK_WORD_DIED G_GUINT64_CONSTANT (1)

/* The uncontended case: takes a free word for the calling thread with one
 * compare-and-swap. */
static inline gboolean
mp_lock_word_try_take (MpSyncShared *shared)
{
  guint64 expected = 0;

  return __atomic_compare_exchange_n (&shared->word, &expected, mp_sync_self_id (), FALSE,
                                      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* Acquires the word for the calling thread (data: unused). */
extern const MpSyncWaitFuncs mp_lock_word_acquire_funcs;
MpSyncStatus mp_lock_word_attempt     (MpSyncCell  *cell,
                                       gpointer     data,
                                       pid_t       *watch,
                                       GError     **error);
void         mp_lock_word_holder_died (MpSyncCell  *cell,
                                       gpointer     data,
                                       pid_t        pid);

MpSyncCell *mp_lock_get_cell      (MpLock     *self);
MpSyncCell *mp_rlock_get_cell     (MpRLock    *self);

/* For a condition's wait: @lock is an MpLock or an MpRLock the caller
 * holds. Releasing it saves what reacquiring restores (an RLock's
 * count). */
gboolean    mp_lockable_is_mine          (GObject       *lock);
guint       mp_lockable_release_save     (GObject       *lock);
MpSyncCell *mp_lockable_get_cell         (GObject       *lock);
void        mp_lockable_restore          (GObject       *lock,
                                          guint          saved);

G_END_DECLS
