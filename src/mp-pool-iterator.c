/* mp-pool-iterator.c: the results of mp_pool_imap(), one by one
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp-delivery-private.h"
#include "mp-error.h"
#include "mp-pool.h"
#include "mp-pool-iterator.h"
#include "mp-pool-private.h"
#include "mp-wire-private.h"

/**
 * MpPoolIterator:
 *
 * What Python's `imap()` and `imap_unordered()` return: the results of a
 * map, one by one, as they come. mp_pool_iterator_next() waits with a
 * timeout and needs no main loop; mp_pool_iterator_next_async() waits
 * from one. The items are given to the workers a few chunks ahead of
 * the results taken, not all at once.
 *
 * A chunk that fails gives its error once, where its results would have
 * been; the iteration goes on with the next chunk.
 *
 * The iterator does not keep its pool: a pool that is finalized
 * terminates, and the iterator then gives %G_IO_ERROR_CLOSED. (Work
 * finishing on the pool's thread must never drop a pool's last
 * reference there.)
 */

typedef struct
{
  GTask      *task;
  MpDelivery *delivery;
  GVariant   *value;
  GError     *error;
  gboolean    end;
} Waiter;

struct _MpPoolIterator
{
  GObject         parent_instance;

  GWeakRef        pool;          /* not a reference: see mp_pool_imap() */
  char           *task;
  GVariant       *items;
  GBytes         *items_bytes;   /* their bytes, when of one fixed size each */
  gsize           item_size;
  guint           chunksize;
  gboolean        ordered;
  guint           n_chunks;
  guint           window;        /* chunks given out and not yet read */

  GMutex          lock;
  GCond           cond;
  guint           n_blocked;     /* threads in g_cond_wait */
  guint           next_submit;   /* the next chunk to give the pool */
  guint           n_read;        /* chunks read to the end */
  GVariant      **values;        /* per chunk, until read */
  GError        **errors;        /* per chunk, until read */
  guint8         *arrived;       /* per chunk */
  GQueue          done;          /* unordered: chunks arrived, in order of arrival */
  guint           current;       /* the chunk being read */
  gboolean        reading;       /* ... if any */
  gsize           position;      /* in it */
  GError         *stopped;       /* no more chunks will come: why */
  GQueue          waiting;       /* of Waiter */
};

/* Items given out and not yet read, about, when chunks are small. */
#define WINDOW_ITEMS 4096

G_DEFINE_FINAL_TYPE (MpPoolIterator, mp_pool_iterator, G_TYPE_OBJECT)

static void
waiter_free (Waiter *waiter)
{
  g_clear_object (&waiter->task);
  g_clear_pointer (&waiter->delivery, mp_delivery_unref);
  g_clear_pointer (&waiter->value, g_variant_unref);
  g_clear_error (&waiter->error);
  g_free (waiter);
}

static void
mp_pool_iterator_finalize (GObject *object)
{
  MpPoolIterator *self = MP_POOL_ITERATOR (object);

  for (guint i = 0; i < self->n_chunks; i++)
    {
      g_clear_pointer (&self->values[i], g_variant_unref);
      g_clear_error (&self->errors[i]);
    }
  g_free (self->values);
  g_free (self->errors);
  g_free (self->arrived);
  g_queue_clear (&self->done);
  g_queue_clear_full (&self->waiting, (GDestroyNotify) waiter_free);
  g_clear_error (&self->stopped);
  g_clear_pointer (&self->items, g_variant_unref);
  g_clear_pointer (&self->items_bytes, g_bytes_unref);
  g_free (self->task);
  g_weak_ref_clear (&self->pool);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (mp_pool_iterator_parent_class)->finalize (object);
}

static void
mp_pool_iterator_class_init (MpPoolIteratorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mp_pool_iterator_finalize;
}

static void
mp_pool_iterator_init (MpPoolIterator *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->done);
  g_queue_init (&self->waiting);
}

static void serve_waiters_locked (MpPoolIterator *self);

/* Gives the pool the chunks the window has room for, in one go once a
 * quarter of it is free (one wake-up of the pool thread per group, not
 * per chunk). Not under the lock: the pool takes its own. */
static void
submit_more (MpPoolIterator *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MpPool) pool = NULL;
  g_autoptr(GPtrArray) chunks = NULL;
  gsize n_items = g_variant_n_children (self->items);
  guint first, count, out;

  /* Most calls find no room: looked at without the lock first (the
   * pool thread takes it for every chunk that comes back). */
  out = __atomic_load_n (&self->next_submit, __ATOMIC_RELAXED) - __atomic_load_n (&self->n_read, __ATOMIC_RELAXED);
  if (out > 0 && out < self->window && self->window - out < MAX (self->window / 4, 1) &&
      __atomic_load_n (&self->stopped, __ATOMIC_RELAXED) == NULL)
    return;

  g_mutex_lock (&self->lock);
  out = self->next_submit - self->n_read;
  if (self->stopped != NULL || self->next_submit >= self->n_chunks || out >= self->window ||
      (out > 0 && self->window - out < MAX (self->window / 4, 1)))
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  first = self->next_submit;
  count = MIN (self->window - out, self->n_chunks - first);
  self->next_submit += count;
  g_mutex_unlock (&self->lock);

  chunks = g_ptr_array_new_full (count, (GDestroyNotify) g_variant_unref);
  for (guint index = first; index < first + count; index++)
    {
      gsize start = (gsize) index * self->chunksize, n = MIN (self->chunksize, n_items - start);

      if (self->items_bytes != NULL)
        {
          /* A slice of the same memory. */
          g_autoptr(GBytes) part = g_bytes_new_from_bytes (self->items_bytes, start * self->item_size,
                                                           n * self->item_size);

          g_ptr_array_add (chunks, g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (self->items),
                                                                                 part, TRUE)));
        }
      else
        g_ptr_array_add (chunks, mp_pool_slice_items (self->items, start, n));
    }
  pool = g_weak_ref_get (&self->pool);
  if (pool == NULL)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _("The pool is gone"));
  if (pool == NULL || !mp_pool_submit_chunks (pool, self, self->task, (GVariant **) chunks->pdata, first, count, &error))
    {
      g_mutex_lock (&self->lock);
      if (self->stopped == NULL)
        self->stopped = g_steal_pointer (&error);
      /* These will not come: the reader gets the error after the ones
       * before them. */
      self->next_submit = MIN (self->next_submit, first);
      if (self->n_blocked > 0)
        g_cond_broadcast (&self->cond);
      serve_waiters_locked (self);
      g_mutex_unlock (&self->lock);
    }
}

MpPoolIterator *
mp_pool_iterator_new (MpPool     *pool,
                      const char *task,
                      GVariant   *items,
                      guint       chunksize,
                      gboolean    ordered)
{
  MpPoolIterator *self = g_object_new (MP_TYPE_POOL_ITERATOR, NULL);
  gsize n_items = g_variant_n_children (items);

  g_weak_ref_init (&self->pool, pool);
  self->task = g_strdup (task);
  self->items = g_variant_ref (items);
  if (n_items > 0 && mp_pool_type_is_fixed_basic (g_variant_type_element (g_variant_get_type (items))))
    {
      g_autoptr(GVariant) first = g_variant_get_child_value (items, 0);

      self->item_size = g_variant_get_size (first);
      if (self->item_size > 0 && g_variant_get_size (items) == self->item_size * n_items)
        self->items_bytes = g_variant_get_data_as_bytes (items);
    }
  self->chunksize = chunksize;
  self->ordered = ordered;
  self->n_chunks = (n_items + chunksize - 1) / chunksize;
  /* Enough chunks given out that the workers get them in batches
   * (MP_POOL_BATCH_MAX each) and never wait for the reader; few enough
   * items that a slow reader does not pile up results. */
  self->window = MAX (2 * mp_pool_get_n_workers (pool) + 2,
                      MIN (WINDOW_ITEMS / chunksize, 4 * MP_POOL_BATCH_MAX * mp_pool_get_n_workers (pool)));
  self->values = g_new0 (GVariant *, self->n_chunks);
  self->errors = g_new0 (GError *, self->n_chunks);
  self->arrived = g_new0 (guint8, self->n_chunks);
  submit_more (self);
  return self;
}

/* 1 with an item or an error, 0 when none has arrived, -1 at the end.
 * Under the lock. */
static int
take_locked (MpPoolIterator  *self,
             GVariant       **value,
             GError         **error)
{
  for (;;)
    {
      if (!self->reading)
        {
          if (self->n_read >= self->n_chunks)
            return -1;
          if (self->ordered)
            {
              if (!self->arrived[self->n_read])
                goto none;
              self->current = self->n_read;
            }
          else
            {
              if (g_queue_is_empty (&self->done))
                goto none;
              self->current = GPOINTER_TO_UINT (g_queue_pop_head (&self->done)) - 1;
            }
          self->reading = TRUE;
          self->position = 0;
        }

      if (self->errors[self->current] != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&self->errors[self->current]));
          self->reading = FALSE;
          self->n_read++;
          return 1;
        }
      if (self->position < g_variant_n_children (self->values[self->current]))
        {
          *value = g_variant_get_child_value (self->values[self->current], self->position++);
          if (self->position == g_variant_n_children (self->values[self->current]))
            {
              g_clear_pointer (&self->values[self->current], g_variant_unref);
              self->reading = FALSE;
              self->n_read++;
            }
          return 1;
        }
      /* An empty chunk result: on to the next. */
      g_clear_pointer (&self->values[self->current], g_variant_unref);
      self->reading = FALSE;
      self->n_read++;
    }

none:
  if (self->stopped != NULL)
    {
      /* What was never given to the pool will not come. */
      guint expected = self->next_submit;
      gboolean more_coming = FALSE;

      for (guint i = self->n_read; i < expected; i++)
        if (!self->arrived[i])
          more_coming = TRUE;
      if (!more_coming)
        {
          g_propagate_error (error, g_error_copy (self->stopped));
          self->n_read = self->n_chunks;
          return 1;
        }
    }
  return 0;
}

static void
return_waiter (gpointer data,
               gpointer unused)
{
  Waiter *waiter = data;

  if (waiter->error != NULL)
    g_task_return_error (waiter->task, g_steal_pointer (&waiter->error));
  else
    g_task_return_pointer (waiter->task, g_steal_pointer (&waiter->value),
                           (GDestroyNotify) g_variant_unref);
}

/* Serves waiting next_async() calls what is there. Under the lock. */
static void
serve_waiters_locked (MpPoolIterator *self)
{
  while (!g_queue_is_empty (&self->waiting))
    {
      Waiter *waiter = g_queue_peek_head (&self->waiting);
      int r = take_locked (self, &waiter->value, &waiter->error);

      if (r == 0)
        return;
      g_queue_pop_head (&self->waiting);
      mp_delivery_push (waiter->delivery, return_waiter, waiter, (GDestroyNotify) waiter_free);
    }
}

void
mp_pool_iterator_chunks_done (MpPoolIterator *self,
                              MpPoolChunkDone *done,
                              guint           n)
{
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < n; i++)
    {
      guint chunk = done[i].chunk;

      if (chunk < self->n_chunks && !self->arrived[chunk])
        {
          self->arrived[chunk] = TRUE;
          self->values[chunk] = g_steal_pointer (&done[i].results);
          self->errors[chunk] = g_steal_pointer (&done[i].error);
          if (!self->ordered)
            g_queue_push_tail (&self->done, GUINT_TO_POINTER (chunk + 1));
        }
    }
  serve_waiters_locked (self);
  /* A futex call each: only for a reader that waits. */
  if (self->n_blocked > 0)
    g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < n; i++)
    {
      g_clear_pointer (&done[i].results, g_variant_unref);
      g_clear_error (&done[i].error);
    }
  submit_more (self);
}

void
mp_pool_iterator_chunk_done (MpPoolIterator *self,
                             guint           chunk,
                             GVariant       *results,
                             GError         *error)
{
  MpPoolChunkDone done = { chunk, results, error };

  mp_pool_iterator_chunks_done (self, &done, 1);
}

/**
 * mp_pool_iterator_next:
 * @self: an #MpPoolIterator
 * @timeout: seconds to wait; negative waits forever
 * @value: (out) (optional) (nullable) (transfer full): the next result
 * @error: return location for a #GError
 *
 * Takes the next result, as `next()` on Python's imap iterator. Needs no
 * main loop.
 *
 * Returns: %TRUE with @value set; %FALSE at the end (no error), or with
 *   @error set: the chunk's error, %G_IO_ERROR_TIMED_OUT (try again), or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mp_pool_iterator_next (MpPoolIterator  *self,
                       double           timeout,
                       GVariant       **value,
                       GError         **error)
{
  gint64 deadline = mp_deadline_from_timeout (timeout);
  g_autoptr(GVariant) item = NULL;
  GError *local_error = NULL;
  int r;

  g_return_val_if_fail (MP_IS_POOL_ITERATOR (self), FALSE);

  g_mutex_lock (&self->lock);
  self->n_blocked++;
  while ((r = take_locked (self, &item, &local_error)) == 0)
    if (deadline < 0)
      g_cond_wait (&self->cond, &self->lock);
    else if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      {
        r = take_locked (self, &item, &local_error);
        break;
      }
  self->n_blocked--;
  g_mutex_unlock (&self->lock);
  submit_more (self);

  if (r == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           _("No result came before the timeout"));
      return FALSE;
    }
  if (r < 0)
    return FALSE;
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (value != NULL)
    *value = g_steal_pointer (&item);
  return TRUE;
}

/**
 * mp_pool_iterator_next_async:
 * @self: an #MpPoolIterator
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the next result
 * @user_data: (closure): data for @callback
 *
 * Takes the next result from the caller's thread-default main context.
 */
void
mp_pool_iterator_next_async (MpPoolIterator      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  Waiter *waiter;

  g_return_if_fail (MP_IS_POOL_ITERATOR (self));

  waiter = g_new0 (Waiter, 1);
  waiter->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (waiter->task, mp_pool_iterator_next_async);
  waiter->delivery = mp_delivery_get (g_task_get_context (waiter->task));

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->waiting, waiter);
  serve_waiters_locked (self);
  g_mutex_unlock (&self->lock);
  submit_more (self);
}

/**
 * mp_pool_iterator_next_finish:
 * @self: an #MpPoolIterator
 * @result: the #GAsyncResult
 * @value: (out) (optional) (nullable) (transfer full): the next result
 * @error: return location for a #GError
 *
 * Returns: %TRUE with @value set; %FALSE at the end (no error) or with
 *   @error set
 */
gboolean
mp_pool_iterator_next_finish (MpPoolIterator  *self,
                              GAsyncResult    *result,
                              GVariant       **value,
                              GError         **error)
{
  GError *local_error = NULL;
  GVariant *item;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  item = g_task_propagate_pointer (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (item == NULL)
    return FALSE;
  if (value != NULL)
    *value = item;
  else
    g_variant_unref (item);
  return TRUE;
}

/**
 * mp_pool_iterator_cancel:
 * @self: an #MpPoolIterator
 *
 * Cancels what is left: waiting chunks are dropped, running ones' workers
 * killed and replaced; the next result is %G_IO_ERROR_CANCELLED.
 */
void
mp_pool_iterator_cancel (MpPoolIterator *self)
{
  g_return_if_fail (MP_IS_POOL_ITERATOR (self));

  g_mutex_lock (&self->lock);
  if (self->stopped == NULL)
    self->stopped = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The map was cancelled"));
  g_mutex_unlock (&self->lock);
  {
    g_autoptr(MpPool) pool = g_weak_ref_get (&self->pool);

    if (pool != NULL)
      mp_pool_cancel_iterator (pool, self);
  }
  g_mutex_lock (&self->lock);
  serve_waiters_locked (self);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}
