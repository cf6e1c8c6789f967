/* mp-pool.c: a pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n-lib.h>

#include "mp-delivery-private.h"
#include "mp-enums.h"
#include "mp-error.h"
#include "mp-pool.h"
#include "mp-element-private.h"
#include "mp-pool-arena-private.h"
#include "mp-pool-line-private.h"
#include "mp-pool-private.h"
#include "mp-process.h"
#include "mp-runtime-private.h"
#include "mp-task.h"
#include "mp-wire-private.h"

/**
 * MpPool:
 *
 * Python's `multiprocessing.Pool`: worker processes that run registered
 * tasks, with apply, map, starmap and imap, blocking or as GIO async
 * calls, and more than Python's: a worker that dies (killed, crashed,
 * exited) fails or retries only the task it was running and is replaced,
 * so the pool never hangs; tasks can time out and be cancelled, running
 * or not; and progress is in properties a GUI can bind to.
 *
 * The pool runs on a thread of its own, which starts the workers, sends
 * them jobs over a wire channel each and reads their answers. Callbacks,
 * signals and property notifications come in the thread-default main
 * context of the thread that made the pool (or made the call), a few
 * milliseconds of them per main loop iteration, so that a GUI stays
 * responsive while thousands of results come back. Blocking calls need
 * no main loop at all.
 *
 * Tasks are registered with mp_register_task() before mp_init(), as for
 * #MpProcess. A map sends its items in chunks (a job each); a worker runs
 * the task once per item and answers with the chunk's results. A map
 * over a large array of numbers shares its items and results with the
 * workers instead of sending them, and its result views that shared
 * memory. A blocking mp_pool_apply() on an idle pool talks to an idle
 * worker directly, without the pool's thread in between.
 *
 * While many jobs wait, a worker gets several in one message (a share of
 * the queue small enough that the other workers get theirs), and answers
 * them in one message, holding an answer only while it has more jobs of
 * that message to run and never more than a millisecond. A job with a
 * timeout, or with descriptors in its arguments, travels alone. A worker
 * that dies fails only the job it was running; the others it was sent go
 * back to the queue, including any that had finished but whose answers
 * died with it: those run again.
 */

/* Messages of jobs sent to a worker at most: the one it runs, and one
 * sent ahead so that it never waits for the pool between them. */
#define PIPELINE_DEPTH 2
/* How often a worker that was sent a job since cancelled is looked at:
 * the job is killed if it starts. */
#define CANCEL_POLL_MS 10
/* About how long the jobs of one message should take: batches are for
 * short jobs, where they save a round trip each; longer jobs go one by
 * one, as Python's workers take them, so that none waits behind another
 * while a worker is free. */
#define MESSAGE_WORK_US 2000.0

typedef enum
{
  POOL_RUNNING,
  POOL_CLOSED,       /* no new work; workers leave once it is done */
  POOL_TERMINATED,   /* everything stopped */
  POOL_BROKEN,       /* too many worker deaths */
} PoolState;

typedef struct _MapState MapState;
typedef struct _Worker Worker;

typedef struct
{
  guint64         id;
  MpPoolJobKind   kind;
  const char     *task;          /* interned */
  GVariant       *payload;
  guint           n_items;
  double          timeout;       /* seconds; <= 0: none */
  guint           attempts;      /* worker deaths while it ran */
  MpPoolResult   *result;        /* an apply's own result */
  MapState       *map;           /* a chunk's map */
  MpPoolIterator *iterator;      /* or its imap */
  guint           chunk;
  gboolean        cancelled;     /* under the pool's lock */
  gboolean        timed_out;     /* the pool thread's */
  gboolean        answered;      /* its result is out already */
  gboolean        ends_message;  /* the last job of the message it went in */
  gboolean        alone;         /* sent in a typed message of its own */
  gint64          sent_at;       /* monotonic time it went to its worker */
  gpointer        next_incoming; /* in MpPool.incoming */
} Job;

/* A map or imap: its chunks report here. */
struct _MapState
{
  gint            ref_count;
  MpPoolResult   *result;        /* map: the whole result */
  MpPoolIterator *iterator;      /* imap: where each chunk goes */
  MpPoolRegion   *region;        /* a map in place: its items, and room
                                  * for their results at results_at (0:
                                  * over the items, which then are kept
                                  * in @items for a chunk that runs again) */
  gsize           results_at;
  GVariant       *items;
  gsize           n_items;
  guint           chunksize;
  guint           n_chunks;
  guint           remaining;
  GVariant      **chunk_results;
  gboolean        failed;
};

struct _Worker
{
  MpPool         *pool;
  guint           index;
  MpProcess      *process;
  MpChannel      *channel;
  MpChannel      *line_channel;  /* its line's pool end, until it is ready */
  MpPoolLine     *line;          /* once ready: lent to blocking callers */
  GSource        *watch;
  GSource        *timer;
  GSource        *cancel_poll;   /* while a job sent to it is cancelled */
  GQueue          inflight;      /* of Job, in the order sent: the head is
                                  * running or done with its reply held */
  guint           n_messages;    /* messages of jobs not fully answered */
  MpPoolWorkerState *state;      /* its page: the job it runs */
  guint32         segments_sent; /* arena segments it has, by id */
  guint           n_sent;
  gint64          last_reply_at; /* monotonic time of its last answers */
  gboolean        ready;         /* said so: job clocks run from now */
  gboolean        retiring;      /* sent all it may run */
  gboolean        released;      /* told to stop: the pool is closed and done */
  gboolean        killed;        /* by the pool: timeout, cancel, terminate */
  gboolean        exited;
};

struct _MpPool
{
  GObject         parent_instance;

  /* Settings. */
  guint           n_workers;
  MpStartMethod   start_method;
  char           *initializer;
  GVariant       *initargs;
  guint           max_tasks_per_worker;
  guint           retries;
  double          task_timeout;
  guint           max_restarts;
  double          restart_period;

  GMainContext   *owner_context;
  int             owner_pid;     /* a copy in a forked child has no thread */
  MpDelivery     *owner_delivery;

  /* Progress, read from any thread. */
  guint64         n_submitted;
  guint64         n_completed;
  guint64         n_failed;
  gint            notify_scheduled;
  guint64         n_line_calls;  /* blocking applies that borrowed a worker */

  /* The pool's thread. */
  GThread        *thread;
  GMainContext   *context;
  GMainLoop      *loop;
  GSource        *kick;
  gboolean        started;
  GError         *start_error;

  /* Shared with callers, under lock. */
  GMutex          lock;
  GCond           cond;
  PoolState       state;
  GError         *broken_error;
  GQueue          pending;       /* of Job */
  gpointer        incoming;      /* Jobs pushed by callers without the lock,
                                  * newest first (see absorb_incoming_locked) */
  GPtrArray      *cancelled;     /* of MpPoolResult or MpPoolIterator to cancel */
  GPtrArray      *lines;         /* of MpPoolLine: the ready workers' */
  MpPoolArena    *arena;         /* maps in place */
  guint           n_live;        /* workers not yet exited */
  guint64         next_id;       /* atomic */
  gboolean        stopping;      /* the thread is to end */

  /* The pool thread's own. */
  GPtrArray      *workers;       /* of Worker */
  GArray         *deaths;        /* gint64 times of unexpected deaths */
  guint           next_worker_index;
  double          job_us;        /* a job's time, as answers tell (a moving
                                  * average); batches are sized from it */
  GArray         *chunks_done;   /* of ChunkDone: an imap's chunks answered
                                  * in the message being read, or NULL */
};

enum {
  PROP_0,
  PROP_N_WORKERS,
  PROP_START_METHOD,
  PROP_INITIALIZER,
  PROP_INITARGS,
  PROP_MAX_TASKS_PER_WORKER,
  PROP_RETRIES,
  PROP_TASK_TIMEOUT,
  PROP_MAX_RESTARTS,
  PROP_RESTART_PERIOD,
  PROP_N_SUBMITTED,
  PROP_N_COMPLETED,
  PROP_N_FAILED,
  N_PROPS
};

enum {
  SIGNAL_TASK_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void mp_pool_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpPool, mp_pool, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mp_pool_initable_iface_init))

static void kick (MpPool *self);
static void schedule (MpPool *self);
static void worker_start (MpPool *self);
static void stop_workers (MpPool *self);
static void cancel_result_cb (MpPoolResult *result, gpointer data);

/* ---- jobs ------------------------------------------------------------------ */

static MapState *
map_state_new (guint n_chunks)
{
  MapState *map = g_new0 (MapState, 1);

  map->ref_count = 1;
  map->n_chunks = n_chunks;
  map->remaining = n_chunks;
  map->chunk_results = g_new0 (GVariant *, n_chunks);
  return map;
}

static MapState *
map_state_ref (MapState *map)
{
  g_atomic_int_inc (&map->ref_count);
  return map;
}

static void
map_state_unref (MapState *map)
{
  if (!g_atomic_int_dec_and_test (&map->ref_count))
    return;
  for (guint i = 0; i < map->n_chunks; i++)
    g_clear_pointer (&map->chunk_results[i], g_variant_unref);
  g_free (map->chunk_results);
  /* Every job of the map is gone: no worker uses its region any more. */
  g_clear_pointer (&map->region, mp_pool_region_unref);
  g_clear_pointer (&map->items, g_variant_unref);
  g_clear_object (&map->result);
  g_clear_object (&map->iterator);
  g_free (map);
}

/* @task: interned (g_intern_string()): task names are few, and a job
 * keeps no copy of its own. */
static Job *
job_new (MpPool        *self,
         MpPoolJobKind  kind,
         const char    *task,
         GVariant      *payload,
         guint          n_items,
         double         timeout)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->task = task;
  job->payload = g_variant_ref_sink (payload);
  job->alone = mp_pool_value_travels_alone (job->payload);
  job->n_items = n_items;
  job->timeout = timeout < 0 ? self->task_timeout : timeout;
  return job;
}

static void
job_free (Job *job)
{
  g_variant_unref (job->payload);
  g_clear_object (&job->result);
  g_clear_object (&job->iterator);
  g_clear_pointer (&job->map, map_state_unref);
  g_free (job);
}

/* ---- progress -------------------------------------------------------------- */

static gboolean
notify_progress_cb (gpointer data)
{
  GWeakRef *ref = data;
  g_autoptr(MpPool) self = g_weak_ref_get (ref);

  if (self == NULL)
    return G_SOURCE_REMOVE;
  g_atomic_int_set (&self->notify_scheduled, 0);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SUBMITTED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_COMPLETED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_FAILED]);
  g_object_thaw_notify (G_OBJECT (self));
  return G_SOURCE_REMOVE;
}

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

/* In the owner's context: the notification 50 ms from now. */
static void
start_progress_timer (gpointer data,
                      gpointer unused)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);
  g_autoptr(MpPool) self = g_weak_ref_get (data);
  GSource *source;

  if (self == NULL)
    {
      g_free (ref);
      return;
    }
  g_weak_ref_init (ref, self);
  source = g_timeout_source_new (50);
  g_source_set_static_name (source, "[mp] pool progress");
  g_source_set_callback (source, notify_progress_cb, ref, weak_ref_free);
  /* The context this delivery runs in. */
  g_source_attach (source, g_source_get_context (g_main_current_source ()));
  g_source_unref (source);
}

/* The counters are notified at most every 50 ms: a progress bar does not
 * need 100,000 redraws. Through the delivery, so that the pool thread
 * never takes the owner context's lock. */
static void
progress_changed (MpPool *self)
{
  GWeakRef *ref;

  if (!g_atomic_int_compare_and_exchange (&self->notify_scheduled, 0, 1))
    return;
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, self);
  mp_pool_deliver (self->owner_delivery, start_progress_timer, ref, weak_ref_free);
}

typedef struct
{
  MpPool   *pool;
  char     *task;
  gboolean  success;
} Finished;

static void
finished_free (Finished *finished)
{
  g_object_unref (finished->pool);
  g_free (finished->task);
  g_free (finished);
}

static void
emit_finished (gpointer data,
               gpointer unused)
{
  Finished *finished = data;

  g_signal_emit (finished->pool, signals[SIGNAL_TASK_FINISHED], 0, finished->task, finished->success);
}

/* A job's outcome is known: count it and say so in the owner's context. */
static void
job_counted (MpPool  *self,
             Job     *job,
             gboolean success)
{
  __atomic_add_fetch (success ? &self->n_completed : &self->n_failed, job->n_items, __ATOMIC_RELAXED);
  progress_changed (self);
  if (g_signal_has_handler_pending (self, signals[SIGNAL_TASK_FINISHED], 0, TRUE))
    {
      Finished *finished = g_new (Finished, 1);

      finished->pool = g_object_ref (self);
      finished->task = g_strdup (job->task);
      finished->success = success;
      mp_pool_deliver (self->owner_delivery, emit_finished, finished, (GDestroyNotify) finished_free);
    }
}

/* ---- results --------------------------------------------------------------- */

/* The chunks' arrays as one: typed when they all have one element type. */
static GVariant *
join_chunks (GVariant **chunks,
             guint      n)
{
  const GVariantType *type = NULL;
  gboolean same = TRUE;
  GVariantBuilder builder;

  for (guint i = 0; i < n; i++)
    {
      const GVariantType *t = g_variant_get_type (chunks[i]);

      if (type == NULL)
        type = t;
      else if (!g_variant_type_equal (type, t))
        same = FALSE;
    }
  if (type == NULL)
    return g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);

  if (same && !g_variant_type_equal (type, G_VARIANT_TYPE ("av")))
    {
      /* Fixed-size elements: the arrays are their elements back to back. */
      if (mp_pool_type_is_fixed_basic (g_variant_type_element (type)))
        {
          gsize total = 0, at = 0;
          guint8 *data;

          for (guint i = 0; i < n; i++)
            total += g_variant_get_size (chunks[i]);
          data = g_malloc (MAX (total, 1));
          for (guint i = 0; i < n; i++)
            {
              gsize size = g_variant_get_size (chunks[i]);

              memcpy (data + at, g_variant_get_data (chunks[i]), size);
              at += size;
            }
          return g_variant_new_from_data (type, data, total, TRUE, g_free, data);
        }
      g_variant_builder_init (&builder, type);
      for (guint i = 0; i < n; i++)
        {
          GVariantIter iter;
          GVariant *child;

          g_variant_iter_init (&iter, chunks[i]);
          while ((child = g_variant_iter_next_value (&iter)))
            {
              g_variant_builder_add_value (&builder, child);
              g_variant_unref (child);
            }
        }
      return g_variant_builder_end (&builder);
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < n; i++)
    {
      gboolean boxed = g_variant_type_equal (g_variant_get_type (chunks[i]), G_VARIANT_TYPE ("av"));
      GVariantIter iter;
      GVariant *child;

      g_variant_iter_init (&iter, chunks[i]);
      while ((child = g_variant_iter_next_value (&iter)))
        {
          if (boxed)
            g_variant_builder_add_value (&builder, child);
          else
            g_variant_builder_add (&builder, "v", child);
          g_variant_unref (child);
        }
    }
  return g_variant_builder_end (&builder);
}

typedef struct
{
  MpPoolIterator  *iterator;
  MpPoolChunkDone  done;
} ChunkDone;

/* The imap chunks answered in one message go to their iterators together
 * (a lock each, not one per chunk). */
static void
flush_chunks_done (GArray *all)
{
  guint start = 0;

  while (start < all->len)
    {
      MpPoolIterator *iterator = g_array_index (all, ChunkDone, start).iterator;
      g_autofree MpPoolChunkDone *run = NULL;
      guint end = start;

      while (end < all->len && g_array_index (all, ChunkDone, end).iterator == iterator)
        end++;
      run = g_new (MpPoolChunkDone, end - start);
      for (guint i = start; i < end; i++)
        run[i - start] = g_array_index (all, ChunkDone, i).done;
      mp_pool_iterator_chunks_done (iterator, run, end - start);
      for (guint i = start; i < end; i++)
        g_object_unref (g_array_index (all, ChunkDone, i).iterator);
      start = end;
    }
  g_array_set_size (all, 0);
}

/* A map in place is done: its results, where the workers wrote them.
 * When every chunk's are numbers of one type, they become one array
 * (moved together first if smaller than the room each had) that views
 * the arena; otherwise the chunks are joined as those of any map. */
static GVariant *
join_in_place (MapState *map)
{
  g_autoptr(GVariantType) array_type = NULL;
  guint8 *room = mp_pool_region_get_data (map->region) + map->results_at;
  const char *element = NULL;
  gboolean same = TRUE;
  gsize size;

  for (guint c = 0; c < map->n_chunks; c++)
    {
      const char *e;

      if (!g_variant_is_of_type (map->chunk_results[c], G_VARIANT_TYPE (MP_POOL_IN_PLACE_DONE_TYPE)))
        {
          same = FALSE;
          continue;
        }
      g_variant_get_child (map->chunk_results[c], 0, "&s", &e);
      if (element == NULL)
        element = e;
      else if (!g_str_equal (element, e))
        same = FALSE;
    }

  if (same)
    {
      size = mp_element_size (element, NULL);
      if (size != MP_POOL_IN_PLACE_STRIDE)
        for (guint c = 1; c < map->n_chunks; c++)
          {
            gsize start = (gsize) c * map->chunksize;

            memmove (room + start * size, room + start * MP_POOL_IN_PLACE_STRIDE,
                     MIN (map->chunksize, map->n_items - start) * size);
          }
      {
        g_autoptr(GBytes) bytes = mp_pool_region_to_bytes (map->region, map->results_at, map->n_items * size);

        array_type = g_variant_type_new_array (G_VARIANT_TYPE (element));
        return g_variant_new_from_bytes (array_type, bytes, TRUE);
      }
    }

  /* Mixed: the chunks written in place as arrays of their own. */
  for (guint c = 0; c < map->n_chunks; c++)
    if (g_variant_is_of_type (map->chunk_results[c], G_VARIANT_TYPE (MP_POOL_IN_PLACE_DONE_TYPE)))
      {
        g_autoptr(GVariantType) chunk_type = NULL;
        g_autoptr(GBytes) bytes = NULL;
        const char *e;
        guint64 n;

        g_variant_get (map->chunk_results[c], "(&st)", &e, &n);
        chunk_type = g_variant_type_new_array (G_VARIANT_TYPE (e));
        bytes = mp_pool_region_to_bytes (map->region, map->results_at + (gsize) c * map->chunksize * MP_POOL_IN_PLACE_STRIDE,
                                         n * mp_element_size (e, NULL));
        g_variant_unref (map->chunk_results[c]);
        map->chunk_results[c] = g_variant_ref_sink (g_variant_new_from_bytes (chunk_type, bytes, TRUE));
      }
  return join_chunks (map->chunk_results, map->n_chunks);
}

/* The outcome of @job: takes @value or @error. The pool thread's, never
 * under the pool's lock (results take their own). */
static void
job_done (MpPool   *self,
          Job      *job,
          GVariant *value,
          GError   *error)
{
  gboolean success = (error == NULL);

  if (job->answered)
    {
      g_clear_pointer (&value, g_variant_unref);
      g_clear_error (&error);
      return;
    }
  job->answered = TRUE;
  job_counted (self, job, success);

  if (job->iterator != NULL)
    {
      if (self->chunks_done != NULL)
        {
          ChunkDone done = { g_object_ref (job->iterator), { job->chunk, value, error } };

          g_array_append_val (self->chunks_done, done);
        }
      else
        mp_pool_iterator_chunk_done (job->iterator, job->chunk, value, error);
      return;
    }
  if (job->map == NULL)
    {
      mp_pool_result_complete (job->result, value, error);
      return;
    }

  {
    MapState *map = job->map;

    if (map->failed)
      {
        g_clear_pointer (&value, g_variant_unref);
        g_clear_error (&error);
        return;
      }
    if (error != NULL)
      {
        /* The first failure is the map's, as Python's first exception;
         * the map's other chunks are dropped where they wait. */
        map->failed = TRUE;
        mp_pool_result_complete (map->result, NULL, error);
        return;
      }
    map->chunk_results[job->chunk] = value;
    if (--map->remaining == 0)
      mp_pool_result_complete (map->result,
                               map->region != NULL ? join_in_place (map)
                                                   : join_chunks (map->chunk_results, map->n_chunks),
                               NULL);
  }
}

static gboolean
job_is_cancelled (Job *job)
{
  return job->cancelled || (job->map != NULL && job->map->failed);
}

/* ---- submitting ------------------------------------------------------------ */

/* Callers submit without the lock (a loop thread must never wait for a
 * pool thread preempted while holding it); whoever takes the lock to look
 * at the queue moves their jobs in first, oldest first. */
static void
absorb_incoming_locked (MpPool *self)
{
  Job *job = __atomic_exchange_n (&self->incoming, NULL, __ATOMIC_ACQ_REL);
  Job *oldest = NULL;

  /* Reversed in place: oldest first. */
  while (job != NULL)
    {
      Job *next = job->next_incoming;

      job->next_incoming = oldest;
      oldest = job;
      job = next;
    }
  for (job = oldest; job != NULL; job = job->next_incoming)
    g_queue_push_tail (&self->pending, job);
}

static gboolean
check_running (MpPool  *self,
               GError **error)
{
  if (self->state == POOL_RUNNING)
    return TRUE;
  if (self->state == POOL_BROKEN && self->broken_error != NULL)
    g_propagate_error (error, g_error_copy (self->broken_error));
  else
    g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                         _("The pool is closed: it takes no more work"));
  return FALSE;
}

static gboolean
ensure_started (MpPool  *self,
                GError **error);

/* Queues @jobs (taken). */
static gboolean
queue_jobs (MpPool   *self,
            Job     **jobs,
            guint     n,
            guint64   n_items,
            GError  **error)
{
  gboolean wake = FALSE;

  if (!ensure_started (self, error))
    goto fail;
  if (__atomic_load_n (&self->state, __ATOMIC_ACQUIRE) != POOL_RUNNING)
    {
      g_mutex_lock (&self->lock);
      check_running (self, error);
      g_mutex_unlock (&self->lock);
      goto fail;
    }
  /* A pool stopped meanwhile fails these in schedule() or terminate(). */
  for (guint i = 0; i < n; i++)
    {
      Job *head;

      jobs[i]->id = __atomic_add_fetch (&self->next_id, 1, __ATOMIC_RELAXED);
      head = __atomic_load_n (&self->incoming, __ATOMIC_RELAXED);
      do
        jobs[i]->next_incoming = head;
      while (!__atomic_compare_exchange_n (&self->incoming, &head, jobs[i], TRUE,
                                           __ATOMIC_RELEASE, __ATOMIC_RELAXED));
      /* Only the first job after the pool thread took the stack wakes it:
       * the others find it awake (or about to take them). */
      if (head == NULL)
        wake = TRUE;
    }
  __atomic_add_fetch (&self->n_submitted, n_items, __ATOMIC_RELAXED);
  progress_changed (self);
  if (wake)
    kick (self);
  return TRUE;

fail:
  for (guint i = 0; i < n; i++)
    job_free (jobs[i]);
  return FALSE;
}

static gboolean
check_task (const char  *task,
            GError     **error)
{
  if (task == NULL || *task == '\0' || !mp_task_is_registered (task))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK,
                   _("No task is registered under the name “%s”"), task ? task : "");
      return FALSE;
    }
  return TRUE;
}

/**
 * mp_pool_submit:
 * @self: an #MpPool
 * @task: a registered task's name
 * @args: (nullable): its arguments (a floating reference is taken)
 * @timeout: seconds the task may run; negative: #MpPool:task-timeout
 * @error: return location for a #GError
 *
 * Gives the pool one call to run, as Python's `apply_async()` without
 * callbacks.
 *
 * Returns: (transfer full): the result to wait for, or %NULL with @error
 *   set (an unknown task, a closed pool)
 */
MpPoolResult *
mp_pool_submit (MpPool      *self,
                const char  *task,
                GVariant    *args,
                double       timeout,
                GError     **error)
{
  g_autoptr(MpPoolResult) result = NULL;
  Job *job;

  g_return_val_if_fail (MP_IS_POOL (self), NULL);

  if (args != NULL)
    g_variant_ref_sink (args);
  if (!check_task (task, error))
    {
      g_clear_pointer (&args, g_variant_unref);
      return NULL;
    }
  result = mp_pool_result_new (g_main_context_get_thread_default ());
  job = job_new (self, MP_POOL_JOB_APPLY, g_intern_string (task), args ? args : g_variant_new ("()"), 1, timeout);
  g_clear_pointer (&args, g_variant_unref);
  job->result = g_object_ref (result);
  mp_pool_result_set_cancel_func (result, cancel_result_cb, self);
  if (!queue_jobs (self, &job, 1, 1, error))
    return NULL;
  return g_steal_pointer (&result);
}

static gboolean
check_items (GVariant  *items,
             gboolean   star,
             GError   **error)
{
  if (items == NULL || !g_variant_is_container (items) ||
      !g_variant_type_is_array (g_variant_get_type (items)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A map takes an array of items, not “%s”"),
                   items ? g_variant_get_type_string (items) : "NULL");
      return FALSE;
    }
  if (star && !g_variant_type_is_tuple (g_variant_type_element (g_variant_get_type (items))))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A starmap takes an array of argument tuples, not “%s”"),
                   g_variant_get_type_string (items));
      return FALSE;
    }
  return TRUE;
}

/* Python's rule: about four chunks per worker. */
static guint
default_chunksize (MpPool *self,
                   gsize   n_items)
{
  gsize workers = MAX (self->n_workers, 1);
  gsize size = (n_items + 4 * workers - 1) / (4 * workers);

  return (guint) CLAMP (size, 1, G_MAXUINT);
}

/* Items @start .. @start + @n of @items, as an array of the same type;
 * a slice of the same memory when the elements have a fixed size. */
GVariant *
mp_pool_slice_items (GVariant *items,
                     gsize     start,
                     gsize     n)
{
  const GVariantType *type = g_variant_get_type (items);
  gsize fixed_size = 0;

  if (n == g_variant_n_children (items) && start == 0)
    return g_variant_ref (items);

  {
    /* The size of a fixed-size element, if the array is one of those. */
    g_autoptr(GVariant) first = g_variant_get_child_value (items, 0);

    if (mp_pool_type_is_fixed_basic (g_variant_type_element (type)))
      fixed_size = g_variant_get_size (first);
  }
  if (fixed_size > 0 && g_variant_get_size (items) == fixed_size * g_variant_n_children (items))
    {
      GBytes *all = g_variant_get_data_as_bytes (items);
      g_autoptr(GBytes) part = g_bytes_new_from_bytes (all, start * fixed_size, n * fixed_size);

      g_bytes_unref (all);
      return g_variant_ref_sink (g_variant_new_from_bytes (type, part, TRUE));
    }

  {
    g_autofree GVariant **children = g_new (GVariant *, n);
    GVariant *slice;

    for (gsize i = 0; i < n; i++)
      children[i] = g_variant_get_child_value (items, start + i);
    slice = g_variant_ref_sink (g_variant_new_array (g_variant_type_element (type), children, n));
    for (gsize i = 0; i < n; i++)
      g_variant_unref (children[i]);
    return slice;
  }
}

/* A map of numbers large enough to be worth it goes in place
 * (mp-pool-arena-private.h): room for its items in the pool's arena, and
 * for their results, over the items when those are 8 bytes each (no
 * fresh page to touch for them); no region when the arena is full. The
 * items are copied in chunk by chunk, each just before its job is
 * queued, so that workers start while the rest is copied. */
static void
map_in_place (MpPool   *self,
              MapState *map,
              GVariant *items)
{
  const GVariantType *element = g_variant_type_element (g_variant_get_type (items));
  gsize size, items_size;

  if (!mp_pool_type_goes_in_place (element))
    return;
  size = mp_element_size (g_variant_type_peek_string (element), NULL);
  items_size = g_variant_get_size (items);
  if (items_size < MP_POOL_BATCH_BYTES || map->n_items > G_MAXSIZE / (2 * MP_POOL_IN_PLACE_STRIDE))
    return;
  if (size == MP_POOL_IN_PLACE_STRIDE)
    {
      map->results_at = 0;
      map->region = mp_pool_arena_alloc (self->arena, items_size);
    }
  else
    {
      map->results_at = (items_size + 63) & ~(gsize) 63;
      map->region = mp_pool_arena_alloc (self->arena, map->results_at + map->n_items * MP_POOL_IN_PLACE_STRIDE);
    }
  if (map->region != NULL)
    map->items = g_variant_ref (items);
}

/* Copies the items of @chunk (of @map, in place) into the arena. */
static void
copy_in_items (MapState *map,
               guint     chunk)
{
  const char *element = g_variant_get_type_string (map->items) + 1;
  gsize size = mp_element_size (element, NULL);
  gsize start = (gsize) chunk * map->chunksize;
  gsize n = MIN (map->chunksize, map->n_items - start);

  memcpy (mp_pool_region_get_data (map->region) + start * size,
          (const guint8 *) g_variant_get_data (map->items) + start * size, n * size);
}

/* @job goes back to the queue after its worker died: it may have written
 * its results over its items already. */
static void
job_restore_items (Job *job)
{
  if (job->kind == MP_POOL_JOB_CHUNK_IN_PLACE && job->map->results_at == 0)
    copy_in_items (job->map, job->chunk);
}

/* An in-place chunk's payload, for a worker that has the map's segment
 * (send_payload() names the segment to one that has not). */
static GVariant *
in_place_payload (MapState *map,
                  GVariant *items,
                  gsize     start,
                  gsize     n)
{
  const char *element = g_variant_get_type_string (items) + 1;
  gsize offset, segment_size;
  guint id;
  int fd;

  id = mp_pool_region_get_segment (map->region, &fd, &segment_size, &offset);
  return g_variant_new (MP_POOL_IN_PLACE_TYPE, id, (guint64) (offset + start * mp_element_size (element, NULL)),
                        (guint64) n, element,
                        (guint64) (offset + map->results_at + start * MP_POOL_IN_PLACE_STRIDE));
}

static MpPoolResult *
submit_map (MpPool      *self,
            const char  *task,
            GVariant    *items,
            guint        chunksize,
            gboolean     star,
            GError     **error)
{
  g_autoptr(GVariant) owned = items ? g_variant_ref_sink (items) : NULL;
  g_autoptr(MpPoolResult) result = NULL;
  g_autofree Job **jobs = NULL;
  g_autoptr(GError) queue_error = NULL;
  gboolean in_place;
  MapState *map;
  gsize n_items;
  guint n_chunks;

  if (!check_task (task, error) || !check_items (owned, star, error))
    return NULL;

  result = mp_pool_result_new (g_main_context_get_thread_default ());
  n_items = g_variant_n_children (owned);
  if (n_items == 0)
    {
      if (!ensure_started (self, error))
        return NULL;
      g_mutex_lock (&self->lock);
      if (!check_running (self, error))
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      g_mutex_unlock (&self->lock);
      mp_pool_result_complete (result, g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0)),
                               NULL);
      return g_steal_pointer (&result);
    }
  if (chunksize == 0)
    chunksize = default_chunksize (self, n_items);
  n_chunks = (n_items + chunksize - 1) / chunksize;
  map = map_state_new (n_chunks);
  map->result = g_object_ref (result);
  map->n_items = n_items;
  map->chunksize = chunksize;
  task = g_intern_string (task);
  if (!star)
    map_in_place (self, map, owned);
  in_place = map->region != NULL;
  mp_pool_result_set_cancel_func (result, cancel_result_cb, self);
  jobs = g_new (Job *, n_chunks);
  for (guint c = 0; c < n_chunks; c++)
    {
      gsize start = (gsize) c * chunksize;
      gsize n = MIN (chunksize, n_items - start);

      if (in_place)
        jobs[c] = job_new (self, MP_POOL_JOB_CHUNK_IN_PLACE, task, in_place_payload (map, owned, start, n), n, -1);
      else
        {
          g_autoptr(GVariant) chunk = mp_pool_slice_items (owned, start, n);

          jobs[c] = job_new (self, MP_POOL_JOB_CHUNK, task, chunk, n, -1);
        }
      jobs[c]->map = map_state_ref (map);
      jobs[c]->chunk = c;
      if (!in_place)
        continue;
      /* In place: this chunk's items are in; its job goes at once. */
      copy_in_items (map, c);
      if (!queue_jobs (self, &jobs[c], 1, n, &queue_error))
        {
          /* The pool stopped meanwhile: the map fails with it (the chunks
           * queued before it end as the pool ends them). */
          mp_pool_result_complete (result, NULL, g_error_copy (queue_error));
          g_propagate_error (error, g_steal_pointer (&queue_error));
          map_state_unref (map);
          return NULL;
        }
    }
  map_state_unref (map);
  if (!in_place && !queue_jobs (self, jobs, n_chunks, n_items, error))
    return NULL;
  return g_steal_pointer (&result);
}

/**
 * mp_pool_submit_map:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array; each element is the arguments of one call (a
 *   floating reference is taken)
 * @chunksize: items per job; 0 for about four jobs per worker
 * @error: return location for a #GError
 *
 * Gives the pool a map, as Python's `map_async()` without callbacks. Its
 * result is the array of the calls' results in the order of @items
 * ("aT" when they all have type T, "av" otherwise), or the first error.
 *
 * Returns: (transfer full): the result to wait for, or %NULL with @error
 *   set
 */
MpPoolResult *
mp_pool_submit_map (MpPool      *self,
                    const char  *task,
                    GVariant    *items,
                    guint        chunksize,
                    GError     **error)
{
  g_return_val_if_fail (MP_IS_POOL (self), NULL);
  return submit_map (self, task, items, chunksize, FALSE, error);
}

gboolean
mp_pool_submit_chunks (MpPool          *self,
                       MpPoolIterator  *iterator,
                       const char      *task,
                       GVariant       **chunks,
                       guint            first,
                       guint            n,
                       GError         **error)
{
  g_autofree Job **jobs = g_new (Job *, n);
  guint64 n_items = 0;

  task = g_intern_string (task);
  for (guint i = 0; i < n; i++)
    {
      jobs[i] = job_new (self, MP_POOL_JOB_CHUNK, task, chunks[i], g_variant_n_children (chunks[i]), -1);
      jobs[i]->iterator = g_object_ref (iterator);
      jobs[i]->chunk = first + i;
      n_items += jobs[i]->n_items;
    }
  return queue_jobs (self, jobs, n, n_items, error);
}

/* ---- cancelling ------------------------------------------------------------ */

/* Any thread, with the result's lock held: only flags it. */
static void
cancel_result_cb (MpPoolResult *result,
                  gpointer      data)
{
  MpPool *self = data;

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->cancelled, g_object_ref (result));
  g_mutex_unlock (&self->lock);
  kick (self);
}

void
mp_pool_cancel_iterator (MpPool         *self,
                         MpPoolIterator *iterator)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->cancelled, g_object_ref (iterator));
  g_mutex_unlock (&self->lock);
  kick (self);
}

static gboolean
job_belongs_to (Job      *job,
                gpointer  owner)
{
  return (job->result != NULL && (gpointer) job->result == owner) ||
         (job->iterator != NULL && (gpointer) job->iterator == owner) ||
         (job->map != NULL && ((gpointer) job->map->result == owner || (gpointer) job->map->iterator == owner));
}

static GError *
cancelled_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The task was cancelled"));
}

/* The id of the job @worker runs: from its page, or (a worker without
 * one holds no reply) the head of the jobs sent to it. 0: none. */
static guint64
running_id (Worker *worker)
{
  Job *head;

  if (worker->state != NULL)
    return __atomic_load_n (&worker->state->running, __ATOMIC_ACQUIRE);
  head = g_queue_peek_head (&worker->inflight);
  return head != NULL ? head->id : 0;
}

static gboolean
cancel_poll_cb (gpointer data);

/* Kills @worker if the job it runs was cancelled; while a job sent to it
 * is cancelled but not running (yet), looks again every CANCEL_POLL_MS. */
static void
check_cancelled (Worker *worker)
{
  guint64 running = running_id (worker);
  gboolean waiting = FALSE;

  if (worker->killed || worker->exited)
    return;
  for (GList *l = worker->inflight.head; l != NULL; l = l->next)
    {
      Job *job = l->data;

      if (!job->cancelled)
        continue;
      if (job->id == running)
        {
          worker->killed = TRUE;
          mp_process_kill (worker->process, NULL);
          return;
        }
      waiting = TRUE;
    }
  if (waiting && worker->cancel_poll == NULL)
    {
      worker->cancel_poll = g_timeout_source_new (CANCEL_POLL_MS);
      g_source_set_static_name (worker->cancel_poll, "[mp] pool cancelled job");
      g_source_set_callback (worker->cancel_poll, cancel_poll_cb, worker, NULL);
      g_source_attach (worker->cancel_poll, worker->pool->context);
    }
  else if (!waiting && worker->cancel_poll != NULL)
    {
      g_source_destroy (worker->cancel_poll);
      g_clear_pointer (&worker->cancel_poll, g_source_unref);
    }
}

static gboolean
cancel_poll_cb (gpointer data)
{
  Worker *worker = data;

  g_clear_pointer (&worker->cancel_poll, g_source_unref);
  check_cancelled (worker);
  return G_SOURCE_REMOVE;
}

/* The pool thread: what was cancelled leaves the queue; a running job's
 * worker is killed (its exit fails the job). */
static void
handle_cancellations (MpPool *self)
{
  g_autoptr(GPtrArray) owners = NULL;
  GQueue dropped = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  if (self->cancelled->len == 0)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  owners = g_steal_pointer (&self->cancelled);
  self->cancelled = g_ptr_array_new_with_free_func (g_object_unref);
  for (GList *l = self->pending.head; l != NULL;)
    {
      GList *next = l->next;
      Job *job = l->data;

      for (guint i = 0; i < owners->len; i++)
        if (job_belongs_to (job, owners->pdata[i]))
          {
            g_queue_unlink (&self->pending, l);
            g_queue_push_tail_link (&dropped, l);
            break;
          }
      l = next;
    }
  g_cond_broadcast (&self->cond);
  for (guint w = 0; w < self->workers->len; w++)
    {
      Worker *worker = self->workers->pdata[w];

      for (GList *l = worker->inflight.head; l != NULL; l = l->next)
        {
          Job *job = l->data;

          for (guint i = 0; i < owners->len; i++)
            if (job_belongs_to (job, owners->pdata[i]))
              job->cancelled = TRUE;
        }
    }
  g_mutex_unlock (&self->lock);

  while (!g_queue_is_empty (&dropped))
    {
      Job *job = g_queue_pop_head (&dropped);

      job_done (self, job, NULL, cancelled_error ());
      job_free (job);
    }

  for (guint w = 0; w < self->workers->len; w++)
    {
      Worker *worker = self->workers->pdata[w];

      /* Jobs sent to a worker are answered now. One that runs ends with
       * its worker; the others' answers are dropped, and the worker is
       * looked at until they are in, in case one starts and hangs. */
      for (GList *l = worker->inflight.head; l != NULL; l = l->next)
        {
          Job *job = l->data;

          if (job->cancelled && !job->answered)
            job_done (self, job, NULL, cancelled_error ());
        }
      check_cancelled (worker);
    }
}

/* ---- workers --------------------------------------------------------------- */

static void worker_free (Worker *worker);
static void open_line (Worker *worker);
static gboolean worker_readable_cb (int fd, GIOCondition condition, gpointer data);
static void worker_exited_cb (MpProcess *process, int exitcode, gpointer data);

static gboolean
timer_cb (gpointer data)
{
  Worker *worker = data;
  Job *head = g_queue_peek_head (&worker->inflight);

  g_clear_pointer (&worker->timer, g_source_unref);
  if (head != NULL && !worker->exited)
    {
      head->timed_out = TRUE;
      worker->killed = TRUE;
      mp_process_kill (worker->process, NULL);
    }
  return G_SOURCE_REMOVE;
}

/* The head of @worker's jobs has just started running. */
static void
start_timer (Worker *worker)
{
  Job *head = g_queue_peek_head (&worker->inflight);

  if (worker->timer != NULL)
    {
      g_source_destroy (worker->timer);
      g_clear_pointer (&worker->timer, g_source_unref);
    }
  if (head == NULL || head->timeout <= 0 || !worker->ready)
    return;
  worker->timer = g_timeout_source_new ((guint) MIN (head->timeout * 1000.0, (double) G_MAXUINT));
  g_source_set_static_name (worker->timer, "[mp] pool task timeout");
  g_source_set_callback (worker->timer, timer_cb, worker, NULL);
  g_source_attach (worker->timer, worker->pool->context);
}

static void
worker_start (MpPool *self)
{
  Worker *worker = g_new0 (Worker, 1);
  g_autoptr(MpChannel) child_end = NULL;
  g_autoptr(MpChannel) line_end = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  GVariant *args;

  worker->pool = self;
  worker->index = self->next_worker_index++;
  g_queue_init (&worker->inflight);
  /* Counted from now: terminate() must not see no worker while one is
   * being started. */
  g_mutex_lock (&self->lock);
  self->n_live++;
  g_mutex_unlock (&self->lock);

  if (!mp_channel_new_pair (&worker->channel, &child_end, &error) ||
      !mp_channel_new_pair (&worker->line_channel, &line_end, &error))
    goto fail;
  args = g_variant_new (MP_POOL_WORKER_ARGS, mp_channel_get_fd (child_end), mp_channel_get_fd (line_end),
                        self->initializer ? self->initializer : "",
                        self->initargs ? self->initargs : g_variant_new ("()"),
                        (guint32) self->max_tasks_per_worker);
  worker->process = mp_process_new (MP_POOL_WORKER_TASK, args);
  name = g_strdup_printf ("PoolWorker-%u", worker->index + 1);
  mp_process_set_name (worker->process, name);
  mp_process_set_daemon (worker->process, TRUE);
  mp_process_set_start_method (worker->process, self->start_method);
  g_signal_connect (worker->process, "exited", G_CALLBACK (worker_exited_cb), worker);
  if (!mp_process_start (worker->process, &error))
    goto fail;
  /* The child has its own copies now. */
  g_clear_object (&child_end);
  g_clear_object (&line_end);

  worker->watch = g_unix_fd_source_new (mp_channel_get_fd (worker->channel), G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (worker->watch, G_SOURCE_FUNC (worker_readable_cb), worker, NULL);
  g_source_set_static_name (worker->watch, "[mp] pool worker");
  g_source_attach (worker->watch, self->context);
  g_ptr_array_add (self->workers, worker);
  return;

fail:
  g_warning ("libmp: could not start a pool worker: %s", error->message);
  g_mutex_lock (&self->lock);
  self->n_live--;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (worker->process != NULL)
    g_signal_handlers_disconnect_by_data (worker->process, worker);
  worker_free (worker);
}

static void
worker_free (Worker *worker)
{
  if (worker->watch != NULL)
    {
      g_source_destroy (worker->watch);
      g_source_unref (worker->watch);
    }
  if (worker->timer != NULL)
    {
      g_source_destroy (worker->timer);
      g_source_unref (worker->timer);
    }
  if (worker->cancel_poll != NULL)
    {
      g_source_destroy (worker->cancel_poll);
      g_source_unref (worker->cancel_poll);
    }
  if (worker->state != NULL)
    munmap (worker->state, sizeof *worker->state);
  if (worker->line != NULL)
    {
      mp_pool_line_close (worker->line);
      g_mutex_lock (&worker->pool->lock);
      g_ptr_array_remove (worker->pool->lines, worker->line);
      g_mutex_unlock (&worker->pool->lock);
      g_clear_pointer (&worker->line, mp_pool_line_unref);
    }
  g_queue_clear_full (&worker->inflight, (GDestroyNotify) job_free);
  g_clear_object (&worker->channel);
  g_clear_object (&worker->line_channel);
  if (worker->process != NULL)
    {
      g_signal_handlers_disconnect_by_data (worker->process, worker);
      g_object_unref (worker->process);
    }
  g_free (worker);
}

/* One answer from @worker (@value taken): it is for the job at the head. */
static gboolean
handle_one_reply (Worker   *worker,
                  guint64   id,
                  gboolean  ok,
                  GVariant *value)
{
  MpPool *self = worker->pool;
  Job *job = g_queue_peek_head (&worker->inflight);

  if (job == NULL || id != job->id)
    {
      g_variant_unref (value);
      return FALSE;
    }

  g_queue_pop_head (&worker->inflight);
  if (job->ends_message)
    worker->n_messages--;
  if (ok)
    job_done (self, job, value, NULL);
  else
    {
      job_done (self, job, NULL, mp_pool_error_from_variant (value));
      g_variant_unref (value);
    }
  job_free (job);
  return TRUE;
}

/* @n jobs were answered in one message, the first of them sent at
 * @sent_at: the time they took, each, goes into the pool's average (the
 * worker ran them since it answered the ones before, or since they came). */
static void
count_job_time (Worker *worker,
                guint   n,
                gint64  sent_at)
{
  MpPool *self = worker->pool;
  gint64 now = g_get_monotonic_time ();
  gint64 since = MAX (worker->last_reply_at, sent_at);

  worker->last_reply_at = now;
  if (n == 0 || since <= 0)
    return;
  self->job_us += ((double) (now - since) / n - self->job_us) / 4;
}

/* "Ready", with the worker's page; or the answers to one or more jobs:
 * the next one's clock starts once they are in. */
static gboolean
handle_reply (Worker    *worker,
              MpMessage *message)
{
  Job *first = g_queue_peek_head (&worker->inflight);
  gint64 sent_at = first != NULL ? first->sent_at : 0;
  guint before = g_queue_get_length (&worker->inflight);
  gboolean ok = TRUE;

  if (g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_REPLY_TYPE)))
    {
      guint64 id;

      g_variant_get_child (message->body, 0, "t", &id);
      if (id == 0 && !worker->ready)
        {
          int fd = mp_message_steal_fd (message, 0);

          if (fd >= 0)
            {
              void *state = mmap (NULL, sizeof (MpPoolWorkerState), PROT_READ, MAP_SHARED, fd, 0);

              if (state != MAP_FAILED)
                worker->state = state;
              close (fd);
            }
          worker->ready = TRUE;
          worker->last_reply_at = g_get_monotonic_time ();
          open_line (worker);
          start_timer (worker);
          return TRUE;
        }
      {
        GVariant *value;
        gboolean success;

        g_variant_get (message->body, "(tbv)", &id, &success, &value);
        ok = handle_one_reply (worker, id, success, value);
      }
    }
  else if (g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_RECORDS_TYPE)))
    {
      MpPoolRecordReader reader;
      g_autoptr(GError) error = NULL;
      const char *name, *type;
      gsize offset, size;
      guint64 id;
      guint8 success;

      mp_pool_record_reader_init (&reader, message->body);
      while (ok && mp_pool_record_reader_next_bytes (&reader, &id, &success, &name, &offset, &size, &type, &error))
        {
          Job *job = g_queue_peek_head (&worker->inflight);

          /* An apply's value: made by whoever reads it, from the
           * message's bytes (nothing allocated here per result for the
           * loop thread to free). */
          if (success && job != NULL && job->id == id && job->result != NULL && job->map == NULL &&
              job->iterator == NULL)
            {
              g_queue_pop_head (&worker->inflight);
              if (job->ends_message)
                worker->n_messages--;
              if (!job->answered)
                {
                  job->answered = TRUE;
                  job_counted (worker->pool, job, TRUE);
                  mp_pool_result_complete_bytes (job->result, reader.bytes, offset, size, type);
                }
              job_free (job);
            }
          else
            ok = handle_one_reply (worker, id, success, mp_pool_record_value (reader.bytes, offset, size, type));
        }
      mp_pool_record_reader_clear (&reader);
      if (error != NULL)
        ok = FALSE;
    }
  else
    return FALSE;
  count_job_time (worker, before - g_queue_get_length (&worker->inflight), sent_at);
  start_timer (worker);
  check_cancelled (worker);
  return ok;
}

/* Reads every answer waiting from @worker. */
static void
drain_replies (Worker *worker)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gboolean would_block, ok;
      MpMessage *message = mp_channel_try_receive (worker->channel, &would_block, &error);
      GArray *chunks_done;

      if (message == NULL)
        return;
      /* A message's results go to their contexts together. */
      mp_pool_deliveries_begin ();
      chunks_done = g_array_new (FALSE, FALSE, sizeof (ChunkDone));
      worker->pool->chunks_done = chunks_done;
      ok = handle_reply (worker, message);
      worker->pool->chunks_done = NULL;
      flush_chunks_done (chunks_done);
      g_array_unref (chunks_done);
      mp_pool_deliveries_end ();
      if (!ok && !worker->killed)
        {
          /* A worker that says something else is broken: replace it. */
          g_warning ("libmp: a pool worker sent an unexpected message");
          worker->killed = TRUE;
          mp_process_kill (worker->process, NULL);
        }
      mp_message_free (message);
    }
}

static gboolean
worker_readable_cb (int          fd,
                    GIOCondition condition,
                    gpointer     data)
{
  Worker *worker = data;

  drain_replies (worker);
  if (condition & (G_IO_HUP | G_IO_ERR))
    {
      /* Its exit is handled in worker_exited_cb(). */
      g_clear_pointer (&worker->watch, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  schedule (worker->pool);
  return G_SOURCE_CONTINUE;
}

static char *
describe_exit (int      exitcode,
               gboolean refused)
{
  if (exitcode < 0)
    return g_strdup_printf (_("killed by signal %d (%s)"), -exitcode, g_strsignal (-exitcode));
  if (refused)
    return g_strdup (_("ended because its language runtime refused to run a task"));
  return g_strdup_printf (_("exited with status %d"), exitcode);
}

/* An unexpected death; TRUE when there were too many lately. */
static gboolean
count_death (MpPool *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 since = now - (gint64) (self->restart_period * G_USEC_PER_SEC);
  guint kept = 0;

  for (guint i = 0; i < self->deaths->len; i++)
    if (g_array_index (self->deaths, gint64, i) >= since)
      g_array_index (self->deaths, gint64, kept++) = g_array_index (self->deaths, gint64, i);
  g_array_set_size (self->deaths, kept);
  g_array_append_val (self->deaths, now);
  return self->deaths->len > self->max_restarts;
}

static void
break_pool (MpPool *self,
            GError *error)
{
  GQueue dropped = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  if (self->state == POOL_RUNNING || self->state == POOL_CLOSED)
    {
      self->state = POOL_BROKEN;
      g_clear_error (&self->broken_error);
      self->broken_error = g_error_copy (error);
    }
  while (!g_queue_is_empty (&self->pending))
    g_queue_push_tail (&dropped, g_queue_pop_head (&self->pending));
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  while (!g_queue_is_empty (&dropped))
    {
      Job *job = g_queue_pop_head (&dropped);

      job_done (self, job, NULL, g_error_copy (error));
      job_free (job);
    }
  stop_workers (self);
}

static gint
compare_job_ids (gconstpointer a,
                 gconstpointer b,
                 gpointer      unused)
{
  guint64 x = ((const Job *) a)->id, y = ((const Job *) b)->id;

  return x < y ? -1 : x > y;
}

/* A job its worker did not finish goes first in the queue again, with
 * the items it may have written over. */
static void
requeue_job (MpPool *self,
             Job    *job)
{
  job_restore_items (job);
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  g_queue_push_head (&self->pending, job);
  g_mutex_unlock (&self->lock);
}

static void
worker_exited_cb (MpProcess *process,
                  int        exitcode,
                  gpointer   data)
{
  Worker *worker = data;
  MpPool *self = worker->pool;
  g_autoptr(GError) init_error = NULL;
  gboolean unexpected, refused;
  Job *head, *lent = NULL;
  PoolState state;

  worker->exited = TRUE;
  /* Its language runtime refused a job (mp-pool-worker.c), not a task's
   * own exit with the same status. */
  refused = exitcode == MP_POOL_WORKER_EXIT_REFUSED && worker->state != NULL &&
            __atomic_load_n (&worker->state->refused, __ATOMIC_ACQUIRE) != 0;
  /* A blocking caller's job, if it had borrowed the worker: the one it
   * was running. A caller that killed it (a timeout, a cancel) says so. */
  if (worker->line != NULL)
    {
      mp_pool_line_close (worker->line);
      lent = mp_pool_line_take (worker->line);
      if (mp_pool_line_was_killed (worker->line))
        worker->killed = TRUE;
    }
  /* Answers sent before the end still count. */
  drain_replies (worker);
  if (worker->timer != NULL)
    {
      g_source_destroy (worker->timer);
      g_clear_pointer (&worker->timer, g_source_unref);
    }

  g_mutex_lock (&self->lock);
  state = self->state;
  g_mutex_unlock (&self->lock);

  /* The job it was running: the one its page names (jobs before it are
   * done, their answers lost with it; they go back to the queue with the
   * ones after it), else the head. */
  if (worker->state != NULL)
    {
      guint64 id = running_id (worker);

      head = NULL;
      for (GList *l = worker->inflight.head; id != 0 && l != NULL; l = l->next)
        if (((Job *) l->data)->id == id)
          {
            head = l->data;
            g_queue_delete_link (&worker->inflight, l);
            break;
          }
    }
  else
    head = g_queue_pop_head (&worker->inflight);
  if (lent != NULL)
    {
      /* Never with jobs from the pool, which waits for a lent worker. */
      if (head != NULL)
        g_queue_push_head (&worker->inflight, head);
      head = lent;
    }
  unexpected = !worker->killed && state != POOL_TERMINATED && state != POOL_BROKEN &&
               (head != NULL || exitcode != 0 || !(worker->retiring || worker->released));
  /* A worker that ended by itself before it said it was ready (its
   * start-up or its initializer failed) never ran the job it was sent:
   * the job goes back to the queue, and the worker's error says why. */
  if (exitcode > 0 && !worker->ready)
    mp_process_check_error (process, &init_error);
  if (!worker->ready && !worker->killed && head != NULL && !head->cancelled &&
      (state == POOL_RUNNING || state == POOL_CLOSED))
    {
      g_queue_push_head (&worker->inflight, head);
      head = NULL;
    }
  /* Killed by the pool for another job's sake (one cancelled that ended
   * just before): this one goes back to the queue too. */
  if (worker->killed && worker->state != NULL && head != NULL && !head->cancelled && !head->timed_out &&
      !head->answered && (state == POOL_RUNNING || state == POOL_CLOSED))
    {
      g_queue_insert_sorted (&worker->inflight, head, compare_job_ids, NULL);
      head = NULL;
    }

  /* Its language runtime refused the job (mp-task.c): not the job's
   * fault, so it runs again in a fresh worker without spending a retry.
   * The death still counts towards max-restarts, which ends a job that
   * every worker refuses. */
  if (refused && head != NULL && __atomic_load_n (&worker->state->refused, __ATOMIC_ACQUIRE) == head->id &&
      !head->cancelled && !head->timed_out && !head->answered && (state == POOL_RUNNING || state == POOL_CLOSED))
    {
      requeue_job (self, head);
      head = NULL;
    }

  if (head != NULL)
    {
      g_autofree char *how = describe_exit (exitcode, refused);

      if (head->answered)
        ;
      else if (head->cancelled)
        job_done (self, head, NULL, cancelled_error ());
      else if (head->timed_out)
        job_done (self, head, NULL,
                  g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               _("The task “%s” ran longer than %g s: its worker was killed"),
                               head->task, head->timeout));
      else if (state == POOL_TERMINATED || state == POOL_BROKEN)
        job_done (self, head, NULL,
                  g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _("The pool was terminated")));
      else if (head->attempts++ < self->retries)
        {
          requeue_job (self, head);
          head = NULL;
        }
      else
        job_done (self, head, NULL,
                  g_error_new (MP_ERROR, MP_ERROR_WORKER_DIED,
                               _("The worker (pid %d) running the task “%s” %s"),
                               mp_process_get_pid (process), head->task, how));
      g_clear_pointer (&head, job_free);
    }

  /* A job timed out that ended just before its worker was killed: its
   * answer is lost, but it did run too long. */
  for (GList *l = worker->inflight.head; l != NULL; l = l->next)
    {
      Job *job = l->data;

      if (job->timed_out && !job->answered)
        job_done (self, job, NULL,
                  g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               _("The task “%s” ran longer than %g s: its worker was killed"),
                               job->task, job->timeout));
    }

  /* Jobs sent ahead never started, or ended without their answers: back
   * to the front of the queue (the end of a stopped pool fails them in
   * schedule()). */
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  while (!g_queue_is_empty (&worker->inflight))
    {
      Job *job = g_queue_pop_tail (&worker->inflight);

      if (job->answered)
        job_free (job);
      else
        {
          job_restore_items (job);
          g_queue_push_head (&self->pending, job);
        }
    }
  self->n_live--;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  g_ptr_array_remove (self->workers, worker);
  worker_free (worker);

  if (unexpected && count_death (self))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *how = describe_exit (exitcode, refused);

      if (init_error != NULL)
        error = g_error_new (MP_ERROR, MP_ERROR_POOL_BROKEN,
                             _("The pool's workers died %u times within %g s (the last %s: %s)"),
                             self->deaths->len, self->restart_period, how, init_error->message);
      else
        error = g_error_new (MP_ERROR, MP_ERROR_POOL_BROKEN,
                             _("The pool's workers died %u times within %g s (the last %s)"),
                             self->deaths->len, self->restart_period, how);
      break_pool (self, error);
    }
  /* Through the kick: it also ends the thread once the pool is disposed. */
  kick (self);
}

/* Kills every worker (the pool thread). */
static void
stop_workers (MpPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *worker = self->workers->pdata[i];

      if (!worker->exited && !worker->killed)
        {
          worker->killed = TRUE;
          mp_process_kill (worker->process, NULL);
        }
    }
}

/* How many waiting jobs go in one message to a worker: a share of the
 * queue small enough that the other workers get theirs (a job sent to a
 * worker waits for it, even if another falls idle), as guided
 * scheduling does, and at most MP_POOL_BATCH_MAX. */
static guint
batch_size (MpPool *self,
            guint   pending,
            guint   n_workers)
{
  double fit = MESSAGE_WORK_US / MAX (self->job_us, 0.1);
  guint n = pending / (2 * MAX (n_workers, 1));

  if (fit < n)
    n = (guint) fit;
  return CLAMP (n, 1, MP_POOL_BATCH_MAX);
}

/* The arena segment of an in-place chunk. */
static guint
job_segment (Job *job)
{
  gsize segment_size, offset;
  int fd;

  return mp_pool_region_get_segment (job->map->region, &fd, &segment_size, &offset);
}

/* Whether @job goes to @worker in a typed message of its own: see
 * job_new(); and an in-place chunk whose segment the worker has not had,
 * which carries the segment's descriptor. */
static gboolean
job_alone (Worker *worker,
           Job    *job)
{
  return job->alone ||
         (job->kind == MP_POOL_JOB_CHUNK_IN_PLACE && !(worker->segments_sent & (1u << job_segment (job))));
}

/* @job's payload for @worker (a full reference): an in-place chunk names
 * its segment's descriptor to a worker that has not had it. */
static GVariant *
send_payload (Worker *worker,
              Job    *job)
{
  gsize segment_size, offset;
  guint64 items_at, n, results_at;
  const char *element;
  guint32 id;
  int fd;

  if (job->kind != MP_POOL_JOB_CHUNK_IN_PLACE || (worker->segments_sent & (1u << job_segment (job))))
    return g_variant_ref (job->payload);
  mp_pool_region_get_segment (job->map->region, &fd, &segment_size, &offset);
  g_variant_get (job->payload, "(utt&st)", &id, &items_at, &n, &element, &results_at);
  return g_variant_ref_sink (g_variant_new (MP_POOL_IN_PLACE_NEW_TYPE, (gint32) fd, id, (guint64) segment_size,
                                            items_at, n, element, results_at));
}

/* Sends @worker the next waiting jobs, up to @max, in one message; FALSE
 * when there is none or the worker cannot take them. A job with a
 * timeout travels alone, so that its answer is never held behind
 * another's and its clock starts once the jobs before it are answered. */
static gboolean
send_jobs (MpPool *self,
           Worker *worker,
           guint   n_workers)
{
  Job *batch[MP_POOL_BATCH_MAX];
  g_autoptr(MpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  GQueue dropped = G_QUEUE_INIT;
  gsize bytes = 0;
  guint n = 0, max;

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  max = batch_size (self, g_queue_get_length (&self->pending), n_workers);
  if (self->max_tasks_per_worker > 0)
    max = MIN (max, self->max_tasks_per_worker - worker->n_sent);
  while (n < max && bytes < MP_POOL_BATCH_BYTES)
    {
      Job *job = g_queue_peek_head (&self->pending);

      if (job == NULL)
        break;
      if (job_is_cancelled (job))
        {
          g_queue_push_tail (&dropped, g_queue_pop_head (&self->pending));
          continue;
        }
      /* Alone: a job with a timeout, or one whose payload may hold
       * handles (a typed message carries their descriptors) or is large. */
      if (n > 0 && (job->timeout > 0 || batch[0]->timeout > 0 || job_alone (worker, job) ||
                    job_alone (worker, batch[0])))
        break;
      batch[n++] = g_queue_pop_head (&self->pending);
      bytes += g_variant_get_size (job->payload) + strlen (job->task) + 16;
    }
  g_mutex_unlock (&self->lock);

  while (!g_queue_is_empty (&dropped))
    {
      Job *job = g_queue_pop_head (&dropped);

      job_done (self, job, NULL, cancelled_error ());
      job_free (job);
    }
  if (n == 0)
    return FALSE;

  if (job_alone (worker, batch[0]))
    {
      g_autoptr(GVariant) payload = send_payload (worker, batch[0]);

      message = mp_message_new (MP_WIRE_KIND_VALUE,
                                g_variant_new (MP_POOL_JOB_TYPE, batch[0]->id, (guint8) batch[0]->kind,
                                               batch[0]->task, payload));
    }
  else
    {
      MpPoolRecords records;

      mp_pool_records_init (&records);
      for (guint i = 0; i < n; i++)
        mp_pool_records_add (&records, batch[i]->id, (guint8) batch[i]->kind, batch[i]->task, batch[i]->payload);
      message = mp_message_new (MP_WIRE_KIND_VALUE, mp_pool_records_end (&records));
      mp_pool_records_clear (&records);
    }
  if (!mp_channel_send (worker->channel, message, NULL, &error))
    {
      /* The worker is going: the jobs wait for another. */
      g_mutex_lock (&self->lock);
      absorb_incoming_locked (self);
      for (guint i = n; i > 0; i--)
        g_queue_push_head (&self->pending, batch[i - 1]);
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  {
    gint64 now = g_get_monotonic_time ();

    for (guint i = 0; i < n; i++)
      {
        if (batch[i]->kind == MP_POOL_JOB_CHUNK_IN_PLACE)
          worker->segments_sent |= 1u << job_segment (batch[i]);
        batch[i]->ends_message = (i == n - 1);
        batch[i]->sent_at = now;
        g_queue_push_tail (&worker->inflight, batch[i]);
      }
  }
  worker->n_messages++;
  if (g_queue_get_length (&worker->inflight) == n)
    start_timer (worker);
  worker->n_sent += n;
  if (self->max_tasks_per_worker > 0 && worker->n_sent >= self->max_tasks_per_worker)
    worker->retiring = TRUE;
  return TRUE;
}

static gboolean
worker_takes_jobs (Worker *worker)
{
  return !worker->exited && !worker->killed && !worker->retiring && !worker->released;
}

/* A ready worker's line, for blocking callers to borrow while it has
 * nothing from the pool; none where workers retire after a number of
 * jobs (the pool counts the jobs it sends). */
static void
open_line (Worker *worker)
{
  MpPool *self = worker->pool;
  int pidfd;

  if (self->max_tasks_per_worker > 0 || worker->line_channel == NULL)
    return;
  pidfd = mp_pidfd_open (mp_process_get_pid (worker->process));
  if (pidfd < 0)
    return;
  worker->line = mp_pool_line_new (g_steal_pointer (&worker->line_channel), pidfd);
  if (!g_queue_is_empty (&worker->inflight))
    mp_pool_line_move (worker->line, MP_POOL_LINE_IDLE, MP_POOL_LINE_POOL);
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->lines, mp_pool_line_ref (worker->line));
  g_mutex_unlock (&self->lock);
}

/* Before the pool thread sends @worker jobs: FALSE while a caller has
 * borrowed it. */
static gboolean
worker_claim (Worker *worker)
{
  if (worker->line == NULL)
    return TRUE;
  return mp_pool_line_get_state (worker->line) == MP_POOL_LINE_POOL ||
         mp_pool_line_move (worker->line, MP_POOL_LINE_IDLE, MP_POOL_LINE_POOL);
}

/* @worker has nothing from the pool any more: callers may borrow it. */
static void
worker_unclaim (Worker *worker)
{
  if (worker->line != NULL && g_queue_is_empty (&worker->inflight) && worker_takes_jobs (worker))
    mp_pool_line_move (worker->line, MP_POOL_LINE_POOL, MP_POOL_LINE_IDLE);
}

/* Before @worker is let go: FALSE while a caller has borrowed it (the
 * caller looks again once it gives it back). */
static gboolean
worker_close_line (Worker *worker)
{
  if (worker->line == NULL)
    return TRUE;
  if (mp_pool_line_move (worker->line, MP_POOL_LINE_IDLE, MP_POOL_LINE_CLOSED) ||
      mp_pool_line_move (worker->line, MP_POOL_LINE_POOL, MP_POOL_LINE_CLOSED))
    return TRUE;
  return mp_pool_line_get_state (worker->line) == MP_POOL_LINE_CLOSED;
}

/* The pool thread: hands waiting jobs to workers with room, keeps the
 * number of workers, and lets them go once a closed pool is done. */
static void
schedule (MpPool *self)
{
  PoolState state;
  guint pending, n_taking = 0;

  handle_cancellations (self);

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  state = self->state;
  pending = g_queue_get_length (&self->pending);
  g_mutex_unlock (&self->lock);

  if (state == POOL_TERMINATED || state == POOL_BROKEN)
    {
      GQueue dropped = G_QUEUE_INIT;
      g_autoptr(GError) error = NULL;

      g_mutex_lock (&self->lock);
      absorb_incoming_locked (self);
      error = self->broken_error ? g_error_copy (self->broken_error)
                                 : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _("The pool was terminated"));
      while (!g_queue_is_empty (&self->pending))
        g_queue_push_tail (&dropped, g_queue_pop_head (&self->pending));
      /* join() may be waiting for the queue to empty. */
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      while (!g_queue_is_empty (&dropped))
        {
          Job *job = g_queue_pop_head (&dropped);

          job_done (self, job, NULL, g_error_copy (error));
          job_free (job);
        }
      stop_workers (self);
      return;
    }

  /* Replace workers that are gone while there is work or a future. */
  while (self->workers->len < self->n_workers && (state == POOL_RUNNING || pending > 0))
    {
      guint before = self->workers->len;

      worker_start (self);
      if (self->workers->len == before)
        {
          g_autoptr(GError) error = g_error_new_literal (MP_ERROR, MP_ERROR_POOL_BROKEN,
                                                         _("The pool could not start a worker"));
          if (count_death (self))
            {
              break_pool (self, error);
              return;
            }
          break;
        }
    }

  for (guint i = 0; i < self->workers->len; i++)
    if (worker_takes_jobs (self->workers->pdata[i]))
      n_taking++;

  /* Idle workers first, a message of jobs each, as Python's workers take
   * the next task when free; a second message is sent ahead only while
   * more jobs wait than there are workers, where it saves the round trip
   * and cannot keep a job waiting behind a long one that a free worker
   * could run. */
  for (guint depth = 1; depth <= PIPELINE_DEPTH; depth++)
    {
      if (depth > 1)
        {
          g_mutex_lock (&self->lock);
          absorb_incoming_locked (self);
          pending = g_queue_get_length (&self->pending);
          g_mutex_unlock (&self->lock);
          if (pending < self->workers->len)
            break;
        }
      for (guint i = 0; i < self->workers->len; i++)
        {
          Worker *worker = self->workers->pdata[i];

          if (worker_takes_jobs (worker) && worker->n_messages < depth && worker_claim (worker))
            send_jobs (self, worker, n_taking);
        }
    }
  for (guint i = 0; i < self->workers->len; i++)
    worker_unclaim (self->workers->pdata[i]);

/* A closed pool with nothing left: the workers may go. They are told
   * so: a forked sibling may hold a copy of the channel, so closing it
   * would not end its input. */
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  pending = g_queue_get_length (&self->pending);
  state = self->state;
  g_mutex_unlock (&self->lock);
  if (state == POOL_CLOSED && pending == 0)
    for (guint i = 0; i < self->workers->len; i++)
      {
        Worker *worker = self->workers->pdata[i];

        if (g_queue_is_empty (&worker->inflight) && !worker->exited && !worker->released &&
            worker_close_line (worker))
          {
            g_autoptr(MpMessage) stop = mp_message_new (MP_WIRE_KIND_VALUE,
                                                        g_variant_new (MP_POOL_JOB_TYPE, (guint64) 0,
                                                                       (guint8) MP_POOL_JOB_STOP, "",
                                                                       g_variant_new ("()")));

            worker->released = TRUE;
            if (!mp_channel_send (worker->channel, stop, NULL, NULL) && !worker->killed)
              {
                worker->killed = TRUE;
                mp_process_kill (worker->process, NULL);
              }
          }
      }
}

/* ---- the pool's thread ----------------------------------------------------- */

typedef struct
{
  GSource source;
  int     fd;
} KickSource;

static gboolean
kick_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  mp_wakeup_clear (((KickSource *) source)->fd);
  return callback (user_data);
}

static void
kick_finalize (GSource *source)
{
  close (((KickSource *) source)->fd);
}

static GSourceFuncs kick_funcs = { NULL, NULL, kick_dispatch, kick_finalize, NULL, NULL };

static gboolean
kick_cb (gpointer data)
{
  MpPool *self = data;
  gboolean stopping;

  schedule (self);
  g_mutex_lock (&self->lock);
  stopping = self->stopping && self->n_live == 0;
  g_mutex_unlock (&self->lock);
  if (stopping)
    g_main_loop_quit (self->loop);
  return G_SOURCE_CONTINUE;
}

/* Any thread: the pool thread looks at its queues again. */
static void
kick (MpPool *self)
{
  /* Not g_source_set_ready_time(): that takes the context's lock, and a
   * caller preempted while holding it stalls the pool thread. */
  if (self->kick != NULL)
    mp_wakeup_signal (((KickSource *) self->kick)->fd);
}

static gpointer
pool_thread (gpointer data)
{
  MpPool *self = data;

  g_main_context_push_thread_default (self->context);
  g_mutex_lock (&self->lock);
  __atomic_store_n (&self->started, TRUE, __ATOMIC_RELEASE);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  schedule (self);
  g_main_loop_run (self->loop);

  /* Nothing runs any more: what is left is dropped. */
  while (self->workers->len > 0)
    {
      Worker *worker = self->workers->pdata[self->workers->len - 1];

      g_ptr_array_remove_index (self->workers, self->workers->len - 1);
      worker_free (worker);
    }
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static gboolean
ensure_started (MpPool  *self,
                GError **error)
{
  /* Started once and for all: no lock on the way of every call. */
  if (__atomic_load_n (&self->started, __ATOMIC_ACQUIRE))
    return TRUE;
  g_mutex_lock (&self->lock);
  if (self->thread == NULL && self->start_error == NULL)
    {
      if (self->n_workers == 0)
        self->n_workers = mp_cpu_count ();
      self->context = g_main_context_new ();
      self->loop = g_main_loop_new (self->context, FALSE);
      self->kick = g_source_new (&kick_funcs, sizeof (KickSource));
      ((KickSource *) self->kick)->fd = mp_wakeup_new ();
      g_source_add_unix_fd (self->kick, ((KickSource *) self->kick)->fd, G_IO_IN);
      g_source_set_static_name (self->kick, "[mp] pool kick");
      g_source_set_callback (self->kick, kick_cb, self, NULL);
      g_source_attach (self->kick, self->context);
      self->thread = g_thread_new ("mp-pool", pool_thread, self);
      while (!self->started)
        g_cond_wait (&self->cond, &self->lock);
    }
  if (self->start_error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->start_error));
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- GObject --------------------------------------------------------------- */

static void
mp_pool_dispose (GObject *object)
{
  MpPool *self = MP_POOL (object);

  /* A copy of a pool in a forked child: its thread and workers are the
   * parent's; nothing here to stop or wait for. */
  if (self->thread != NULL && getpid () != self->owner_pid)
    {
      self->thread = NULL;
      self->kick = NULL;
      self->context = NULL;
      self->loop = NULL;
    }
  if (self->thread != NULL)
    {
      mp_pool_terminate (self);
      g_mutex_lock (&self->lock);
      self->stopping = TRUE;
      g_mutex_unlock (&self->lock);
      kick (self);
      g_thread_join (self->thread);
      self->thread = NULL;
    }
  G_OBJECT_CLASS (mp_pool_parent_class)->dispose (object);
}

static void
mp_pool_finalize (GObject *object)
{
  MpPool *self = MP_POOL (object);

  absorb_incoming_locked (self);
  g_queue_clear_full (&self->pending, (GDestroyNotify) job_free);
  g_ptr_array_unref (self->cancelled);
  g_ptr_array_unref (self->lines);
  mp_pool_arena_free (self->arena);
  g_ptr_array_unref (self->workers);
  g_array_unref (self->deaths);
  if (self->kick != NULL)
    {
      g_source_destroy (self->kick);
      g_source_unref (self->kick);
    }
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->owner_delivery, mp_delivery_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_pointer (&self->initargs, g_variant_unref);
  g_clear_error (&self->broken_error);
  g_clear_error (&self->start_error);
  g_free (self->initializer);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (mp_pool_parent_class)->finalize (object);
}

static void
mp_pool_get_property (GObject    *object,
                      guint       prop_id,
                      GValue     *value,
                      GParamSpec *pspec)
{
  MpPool *self = MP_POOL (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      g_value_set_uint (value, mp_pool_get_n_workers (self));
      break;
    case PROP_START_METHOD:
      g_value_set_enum (value, self->start_method);
      break;
    case PROP_INITIALIZER:
      g_value_set_string (value, self->initializer);
      break;
    case PROP_INITARGS:
      g_value_set_variant (value, self->initargs);
      break;
    case PROP_MAX_TASKS_PER_WORKER:
      g_value_set_uint (value, self->max_tasks_per_worker);
      break;
    case PROP_RETRIES:
      g_value_set_uint (value, self->retries);
      break;
    case PROP_TASK_TIMEOUT:
      g_value_set_double (value, self->task_timeout);
      break;
    case PROP_MAX_RESTARTS:
      g_value_set_uint (value, self->max_restarts);
      break;
    case PROP_RESTART_PERIOD:
      g_value_set_double (value, self->restart_period);
      break;
    case PROP_N_SUBMITTED:
      g_value_set_uint64 (value, mp_pool_get_n_submitted (self));
      break;
    case PROP_N_COMPLETED:
      g_value_set_uint64 (value, mp_pool_get_n_completed (self));
      break;
    case PROP_N_FAILED:
      g_value_set_uint64 (value, mp_pool_get_n_failed (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_pool_set_property (GObject      *object,
                      guint         prop_id,
                      const GValue *value,
                      GParamSpec   *pspec)
{
  MpPool *self = MP_POOL (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      self->n_workers = g_value_get_uint (value);
      break;
    case PROP_START_METHOD:
      self->start_method = g_value_get_enum (value);
      break;
    case PROP_INITIALIZER:
      g_free (self->initializer);
      self->initializer = g_value_dup_string (value);
      break;
    case PROP_INITARGS:
      g_clear_pointer (&self->initargs, g_variant_unref);
      self->initargs = g_value_dup_variant (value);
      break;
    case PROP_MAX_TASKS_PER_WORKER:
      self->max_tasks_per_worker = g_value_get_uint (value);
      break;
    case PROP_RETRIES:
      self->retries = g_value_get_uint (value);
      break;
    case PROP_TASK_TIMEOUT:
      self->task_timeout = g_value_get_double (value);
      break;
    case PROP_MAX_RESTARTS:
      self->max_restarts = g_value_get_uint (value);
      break;
    case PROP_RESTART_PERIOD:
      self->restart_period = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_pool_class_init (MpPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mp_pool_dispose;
  object_class->finalize = mp_pool_finalize;
  object_class->get_property = mp_pool_get_property;
  object_class->set_property = mp_pool_set_property;

  /**
   * MpPool:n-workers:
   *
   * How many worker processes run; 0 makes it mp_cpu_count().
   */
  properties[PROP_N_WORKERS] =
    g_param_spec_uint ("n-workers", NULL, NULL, 0, 4096, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:start-method:
   *
   * How the workers start.
   */
  properties[PROP_START_METHOD] =
    g_param_spec_enum ("start-method", NULL, NULL, MP_TYPE_START_METHOD, MP_START_METHOD_DEFAULT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:initializer:
   *
   * A registered task each worker runs once before its first job, with
   * #MpPool:initargs, as Python's `initializer`; %NULL for none.
   */
  properties[PROP_INITIALIZER] =
    g_param_spec_string ("initializer", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:initargs:
   *
   * The arguments of #MpPool:initializer.
   */
  properties[PROP_INITARGS] =
    g_param_spec_variant ("initargs", NULL, NULL, G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:max-tasks-per-worker:
   *
   * Jobs (an apply, or a map's chunk) a worker runs before it is replaced
   * by a new process, as Python's `maxtasksperchild`; 0 for no limit.
   */
  properties[PROP_MAX_TASKS_PER_WORKER] =
    g_param_spec_uint ("max-tasks-per-worker", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:retries:
   *
   * How many times a job whose worker died is run again before it fails
   * with %MP_ERROR_WORKER_DIED.
   */
  properties[PROP_RETRIES] =
    g_param_spec_uint ("retries", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:task-timeout:
   *
   * Seconds a job (an apply, or a map's chunk) may run before its worker
   * is killed and replaced and the job fails with %G_IO_ERROR_TIMED_OUT;
   * 0 or less for no limit.
   */
  properties[PROP_TASK_TIMEOUT] =
    g_param_spec_double ("task-timeout", NULL, NULL, -1, G_MAXDOUBLE, 0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:max-restarts:
   *
   * More unexpected worker deaths than this within
   * #MpPool:restart-period seconds stop the pool with
   * %MP_ERROR_POOL_BROKEN, instead of restarting workers for ever.
   */
  properties[PROP_MAX_RESTARTS] =
    g_param_spec_uint ("max-restarts", NULL, NULL, 0, G_MAXUINT, 10,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:restart-period:
   *
   * The window of #MpPool:max-restarts, in seconds.
   */
  properties[PROP_RESTART_PERIOD] =
    g_param_spec_double ("restart-period", NULL, NULL, 0, G_MAXDOUBLE, 10,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:n-submitted:
   *
   * Calls given to the pool (each item of a map counts). Notified at most
   * every 50 ms, in the pool's main context.
   */
  properties[PROP_N_SUBMITTED] =
    g_param_spec_uint64 ("n-submitted", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:n-completed:
   *
   * Calls that gave a result. Notified like #MpPool:n-submitted.
   */
  properties[PROP_N_COMPLETED] =
    g_param_spec_uint64 ("n-completed", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * MpPool:n-failed:
   *
   * Calls that failed, were cancelled or timed out (a failed map chunk
   * counts all its items). Notified like #MpPool:n-submitted.
   */
  properties[PROP_N_FAILED] =
    g_param_spec_uint64 ("n-failed", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MpPool::task-finished:
   * @pool: the pool
   * @task: the task's name
   * @success: whether it gave a result
   *
   * A job (an apply, or a map's chunk) is over, emitted in the main
   * context of the thread that made the pool.
   */
  signals[SIGNAL_TASK_FINISHED] =
    g_signal_new ("task-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
mp_pool_init (MpPool *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->pending);
  self->arena = mp_pool_arena_new ();
  self->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) mp_pool_line_unref);
  self->cancelled = g_ptr_array_new_with_free_func (g_object_unref);
  self->workers = g_ptr_array_new ();
  self->deaths = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->max_restarts = 10;
  self->restart_period = 10;
  /* Unknown: long, so one job per message until answers say otherwise. */
  self->job_us = MESSAGE_WORK_US;
  self->owner_context = g_main_context_ref_thread_default ();
  self->owner_pid = getpid ();
  self->owner_delivery = mp_delivery_get (self->owner_context);
}

static gboolean
mp_pool_initable_init (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MpPool *self = MP_POOL (initable);

  if (self->initializer != NULL && *self->initializer != '\0' && !check_task (self->initializer, error))
    return FALSE;
  /* The pool starts and replaces workers from its own thread: a fork
   * there copies whatever locks the program's other threads hold at that
   * moment (GLib's, malloc's, an interpreter's), and the worker can hang
   * on its first task (seen: C, Python and GJS examples). So a pool does
   * not fork: fork means forkserver, whose server mp_init() forked while
   * the program was single-threaded. Without mp_init() there is no
   * server, and the pool forks (README). */
  self->start_method = mp_runtime_resolve_method (self->start_method);
  if (self->start_method == MP_START_METHOD_FORK && mp_is_initialized ())
    self->start_method = MP_START_METHOD_FORKSERVER;
  if ((self->start_method == MP_START_METHOD_SPAWN || self->start_method == MP_START_METHOD_FORKSERVER) &&
      !mp_is_initialized ())
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_NOT_INITIALIZED,
                           _("A pool of spawn or forkserver workers needs mp_init() first"));
      return FALSE;
    }
  return ensure_started (self, error);
}

static void
mp_pool_initable_iface_init (GInitableIface *iface)
{
  iface->init = mp_pool_initable_init;
}

/**
 * mp_pool_new:
 * @n_workers: worker processes; 0 for mp_cpu_count()
 * @error: return location for a #GError
 *
 * Makes a pool and starts its workers, as Python's `Pool(processes)`.
 * For the other settings, use g_initable_new() with the properties.
 *
 * Returns: (transfer full): the pool, or %NULL with @error set
 */
MpPool *
mp_pool_new (guint    n_workers,
             GError **error)
{
  return g_initable_new (MP_TYPE_POOL, NULL, error, "n-workers", n_workers, NULL);
}

/* ---- Python's calls ---------------------------------------------------------- */

static void
link_cancellable (GCancellable *cancellable,
                  MpPoolResult *result)
{
  mp_pool_result_cancel (result);
}

/* A call whose @cancellable has already fired is not submitted at all
 * (GIO's rule): no worker is sent work only to be killed for it. Takes
 * a floating @args as a submit would. */
static gboolean
cancelled_before_submit (GCancellable  *cancellable,
                         GVariant      *args,
                         GError       **error)
{
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (args != NULL)
    g_variant_unref (g_variant_ref_sink (args));
  return TRUE;
}

/* Waits for @result, cancelling it if @cancellable fires. */
static GVariant *
wait_result (MpPoolResult  *result,
             GCancellable  *cancellable,
             GError       **error)
{
  gulong id = 0;
  GVariant *value;

  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (link_cancellable), result, NULL);
  value = mp_pool_result_get (result, -1, error);
  if (id != 0)
    g_cancellable_disconnect (cancellable, id);
  return value;
}

guint64
mp_pool_get_n_line_calls (MpPool *self)
{
  return __atomic_load_n (&self->n_line_calls, __ATOMIC_RELAXED);
}

/* A caller is done with @line: the pool's thread looks again if work
 * waits (a worker it could not use) or the pool is closing. */
static void
give_back_line (MpPool     *self,
                MpPoolLine *line)
{
  gboolean look;

  mp_pool_line_move (line, MP_POOL_LINE_LENT, MP_POOL_LINE_IDLE);
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  look = self->state != POOL_RUNNING || !g_queue_is_empty (&self->pending);
  g_mutex_unlock (&self->lock);
  if (look)
    kick (self);
}

/* A blocking apply on an idle worker's line (mp-pool-line-private.h):
 * FALSE, with nothing done, when the call should go through the queue
 * (work waits there, no worker is idle, the pool is not running). */
static gboolean
apply_on_line (MpPool        *self,
               const char    *task,
               GVariant      *args,
               GCancellable  *cancellable,
               GVariant     **value,
               GError       **error)
{
  g_autoptr(MpPoolLine) line = NULL;
  g_autoptr(MpPoolResult) result = NULL;
  g_autoptr(GVariant) answer = NULL;
  MpPoolLineOutcome outcome;
  gboolean ok = FALSE;
  gint64 deadline = -1;
  Job *job;

  if (self->max_tasks_per_worker > 0 || !__atomic_load_n (&self->started, __ATOMIC_ACQUIRE) ||
      __atomic_load_n (&self->state, __ATOMIC_ACQUIRE) != POOL_RUNNING || !check_task (task, NULL))
    return FALSE;
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  if (self->state == POOL_RUNNING && g_queue_is_empty (&self->pending))
    for (guint i = 0; i < self->lines->len && line == NULL; i++)
      if (mp_pool_line_move (self->lines->pdata[i], MP_POOL_LINE_IDLE, MP_POOL_LINE_LENT))
        line = mp_pool_line_ref (self->lines->pdata[i]);
  g_mutex_unlock (&self->lock);
  if (line == NULL)
    return FALSE;
  __atomic_add_fetch (&self->n_line_calls, 1, __ATOMIC_RELAXED);

  result = mp_pool_result_new (g_main_context_get_thread_default ());
  job = job_new (self, MP_POOL_JOB_APPLY, g_intern_string (task), args ? args : g_variant_new ("()"), 1, -1);
  job->id = __atomic_add_fetch (&self->next_id, 1, __ATOMIC_RELAXED);
  job->result = g_object_ref (result);
  mp_pool_result_set_cancel_func (result, cancel_result_cb, self);
  __atomic_add_fetch (&self->n_submitted, 1, __ATOMIC_RELAXED);
  progress_changed (self);
  if (job->timeout > 0)
    deadline = g_get_monotonic_time () + (gint64) (job->timeout * G_USEC_PER_SEC);

  /* Parked in the line: if the worker dies, the pool's thread takes it
   * from there and ends it as the job its worker ran. */
  mp_pool_line_park (line, job);
  outcome = mp_pool_line_call (line, job->id, job->task, job->payload, deadline, cancellable, &ok, &answer);
  switch (outcome)
    {
    case MP_POOL_LINE_ANSWERED:
      if (mp_pool_line_take (line) != job)
        break;   /* the worker died as it answered: the pool ends the job */
      give_back_line (self, line);
      job->answered = TRUE;
      job_counted (self, job, ok);
      if (ok)
        *value = g_steal_pointer (&answer);
      else
        g_propagate_error (error, mp_pool_error_from_variant (answer));
      job_free (job);
      return TRUE;

    case MP_POOL_LINE_UNSENT:
      /* The worker is going: the job waits in the queue for another. */
      if (mp_pool_line_take (line) != job)
        break;
      if (!queue_jobs (self, &job, 1, 0, error))
        return TRUE;
      break;

    case MP_POOL_LINE_TIMED_OUT:
    case MP_POOL_LINE_CANCELLED:
      /* Its worker is killed, and the pool's thread ends the job as it
       * ends a running job killed for the same reason. */
      if (mp_pool_line_take (line) != job)
        break;
      if (outcome == MP_POOL_LINE_TIMED_OUT)
        job->timed_out = TRUE;
      else
        job->cancelled = TRUE;
      mp_pool_line_park (line, job);
      mp_pool_line_kill (line);
      break;

    case MP_POOL_LINE_WORKER_DIED:
      break;
    }
  *value = wait_result (result, cancellable, error);
  return TRUE;
}

/**
 * mp_pool_apply:
 * @self: an #MpPool
 * @task: a registered task's name
 * @args: (nullable): its arguments
 * @cancellable: (nullable): cancels the call, running or not
 * @error: return location for a #GError
 *
 * Runs one call in a worker and waits for it, as Python's `apply()`.
 *
 * Returns: (transfer full): the task's result, or %NULL with @error set
 */
GVariant *
mp_pool_apply (MpPool        *self,
               const char    *task,
               GVariant      *args,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(MpPoolResult) result = NULL;
  GVariant *value = NULL;

  g_return_val_if_fail (MP_IS_POOL (self), NULL);

  if (cancelled_before_submit (cancellable, args, error))
    return NULL;
  if (args != NULL)
    g_variant_ref_sink (args);
  if (apply_on_line (self, task, args, cancellable, &value, error))
    {
      g_clear_pointer (&args, g_variant_unref);
      return value;
    }
  result = mp_pool_submit (self, task, args, -1, error);
  g_clear_pointer (&args, g_variant_unref);
  return result ? wait_result (result, cancellable, error) : NULL;
}

typedef struct
{
  MpPoolResult *result;
  gulong        cancel_id;
} AsyncCall;

static void
async_call_free (AsyncCall *call)
{
  g_clear_object (&call->result);
  g_free (call);
}

/* In the task's context, once its result is done. */
static void
async_call_done (gpointer result,
                 gpointer data)
{
  g_autoptr(GTask) task = data;
  AsyncCall *call = g_task_get_task_data (task);
  GError *error = NULL;
  GVariant *value;

  if (call->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), call->cancel_id);
  call->cancel_id = 0;
  value = mp_pool_result_get (result, 0, &error);
  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
}

/* The GIO side of a submitted call: @task returns with @result. */
static void
run_async (GTask        *task,
           MpPoolResult *result,
           GError       *error)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  AsyncCall *call;

  if (result == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  call = g_new0 (AsyncCall, 1);
  call->result = result;
  g_task_set_task_data (task, call, (GDestroyNotify) async_call_free);
  /* The result's own wait is not cancelled: the call is, and it then
   * comes back as cancelled. */
  g_task_set_check_cancellable (task, FALSE);
  if (cancellable != NULL)
    call->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (link_cancellable), result, NULL);
  mp_pool_result_when_done (result, g_task_get_context (task), async_call_done, task);
}

/* The blocking and GIO forms of map and starmap. */
static GVariant *
map_and_wait (MpPool        *self,
              const char    *task,
              GVariant      *items,
              guint          chunksize,
              gboolean       star,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(MpPoolResult) result = NULL;

  g_return_val_if_fail (MP_IS_POOL (self), NULL);
  if (cancelled_before_submit (cancellable, items, error))
    return NULL;
  result = submit_map (self, task, items, chunksize, star, error);
  return result ? wait_result (result, cancellable, error) : NULL;
}

static void
map_async (MpPool              *self,
           const char          *task_name,
           GVariant            *items,
           guint                chunksize,
           gboolean             star,
           gpointer             source_tag,
           GCancellable        *cancellable,
           GAsyncReadyCallback  callback,
           gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;
  MpPoolResult *result;

  g_return_if_fail (MP_IS_POOL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  if (cancelled_before_submit (cancellable, items, &error))
    result = NULL;
  else
    result = submit_map (self, task_name, items, chunksize, star, &error);
  run_async (task, result, error);
}

/* Every _finish: the value the GTask returned. */
static GVariant *
call_finish (MpPool        *self,
             GAsyncResult  *result,
             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mp_pool_apply_async:
 * @self: an #MpPool
 * @task: a registered task's name
 * @args: (nullable): its arguments
 * @cancellable: (nullable): cancels the call, running or not
 * @callback: (scope async): called with the result, in the caller's
 *   thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Runs one call in a worker, as Python's `apply_async()`.
 */
void
mp_pool_apply_async (MpPool              *self,
                     const char          *task_name,
                     GVariant            *args,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;
  MpPoolResult *result;

  g_return_if_fail (MP_IS_POOL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_pool_apply_async);
  if (cancelled_before_submit (cancellable, args, &error))
    result = NULL;
  else
    result = mp_pool_submit (self, task_name, args, -1, &error);
  run_async (task, result, error);
}

/**
 * mp_pool_apply_finish:
 * @self: an #MpPool
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the task's result, or %NULL with @error set
 */
GVariant *
mp_pool_apply_finish (MpPool        *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  return call_finish (self, result, error);
}

/**
 * mp_pool_map:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array; each element is the arguments of one call
 * @chunksize: items per job; 0 for about four jobs per worker
 * @cancellable: (nullable): cancels the map
 * @error: return location for a #GError
 *
 * Runs @task over @items and waits, as Python's `map()`: the results in
 * the order of @items ("aT" when they all have type T, "av" otherwise),
 * or the first error. An empty @items gives an empty "av".
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 */
GVariant *
mp_pool_map (MpPool        *self,
             const char    *task,
             GVariant      *items,
             guint          chunksize,
             GCancellable  *cancellable,
             GError       **error)
{
  return map_and_wait (self, task, items, chunksize, FALSE, cancellable, error);
}

/**
 * mp_pool_map_async:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array; each element is the arguments of one call
 * @chunksize: items per job; 0 for about four jobs per worker
 * @cancellable: (nullable): cancels the map
 * @callback: (scope async): called with the results
 * @user_data: (closure): data for @callback
 *
 * Runs @task over @items, as Python's `map_async()`.
 */
void
mp_pool_map_async (MpPool              *self,
                   const char          *task_name,
                   GVariant            *items,
                   guint                chunksize,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  map_async (self, task_name, items, chunksize, FALSE, mp_pool_map_async, cancellable, callback, user_data);
}

/**
 * mp_pool_map_finish:
 * @self: an #MpPool
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 */
GVariant *
mp_pool_map_finish (MpPool        *self,
                    GAsyncResult  *result,
                    GError       **error)
{
  return call_finish (self, result, error);
}

/**
 * mp_pool_starmap:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array of tuples, each the arguments of one call
 * @chunksize: items per job; 0 for about four jobs per worker
 * @cancellable: (nullable): cancels the map
 * @error: return location for a #GError
 *
 * As mp_pool_map(), for Python's `starmap()`: each item is a tuple of
 * arguments (anything else is refused).
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 */
GVariant *
mp_pool_starmap (MpPool        *self,
                 const char    *task,
                 GVariant      *items,
                 guint          chunksize,
                 GCancellable  *cancellable,
                 GError       **error)
{
  return map_and_wait (self, task, items, chunksize, TRUE, cancellable, error);
}

/**
 * mp_pool_starmap_async:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array of tuples, each the arguments of one call
 * @chunksize: items per job; 0 for about four jobs per worker
 * @cancellable: (nullable): cancels the map
 * @callback: (scope async): called with the results
 * @user_data: (closure): data for @callback
 *
 * As mp_pool_map_async(), for Python's `starmap_async()`.
 */
void
mp_pool_starmap_async (MpPool              *self,
                       const char          *task_name,
                       GVariant            *items,
                       guint                chunksize,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  map_async (self, task_name, items, chunksize, TRUE, mp_pool_starmap_async, cancellable, callback, user_data);
}

/**
 * mp_pool_starmap_finish:
 * @self: an #MpPool
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 */
GVariant *
mp_pool_starmap_finish (MpPool        *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  return call_finish (self, result, error);
}

static MpPoolIterator *
imap (MpPool      *self,
      const char  *task,
      GVariant    *items,
      guint        chunksize,
      gboolean     ordered,
      GError     **error)
{
  g_autoptr(GVariant) owned = items ? g_variant_ref_sink (items) : NULL;

  if (!check_task (task, error) || !check_items (owned, FALSE, error) || !ensure_started (self, error))
    return NULL;
  g_mutex_lock (&self->lock);
  if (!check_running (self, error))
    {
      g_mutex_unlock (&self->lock);
      return NULL;
    }
  g_mutex_unlock (&self->lock);
  return mp_pool_iterator_new (self, task, owned, MAX (chunksize, 1), ordered);
}

/**
 * mp_pool_imap:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array; each element is the arguments of one call
 * @chunksize: items per job (0 is 1, as in Python)
 * @error: return location for a #GError
 *
 * Runs @task over @items and gives the results one by one in the order
 * of @items, as Python's `imap()`. Only a bounded number of chunks are
 * given to the workers ahead of the results taken.
 *
 * Returns: (transfer full): the iterator, or %NULL with @error set
 */
MpPoolIterator *
mp_pool_imap (MpPool      *self,
              const char  *task,
              GVariant    *items,
              guint        chunksize,
              GError     **error)
{
  g_return_val_if_fail (MP_IS_POOL (self), NULL);
  return imap (self, task, items, chunksize, TRUE, error);
}

/**
 * mp_pool_imap_unordered:
 * @self: an #MpPool
 * @task: a registered task's name
 * @items: an array; each element is the arguments of one call
 * @chunksize: items per job (0 is 1, as in Python)
 * @error: return location for a #GError
 *
 * As mp_pool_imap(), with the results in the order they are done, as
 * Python's `imap_unordered()`.
 *
 * Returns: (transfer full): the iterator, or %NULL with @error set
 */
MpPoolIterator *
mp_pool_imap_unordered (MpPool      *self,
                        const char  *task,
                        GVariant    *items,
                        guint        chunksize,
                        GError     **error)
{
  g_return_val_if_fail (MP_IS_POOL (self), NULL);
  return imap (self, task, items, chunksize, FALSE, error);
}

/* ---- close, terminate, join --------------------------------------------------- */

/**
 * mp_pool_close:
 * @self: an #MpPool
 *
 * Takes no more work, as Python's `close()`: the workers finish what was
 * given and then leave.
 */
void
mp_pool_close (MpPool *self)
{
  g_return_if_fail (MP_IS_POOL (self));

  g_mutex_lock (&self->lock);
  if (self->state == POOL_RUNNING)
    self->state = POOL_CLOSED;
  g_mutex_unlock (&self->lock);
  kick (self);
}

/**
 * mp_pool_terminate:
 * @self: an #MpPool
 *
 * Stops everything now, as Python's `terminate()`: waiting work fails
 * with %G_IO_ERROR_CLOSED and the workers are killed. Returns once they
 * are gone.
 */
void
mp_pool_terminate (MpPool *self)
{
  GQueue dropped = G_QUEUE_INIT;

  g_return_if_fail (MP_IS_POOL (self));

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  if (self->state == POOL_RUNNING || self->state == POOL_CLOSED)
    self->state = POOL_TERMINATED;
  while (!g_queue_is_empty (&self->pending))
    g_queue_push_tail (&dropped, g_queue_pop_head (&self->pending));
  g_mutex_unlock (&self->lock);

  while (!g_queue_is_empty (&dropped))
    {
      Job *job = g_queue_pop_head (&dropped);

      job_done (self, job, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                      _("The pool was terminated")));
      job_free (job);
    }
  if (self->thread == NULL)
    return;
  kick (self);
  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  while (self->n_live > 0)
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
}

static gboolean
joined (MpPool *self)
{
  return self->n_live == 0 && g_queue_is_empty (&self->pending) &&
         __atomic_load_n (&self->incoming, __ATOMIC_ACQUIRE) == NULL;
}

static void
join_cancelled (GCancellable *cancellable,
                MpPool       *self)
{
  g_mutex_lock (&self->lock);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/**
 * mp_pool_join:
 * @self: an #MpPool
 * @timeout: seconds to wait; negative waits forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits for the workers to leave after mp_pool_close() or
 * mp_pool_terminate(), as Python's `join()`.
 *
 * Returns: %TRUE once they are gone; %FALSE with %MP_ERROR_INVALID_STATE
 *   on a pool still running, or %G_IO_ERROR_TIMED_OUT
 */
gboolean
mp_pool_join (MpPool        *self,
              double         timeout,
              GCancellable  *cancellable,
              GError       **error)
{
  gint64 deadline = mp_deadline_from_timeout (timeout);
  gulong cancel_id = 0;
  gboolean ok;

  g_return_val_if_fail (MP_IS_POOL (self), FALSE);

  /* Connected before the lock is taken: the handler takes it. */
  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (join_cancelled), self, NULL);

  g_mutex_lock (&self->lock);
  absorb_incoming_locked (self);
  if (self->state == POOL_RUNNING)
    {
      g_mutex_unlock (&self->lock);
      g_cancellable_disconnect (cancellable, cancel_id);
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("Close or terminate the pool before joining it"));
      return FALSE;
    }
  while (!joined (self) && !g_cancellable_is_cancelled (cancellable))
    if (deadline < 0)
      g_cond_wait (&self->cond, &self->lock);
    else if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  ok = joined (self);
  g_mutex_unlock (&self->lock);
  g_cancellable_disconnect (cancellable, cancel_id);
  if (ok)
    return TRUE;
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         _("The pool's workers were still there at the timeout"));
  return FALSE;
}

static void
join_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (mp_pool_join (source, -1, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mp_pool_join_async:
 * @self: an #MpPool
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once the workers are gone
 * @user_data: (closure): data for @callback
 *
 * Waits for the workers to leave, from the caller's thread-default main
 * context.
 */
void
mp_pool_join_async (MpPool              *self,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (MP_IS_POOL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_pool_join_async);
  g_mutex_lock (&self->lock);
  if (self->state == POOL_RUNNING)
    {
      g_mutex_unlock (&self->lock);
      g_set_error_literal (&error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("Close or terminate the pool before joining it"));
      g_task_return_error (task, error);
      return;
    }
  g_mutex_unlock (&self->lock);
  g_task_run_in_thread (task, join_thread);
}

/**
 * mp_pool_join_finish:
 * @self: an #MpPool
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once the workers are gone
 */
gboolean
mp_pool_join_finish (MpPool        *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- properties ------------------------------------------------------------ */

/**
 * mp_pool_get_n_workers:
 * @self: an #MpPool
 *
 * Returns: how many workers the pool keeps
 */
guint
mp_pool_get_n_workers (MpPool *self)
{
  g_return_val_if_fail (MP_IS_POOL (self), 0);
  return self->n_workers;
}

typedef struct
{
  MpPool *pool;
  GArray *pids;
  GMutex  lock;
  GCond   cond;
  gboolean done;
} PidsCall;

static gboolean
collect_pids (gpointer data)
{
  PidsCall *call = data;

  for (guint i = 0; i < call->pool->workers->len; i++)
    {
      Worker *worker = call->pool->workers->pdata[i];
      int pid = mp_process_get_pid (worker->process);

      if (!worker->exited)
        g_array_append_val (call->pids, pid);
    }
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

/**
 * mp_pool_get_worker_pids:
 * @self: an #MpPool
 *
 * Returns: (transfer full) (element-type gint): the process ids of the
 *   workers now
 */
GArray *
mp_pool_get_worker_pids (MpPool *self)
{
  PidsCall call = { self, g_array_new (FALSE, FALSE, sizeof (int)) };

  g_return_val_if_fail (MP_IS_POOL (self), NULL);

  if (self->thread == NULL)
    return call.pids;
  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (self->context, collect_pids, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
  return call.pids;
}

/**
 * mp_pool_get_n_submitted:
 * @self: an #MpPool
 *
 * Returns: the #MpPool:n-submitted count
 */
guint64
mp_pool_get_n_submitted (MpPool *self)
{
  g_return_val_if_fail (MP_IS_POOL (self), 0);
  return __atomic_load_n (&self->n_submitted, __ATOMIC_RELAXED);
}

/**
 * mp_pool_get_n_completed:
 * @self: an #MpPool
 *
 * Returns: the #MpPool:n-completed count
 */
guint64
mp_pool_get_n_completed (MpPool *self)
{
  g_return_val_if_fail (MP_IS_POOL (self), 0);
  return __atomic_load_n (&self->n_completed, __ATOMIC_RELAXED);
}

/**
 * mp_pool_get_n_failed:
 * @self: an #MpPool
 *
 * Returns: the #MpPool:n-failed count
 */
guint64
mp_pool_get_n_failed (MpPool *self)
{
  g_return_val_if_fail (MP_IS_POOL (self), 0);
  return __atomic_load_n (&self->n_failed, __ATOMIC_RELAXED);
}
