/* mp-sync.c: the shared cell under the synchronization classes
 * (see mp-sync-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

#include "mp-error.h"
#include "mp-runtime-private.h"
#include "mp-sync-private.h"

#define CELL_MAGIC 0x6d70730a   /* "mps\n" */

G_STATIC_ASSERT (sizeof (MpSyncShared) <= MP_SYNC_HEADER_SIZE);


/* ---- who calls --------------------------------------------------------- */

/* The id is cached per thread (initial-exec TLS: no __tls_get_addr call
 * in a lock's fast path). After a fork the child's one thread is the one
 * that forked, and the fork handler forgets its id there. */
static __thread guint64 cached_id __attribute__ ((tls_model ("initial-exec")));

static void
after_fork_in_child (void)
{
  cached_id = 0;
}

static __attribute__ ((noinline)) guint64
compute_self_id (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, after_fork_in_child);
      g_once_init_leave (&registered, 1);
    }
  cached_id = ((guint64) (guint32) getpid () << 32) | (guint32) syscall (SYS_gettid);
  return cached_id;
}

guint64
mp_sync_self_id (void)
{
  if (G_LIKELY (cached_id != 0))
    return cached_id;
  return compute_self_id ();
}

/* ---- the cell ------------------------------------------------------------ */

static gboolean
set_errno_error (GError     **error,
                 const char  *what)
{
  int errsv = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

static MpSyncCell *
cell_map (int      shm_fd,
          int      event_fd,
          gsize    map_size,
          GError **error)
{
  MpSyncCell *cell = g_new0 (MpSyncCell, 1);
  void *map;

  g_atomic_ref_count_init (&cell->ref_count);
  cell->shm_fd = shm_fd;
  cell->event_fd = event_fd;
  cell->map_size = map_size;
  map = mmap (NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
  if (map == MAP_FAILED)
    {
      set_errno_error (error, _("Could not map shared memory"));
      mp_sync_cell_unref (cell);
      return NULL;
    }
  cell->shared = map;
  return cell;
}

MpSyncCell *
mp_sync_cell_new (MpSyncKind   kind,
                  gsize        data_size,
                  GError     **error)
{
  pthread_mutexattr_t attr;
  MpSyncCell *cell;
  gsize map_size;
  int shm_fd, event_fd, rc;

  if (data_size > G_MAXSIZE - MP_SYNC_HEADER_SIZE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The shared object would be too large"));
      return NULL;
    }
  map_size = MP_SYNC_HEADER_SIZE + data_size;

  shm_fd = memfd_create ("mp-sync", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (shm_fd < 0)
    return set_errno_error (error, _("Could not create shared memory")), NULL;
  if (ftruncate (shm_fd, (off_t) map_size) < 0)
    {
      set_errno_error (error, _("Could not size shared memory"));
      close (shm_fd);
      return NULL;
    }
  /* Nobody may shrink it under another process's mapping. */
  fcntl (shm_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  event_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0)
    {
      set_errno_error (error, _("Could not create an event descriptor"));
      close (shm_fd);
      return NULL;
    }

  cell = cell_map (shm_fd, event_fd, map_size, error);
  if (cell == NULL)
    return NULL;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  rc = pthread_mutex_init (&cell->shared->guard, &attr);
  pthread_mutexattr_destroy (&attr);
  if (rc != 0)
    {
      errno = rc;
      set_errno_error (error, _("Could not create a shared lock"));
      mp_sync_cell_unref (cell);
      return NULL;
    }
  cell->shared->kind = kind;
  cell->shared->data_size = data_size;
  __atomic_store_n (&cell->shared->magic, CELL_MAGIC, __ATOMIC_RELEASE);
  return cell;
}

MpSyncCell *
mp_sync_cell_new_from_handles (MpSyncKind   kind,
                               gint32       shm_handle,
                               gint32       event_handle,
                               GError     **error)
{
  struct stat st;
  MpSyncCell *cell;
  int shm_fd, event_fd;
  guint64 data_size;

  shm_fd = fcntl (shm_handle, F_DUPFD_CLOEXEC, 3);
  if (shm_fd < 0)
    return set_errno_error (error, _("The reference does not hold a shared object")), NULL;
  event_fd = fcntl (event_handle, F_DUPFD_CLOEXEC, 3);
  if (event_fd < 0)
    {
      set_errno_error (error, _("The reference does not hold a shared object"));
      close (shm_fd);
      return NULL;
    }
  if (fstat (shm_fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size < (off_t) MP_SYNC_HEADER_SIZE)
    goto bad_without_map;

  cell = cell_map (shm_fd, event_fd, (gsize) st.st_size, error);
  if (cell == NULL)
    return NULL;
  data_size = cell->shared->data_size;
  if (__atomic_load_n (&cell->shared->magic, __ATOMIC_ACQUIRE) != CELL_MAGIC ||
      cell->shared->kind != (guint32) kind ||
      data_size > (guint64) st.st_size - MP_SYNC_HEADER_SIZE)
    {
      mp_sync_cell_unref (cell);
      goto bad;
    }
  return cell;

bad_without_map:
  close (shm_fd);
  close (event_fd);
bad:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("The reference does not hold a shared object of this kind"));
  return NULL;
}

GVariant *
mp_sync_cell_to_variant (MpSyncCell *cell,
                         const char *tag,
                         GVariant   *extra)
{
  return g_variant_new ("(shhv)", tag, cell->shm_fd, cell->event_fd,
                        extra != NULL ? extra : g_variant_new ("()"));
}

MpSyncCell *
mp_sync_cell_new_from_variant (GVariant    *reference,
                               const char  *tag,
                               MpSyncKind   kind,
                               GVariant   **extra,
                               GError     **error)
{
  const char *ref_tag;
  gint32 shm_handle, event_handle;
  g_autoptr(GVariant) ref_extra = NULL;
  MpSyncCell *cell;

  if (!g_variant_is_of_type (reference, G_VARIANT_TYPE ("(shhv)")))
    goto bad;
  g_variant_get (reference, "(&shhv)", &ref_tag, &shm_handle, &event_handle, &ref_extra);
  if (!g_str_equal (ref_tag, tag))
    goto bad;
  cell = mp_sync_cell_new_from_handles (kind, shm_handle, event_handle, error);
  if (cell != NULL && extra != NULL)
    *extra = g_steal_pointer (&ref_extra);
  return cell;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The value of type “%s” does not stand for a %s"),
               g_variant_get_type_string (reference), tag + strlen ("mp:"));
  return NULL;
}

static __thread MpSyncCell *handed_cell;

void
mp_sync_cell_hand_over (MpSyncCell *cell)
{
  g_assert (handed_cell == NULL);
  handed_cell = cell;
}

MpSyncCell *
mp_sync_cell_take_handed (void)
{
  return g_steal_pointer (&handed_cell);
}

MpSyncCell *
mp_sync_cell_new_default (MpSyncKind kind)
{
  g_autoptr(GError) error = NULL;
  MpSyncCell *cell = mp_sync_cell_new (kind, 0, &error);

  if (cell == NULL)
    g_warning ("libmp: could not make a shared object: %s", error->message);
  return cell;
}

MpSyncCell *
mp_sync_cell_ref (MpSyncCell *cell)
{
  g_atomic_ref_count_inc (&cell->ref_count);
  return cell;
}

void
mp_sync_cell_unref (MpSyncCell *cell)
{
  if (cell == NULL || !g_atomic_ref_count_dec (&cell->ref_count))
    return;
  if (cell->shared != NULL)
    munmap (cell->shared, cell->map_size);
  if (cell->shm_fd >= 0)
    close (cell->shm_fd);
  if (cell->event_fd >= 0)
    close (cell->event_fd);
  g_free (cell);
}

void
mp_sync_cell_get_fds (MpSyncCell *cell,
                      int        *shm_fd,
                      int        *event_fd)
{
  *shm_fd = cell->shm_fd;
  *event_fd = cell->event_fd;
}

gpointer
mp_sync_cell_data (MpSyncCell *cell)
{
  return (guint8 *) cell->shared + MP_SYNC_HEADER_SIZE;
}

gsize
mp_sync_cell_data_size (MpSyncCell *cell)
{
  return cell->shared->data_size;
}

GBytes *
mp_sync_cell_data_bytes (MpSyncCell *cell,
                         gsize       offset,
                         gsize       size)
{
  g_return_val_if_fail (offset <= cell->shared->data_size &&
                        size <= cell->shared->data_size - offset, NULL);

  return g_bytes_new_with_free_func ((guint8 *) mp_sync_cell_data (cell) + offset, size,
                                     (GDestroyNotify) mp_sync_cell_unref,
                                     mp_sync_cell_ref (cell));
}

void
mp_sync_cell_guard (MpSyncCell *cell)
{
  int rc = pthread_mutex_trylock (&cell->shared->guard);

  for (guint i = 0; rc == EBUSY && i < 100; i++)
    {
      mp_cpu_relax ();
      rc = pthread_mutex_trylock (&cell->shared->guard);
    }
  if (rc == EBUSY)
    rc = pthread_mutex_lock (&cell->shared->guard);
  /* The classes keep their state consistent at every store. */
  if (rc == EOWNERDEAD)
    rc = pthread_mutex_consistent (&cell->shared->guard);
  if (rc != 0)
    g_error ("libmp: a shared guard failed: %s", g_strerror (rc));
}

void
mp_sync_cell_unguard (MpSyncCell *cell)
{
  pthread_mutex_unlock (&cell->shared->guard);
}

void
mp_sync_cell_signal (MpSyncCell *cell)
{
  guint64 one = 1;

  while (write (cell->event_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

static void
clear_event (MpSyncCell *cell)
{
  guint64 count;

  while (read (cell->event_fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
}

/* ---- waiting, shared by the blocking and the async side -------------- */

typedef struct
{
  MpSyncCell             *cell;
  const MpSyncWaitFuncs  *funcs;
  gpointer                data;
  gint64                  deadline_us;
  gboolean                counted;    /* in the sleepers */
  pid_t                   watch;      /* 0: none */
  int                     pidfd;
} Waiter;

static void
waiter_init (Waiter                 *waiter,
             MpSyncCell             *cell,
             const MpSyncWaitFuncs  *funcs,
             gpointer                data,
             gint64                  deadline_us)
{
  waiter->cell = cell;
  waiter->funcs = funcs;
  waiter->data = data;
  waiter->deadline_us = deadline_us;
  waiter->counted = FALSE;
  waiter->watch = 0;
  waiter->pidfd = -1;
}

static void
waiter_unwatch (Waiter *waiter)
{
  if (waiter->pidfd >= 0)
    close (waiter->pidfd);
  waiter->pidfd = -1;
  waiter->watch = 0;
}

/* Leaves the sleepers and passes a wake-up on if the class said so. */
static void
waiter_finish (Waiter       *waiter,
               MpSyncStatus  status)
{
  waiter_unwatch (waiter);
  if (waiter->counted)
    __atomic_sub_fetch (&waiter->cell->shared->sleepers, 1, __ATOMIC_SEQ_CST);
  waiter->counted = FALSE;
  if (status == MP_SYNC_DONE_PASS_ON)
    mp_sync_cell_wake (waiter->cell);
}

/* Counts the waiter as a sleeper, after the attempts of its fast path
 * failed: the attempts after this one see every wake-up sent since. */
static void
waiter_count (Waiter *waiter)
{
  __atomic_add_fetch (&waiter->cell->shared->sleepers, 1, __ATOMIC_SEQ_CST);
  waiter->counted = TRUE;
}

/* Attempts (as a counted sleeper) until the class says wait, with a
 * descriptor for the process it named (if any). A process that is already
 * gone is reported at once. */
static MpSyncStatus
waiter_attempt (Waiter  *waiter,
                GError **error)
{
  for (;;)
    {
      pid_t watch = 0;
      MpSyncStatus status = waiter->funcs->attempt (waiter->cell, waiter->data, &watch, error);

      if (status != MP_SYNC_WAIT)
        return status;
      if (watch != waiter->watch)
        {
          waiter_unwatch (waiter);
          if (watch > 0 && waiter->funcs->holder_died != NULL)
            {
              /* A pid can be reused, but not while the lock word still
               * names it: the attempt after opening checks that again. */
              waiter->pidfd = mp_pidfd_open (watch);
              if (waiter->pidfd < 0 && errno == ESRCH)
                {
                  waiter->funcs->holder_died (waiter->cell, waiter->data, watch);
                  continue;
                }
              waiter->watch = watch;
              continue;
            }
        }
      return MP_SYNC_WAIT;
    }
}

static MpSyncStatus
waiter_give_up (Waiter  *waiter,
                GError **error)
{
  if (waiter->funcs->give_up == NULL)
    return MP_SYNC_FAILED;
  if (waiter->funcs->give_up (waiter->cell, waiter->data, error) == MP_SYNC_FAILED)
    return MP_SYNC_FAILED;
  g_clear_error (error);
  return MP_SYNC_DONE;
}

static void
waiter_holder_gone (Waiter *waiter)
{
  pid_t pid = waiter->watch;

  waiter_unwatch (waiter);
  waiter->funcs->holder_died (waiter->cell, waiter->data, pid);
}

gboolean
mp_sync_cell_wait (MpSyncCell             *cell,
                   const MpSyncWaitFuncs  *funcs,
                   gpointer                data,
                   gint64                  deadline_us,
                   GCancellable           *cancellable,
                   GError                **error_out)
{
  /* The classes look at the error (an owner-died report): never NULL. */
  GError *local_error = NULL;
  GError **error = &local_error;
  Waiter waiter;
  GPollFD pfds[3], cancel_pfd;
  gboolean have_cancel_fd;
  MpSyncStatus status;

  waiter_init (&waiter, cell, funcs, data, deadline_us);
  /* Cancelled already: the class may still have to undo its part (a
   * condition's waiter count) or find it is done. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      status = waiter_give_up (&waiter, error);
      if (status == MP_SYNC_FAILED)
        {
          g_propagate_error (error_out, local_error);
          return FALSE;
        }
      return TRUE;
    }

  /* A short look before sleeping: a partner on the other core often
   * answers within microseconds, and then nobody enters the kernel. The
   * clock is read only once the first attempt failed. */
  {
    gint64 spin_until = -1;
    pid_t unused;

    for (guint i = 1;; i++)
      {
        status = funcs->attempt (cell, data, &unused, error);
        if (status == MP_SYNC_WAIT && spin_until < 0)
          {
            spin_until = g_get_monotonic_time () + MP_SPIN_US;
            /* A wait with no time left only tries. */
            if (deadline_us >= 0 && deadline_us < spin_until)
              spin_until = 0;
          }
        if (status != MP_SYNC_WAIT)
          {
            waiter_finish (&waiter, status);
            if (status == MP_SYNC_FAILED)
              {
                g_propagate_error (error_out, local_error);
                return FALSE;
              }
            return TRUE;
          }
        if ((i & 15) == 0 || spin_until == 0)
          {
            if (g_get_monotonic_time () > spin_until)
              break;
            sched_yield ();
          }
        else
          mp_cpu_relax ();
      }
  }
  waiter_count (&waiter);
  have_cancel_fd = g_cancellable_make_pollfd (cancellable, &cancel_pfd);

  for (;;)
    {
      int timeout_ms = -1;
      guint n = 0, pid_index = 0;
      int r;

      status = waiter_attempt (&waiter, error);
      if (status != MP_SYNC_WAIT)
        break;

      pfds[n++] = (GPollFD) { cell->event_fd, G_IO_IN, 0 };
      if (waiter.pidfd >= 0)
        {
          pid_index = n;
          pfds[n++] = (GPollFD) { waiter.pidfd, G_IO_IN, 0 };
        }
      if (have_cancel_fd)
        pfds[n++] = cancel_pfd;
      if (deadline_us >= 0)
        {
          gint64 left = deadline_us - g_get_monotonic_time ();
          if (left <= 0)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Timed out"));
              status = waiter_give_up (&waiter, error);
              break;
            }
          timeout_ms = (int) CLAMP ((left + 999) / 1000, 0, G_MAXINT);
        }

      r = g_poll (pfds, n, timeout_ms);
      if (r < 0 && errno != EINTR)
        {
          set_errno_error (error, "poll");
          status = MP_SYNC_FAILED;
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          status = waiter_give_up (&waiter, error);
          break;
        }
      if (pid_index > 0 && pfds[pid_index].revents != 0)
        waiter_holder_gone (&waiter);
      if (pfds[0].revents != 0)
        clear_event (cell);
    }

  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  waiter_finish (&waiter, status);
  if (status == MP_SYNC_FAILED)
    {
      g_propagate_error (error_out, local_error);
      return FALSE;
    }
  g_clear_error (&local_error);
  return TRUE;
}

/* ---- the async side ------------------------------------------------------ */

typedef struct
{
  GSource   source;
  Waiter    waiter;
  GTask    *task;
  gpointer  event_tag;
  gpointer  pid_tag;
  int       pid_tag_fd;
  GSource  *cancel_source;
} WaitSource;

static void
wait_source_update_watch (WaitSource *ws)
{
  if (ws->pid_tag != NULL && ws->pid_tag_fd != ws->waiter.pidfd)
    {
      g_source_remove_unix_fd (&ws->source, ws->pid_tag);
      ws->pid_tag = NULL;
      ws->pid_tag_fd = -1;
    }
  if (ws->pid_tag == NULL && ws->waiter.pidfd >= 0)
    {
      ws->pid_tag = g_source_add_unix_fd (&ws->source, ws->waiter.pidfd, G_IO_IN);
      ws->pid_tag_fd = ws->waiter.pidfd;
    }
}

/* Ends the wait: the task returns and the source goes. */
static void
wait_source_end (WaitSource   *ws,
                 MpSyncStatus  status,
                 GError       *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&ws->task);

  if (ws->pid_tag != NULL)
    g_source_remove_unix_fd (&ws->source, ws->pid_tag);
  ws->pid_tag = NULL;
  waiter_finish (&ws->waiter, status);
  g_source_destroy (&ws->source);
  if (status == MP_SYNC_FAILED)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
wait_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  WaitSource *ws = (WaitSource *) source;
  GError *error = NULL;
  MpSyncStatus status;

  if (ws->task == NULL)
    return G_SOURCE_REMOVE;

  if (g_cancellable_is_cancelled (g_task_get_cancellable (ws->task)))
    {
      /* As in the blocking wait: the class may find it is done after all. */
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
      status = waiter_give_up (&ws->waiter, &error);
      wait_source_end (ws, status, error);
      return G_SOURCE_REMOVE;
    }

  if (ws->pid_tag != NULL && g_source_query_unix_fd (source, ws->pid_tag) != 0)
    {
      g_source_remove_unix_fd (source, ws->pid_tag);
      ws->pid_tag = NULL;
      waiter_holder_gone (&ws->waiter);
    }
  if (g_source_query_unix_fd (source, ws->event_tag) != 0)
    clear_event (ws->waiter.cell);

  status = waiter_attempt (&ws->waiter, &error);
  if (status == MP_SYNC_WAIT && ws->waiter.deadline_us >= 0 &&
      g_get_monotonic_time () >= ws->waiter.deadline_us)
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Timed out"));
      status = waiter_give_up (&ws->waiter, &error);
    }
  if (status == MP_SYNC_WAIT)
    {
      wait_source_update_watch (ws);
      return G_SOURCE_CONTINUE;
    }
  wait_source_end (ws, status, error);
  return G_SOURCE_REMOVE;
}

static void
wait_source_finalize (GSource *source)
{
  WaitSource *ws = (WaitSource *) source;

  if (ws->cancel_source != NULL)
    {
      g_source_destroy (ws->cancel_source);
      g_source_unref (ws->cancel_source);
    }
  waiter_finish (&ws->waiter, MP_SYNC_FAILED);
  g_clear_object (&ws->task);
  mp_sync_cell_unref (ws->waiter.cell);
}

static GSourceFuncs wait_source_funcs = {
  .dispatch = wait_source_dispatch,
  .finalize = wait_source_finalize,
};

static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  /* The parent's dispatch, which a ready child source triggers, sees it. */
  return G_SOURCE_CONTINUE;
}

void
mp_sync_cell_wait_async (MpSyncCell             *cell,
                         const MpSyncWaitFuncs  *funcs,
                         GTask                  *task,
                         gint64                  deadline_us)
{
  WaitSource *ws;
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  Waiter waiter;
  MpSyncStatus status;

  /* The task's result is what happened, even if the cancellable fires
   * after the lock (or unit, or notification) was taken. */
  g_task_set_check_cancellable (task, FALSE);
  waiter_init (&waiter, cell, funcs, g_task_get_task_data (task), deadline_us);
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
      status = waiter_give_up (&waiter, &error);
      if (status == MP_SYNC_FAILED)
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, TRUE);
      return;
    }

  /* The fast path needs no source. */
  status = funcs->attempt (cell, waiter.data, &(pid_t) { 0 }, &error);
  if (status != MP_SYNC_WAIT)
    {
      waiter_finish (&waiter, status);
      if (status == MP_SYNC_FAILED)
        g_task_return_error (task, error);
      else
        g_task_return_boolean (task, TRUE);
      return;
    }

  ws = (WaitSource *) g_source_new (&wait_source_funcs, sizeof (WaitSource));
  g_source_set_static_name (&ws->source, "[mp] sync wait");
  waiter_init (&ws->waiter, mp_sync_cell_ref (cell), funcs, waiter.data, deadline_us);
  ws->task = g_object_ref (task);
  ws->pid_tag_fd = -1;
  ws->event_tag = g_source_add_unix_fd (&ws->source, cell->event_fd, G_IO_IN);
  if (deadline_us >= 0)
    g_source_set_ready_time (&ws->source, deadline_us);
  if (cancellable != NULL)
    {
      ws->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (ws->cancel_source, G_SOURCE_FUNC (cancelled_cb), NULL, NULL);
      g_source_add_child_source (&ws->source, ws->cancel_source);
    }
  /* Counts itself and looks once more before it sleeps. */
  waiter_count (&ws->waiter);
  status = waiter_attempt (&ws->waiter, &error);
  if (status != MP_SYNC_WAIT)
    wait_source_end (ws, status, error);
  else
    {
      wait_source_update_watch (ws);
      g_source_attach (&ws->source, g_task_get_context (task));
    }
  g_source_unref (&ws->source);
}
