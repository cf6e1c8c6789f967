/* mp-sync-private.h: the shared cell under locks, semaphores, conditions,
 * events, barriers, values and arrays
 *
 * A cell is a memfd that every holder maps: a small header (a robust
 * process-shared guard mutex, an atomic word, a few words of state the
 * guard protects, a count of sleepers) and then the class's data. Next to
 * it is an eventfd on which sleepers wait, the same in every process, so
 * a blocking call polls it and an async call watches it from a main loop:
 * no thread per waiter.
 *
 * The waking rule is the same for every class: a change that may let a
 * sleeper go on calls mp_sync_cell_wake(), which writes the eventfd only
 * when somebody sleeps. A sleeper that wakes first clears the eventfd and
 * then looks at the state again; if it took something and more is left
 * for others (semaphore units, notifications, a set event), it passes the
 * wake-up on. Clearing before looking means that no wake-up is lost.
 *
 * A waiter can also watch a process (a lock's holder): if that process
 * ends, the class is told so that it can hand the lock on with an
 * owner-died report instead of waiting forever.
 *
 * This layer knows nothing of what the state means.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  MP_SYNC_KIND_LOCK = 1,
  MP_SYNC_KIND_RLOCK,
  MP_SYNC_KIND_SEMAPHORE,
  MP_SYNC_KIND_CONDITION,
  MP_SYNC_KIND_EVENT,
  MP_SYNC_KIND_BARRIER,
  MP_SYNC_KIND_VALUE,
  MP_SYNC_KIND_ARRAY,
} MpSyncKind;

#define MP_SYNC_N_STATE     8
#define MP_SYNC_HEADER_SIZE 256u   /* the class's data starts here */

typedef struct
{
  guint32          magic;
  guint32          kind;
  guint64          data_size;
  pthread_mutex_t  guard;
  gint32           sleepers;        /* atomic */
  guint32          reserved;
  guint64          word;            /* atomic, the class's fast path */
  guint64          state[MP_SYNC_N_STATE];   /* under the guard */
} MpSyncShared;

typedef struct _MpSyncCell MpSyncCell;

/* Visible here so that the fast paths inline; only mp-sync.c writes it. */
struct _MpSyncCell
{
  gatomicrefcount  ref_count;
  int              shm_fd;
  int              event_fd;
  MpSyncShared    *shared;
  gsize            map_size;
};

MpSyncCell   *mp_sync_cell_new            (MpSyncKind    kind,
                                           gsize         data_size,
                                           GError      **error);
/* From the two handles of a received reference (duplicated, not taken);
 * checks that the memory holds a cell of @kind. */
MpSyncCell   *mp_sync_cell_new_from_handles (MpSyncKind  kind,
                                           gint32        shm_handle,
                                           gint32        event_handle,
                                           GError      **error);
MpSyncCell   *mp_sync_cell_ref            (MpSyncCell   *cell);
void          mp_sync_cell_unref          (MpSyncCell   *cell);
void          mp_sync_cell_get_fds        (MpSyncCell   *cell,
                                           int          *shm_fd,
                                           int          *event_fd);
gpointer      mp_sync_cell_data           (MpSyncCell   *cell);
gsize         mp_sync_cell_data_size      (MpSyncCell   *cell);
/* A read-only view of the data that keeps the cell mapped. */
GBytes       *mp_sync_cell_data_bytes     (MpSyncCell   *cell,
                                           gsize         offset,
                                           gsize         size);

/* The guard is held for a few instructions at a time; a holder that died
 * leaves state the classes keep consistent at every store. */
void          mp_sync_cell_guard          (MpSyncCell   *cell);
void          mp_sync_cell_unguard        (MpSyncCell   *cell);
void          mp_sync_cell_signal         (MpSyncCell   *cell);

static inline MpSyncShared *
mp_sync_cell_shared (MpSyncCell *cell)
{
  return cell->shared;
}

/* Wakes sleepers, if there are any: no system call otherwise. */
static inline void
mp_sync_cell_wake (MpSyncCell *cell)
{
  if (__atomic_load_n (&cell->shared->sleepers, __ATOMIC_SEQ_CST) > 0)
    mp_sync_cell_signal (cell);
}

typedef enum
{
  MP_SYNC_DONE,
  MP_SYNC_DONE_PASS_ON,   /* done, and other sleepers may go on too */
  MP_SYNC_WAIT,
  MP_SYNC_FAILED,
} MpSyncStatus;

typedef struct
{
  /* Tries once, with nothing held. On MP_SYNC_WAIT it may set *@watch to
   * a process whose end should be reported to holder_died. */
  MpSyncStatus (*attempt)     (MpSyncCell  *cell,
                               gpointer     data,
                               pid_t       *watch,
                               GError     **error);
  /* Optional: the process named by attempt has ended. */
  void         (*holder_died) (MpSyncCell  *cell,
                               gpointer     data,
                               pid_t        pid);
  /* Optional: the wait timed out or was cancelled (*@error says which).
   * MP_SYNC_DONE turns it into a success after all (the error is cleared);
   * MP_SYNC_FAILED keeps *@error or replaces it. */
  MpSyncStatus (*give_up)     (MpSyncCell  *cell,
                               gpointer     data,
                               GError     **error);
} MpSyncWaitFuncs;

/* @deadline_us: monotonic time, or -1 for none; a deadline in the past
 * still tries once. */
gboolean      mp_sync_cell_wait           (MpSyncCell             *cell,
                                           const MpSyncWaitFuncs  *funcs,
                                           gpointer                data,
                                           gint64                  deadline_us,
                                           GCancellable           *cancellable,
                                           GError                **error);
/* The same on @task's context; @data is the task's data. The task returns
 * TRUE, or the error. */
void          mp_sync_cell_wait_async     (MpSyncCell             *cell,
                                           const MpSyncWaitFuncs  *funcs,
                                           GTask                  *task,
                                           gint64                  deadline_us);

/* A reference: "(shhv)", the tag, the memory, the eventfd and whatever
 * else the class needs (@extra, "()" when %NULL). */
GVariant     *mp_sync_cell_to_variant     (MpSyncCell   *cell,
                                           const char   *tag,
                                           GVariant     *extra);
MpSyncCell   *mp_sync_cell_new_from_variant (GVariant   *reference,
                                           const char   *tag,
                                           MpSyncKind    kind,
                                           GVariant    **extra,
                                           GError      **error);

/* Construction: a _new function hands the cell it made (or received) to
 * the instance g_object_new() is about to make in this thread; a bare
 * g_object_new(), as bindings call for `new Mp.Lock()`, finds none and
 * makes a default one in constructed(). */
void          mp_sync_cell_hand_over      (MpSyncCell   *cell);
MpSyncCell   *mp_sync_cell_take_handed    (void);
/* A default cell for constructed(): on failure (no descriptors left) it
 * warns and the object refuses every call. */
MpSyncCell   *mp_sync_cell_new_default    (MpSyncKind    kind);

/* Who calls: the process in the high half, the thread in the low half;
 * never 0. */
guint64       mp_sync_self_id             (void);
#define MP_SYNC_ID_PID(id) ((pid_t) ((id) >> 32))

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpSyncCell, mp_sync_cell_unref)

G_END_DECLS
