/* mp-pool-result.c: the outcome of work given to a pool
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "mp-delivery-private.h"
#include "mp-error.h"
#include "mp-pool-private.h"
#include "mp-pool-result.h"
#include "mp-wire-private.h"

/**
 * MpPoolResult:
 *
 * What Python's `AsyncResult` is: the outcome of mp_pool_submit() or
 * mp_pool_submit_map(), filled in by the pool's own thread. It can be
 * waited for with a timeout (mp_pool_result_wait(), mp_pool_result_get())
 * without any main loop, or from one (mp_pool_result_get_async(), or the
 * #MpPoolResult:is-ready property, notified in the thread-default main
 * context of the thread that submitted the work).
 */

struct _MpPoolResult
{
  GObject           parent_instance;

  GMutex            lock;
  GCond             cond;
  guint             n_blocked;  /* threads in g_cond_wait */
  gboolean          done;
  GVariant         *value;
  GBytes           *bytes;      /* the value's, until it is first read: */
  gsize             offset;
  gsize             size;
  const char       *type_string; /* inside bytes */
  GError           *error;
  GPtrArray        *waiting;    /* of Waiter: get_async calls */
  MpDelivery       *delivery;   /* to the submitter's context */

  MpPoolCancelFunc  cancel;
  gpointer          cancel_data;
  gboolean          cancel_requested;
};

typedef struct
{
  MpPoolResult *result;
  GTask        *task;       /* or: */
  GFunc         func;       /* called as func (result, func_data) */
  gpointer      func_data;
  MpDelivery   *delivery;
  gulong        cancel_id;
} Waiter;

enum {
  PROP_0,
  PROP_READY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
static guint notify_signal_id;
static GQuark is_ready_quark;

G_DEFINE_FINAL_TYPE (MpPoolResult, mp_pool_result, G_TYPE_OBJECT)

static void
waiter_free (Waiter *waiter)
{
  g_clear_object (&waiter->task);
  g_clear_pointer (&waiter->delivery, mp_delivery_unref);
  g_free (waiter);
}

static void
mp_pool_result_finalize (GObject *object)
{
  MpPoolResult *self = MP_POOL_RESULT (object);

  g_clear_pointer (&self->value, g_variant_unref);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  g_clear_error (&self->error);
  g_ptr_array_unref (self->waiting);
  g_clear_pointer (&self->delivery, mp_delivery_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (mp_pool_result_parent_class)->finalize (object);
}

static void
mp_pool_result_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  if (prop_id == PROP_READY)
    g_value_set_boolean (value, mp_pool_result_ready (MP_POOL_RESULT (object)));
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
mp_pool_result_class_init (MpPoolResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mp_pool_result_finalize;
  object_class->get_property = mp_pool_result_get_property;

  /**
   * MpPoolResult:is-ready:
   *
   * Whether the work is done (with a value or an error), as
   * mp_pool_result_ready() says. Notified in the thread-default main
   * context of the thread that submitted the work. (Not "ready": in GJS
   * a property of that name would hide the method.)
   */
  properties[PROP_READY] =
    g_param_spec_boolean ("is-ready", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  notify_signal_id = g_signal_lookup ("notify", G_TYPE_OBJECT);
  is_ready_quark = g_quark_from_static_string ("is-ready");
}

static void
mp_pool_result_init (MpPoolResult *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->waiting = g_ptr_array_new ();
}

MpPoolResult *
mp_pool_result_new (GMainContext *context)
{
  MpPoolResult *self = g_object_new (MP_TYPE_POOL_RESULT, NULL);

  self->delivery = mp_delivery_get (context);
  return self;
}

void
mp_pool_result_set_cancel_func (MpPoolResult     *self,
                                MpPoolCancelFunc  cancel,
                                gpointer          data)
{
  g_mutex_lock (&self->lock);
  self->cancel = cancel;
  self->cancel_data = data;
  g_mutex_unlock (&self->lock);
}

/* ---- deliveries in bulk --------------------------------------------------- */

/* Between mp_pool_deliveries_begin() and _end() a thread's deliveries
 * are collected, and go out as one item per run of one delivery: one
 * allocation (and one free in the receiving thread) per batch of
 * results rather than one per result. */
typedef struct
{
  MpDelivery     *delivery;
  GFunc           func;
  gpointer        data;
  GDestroyNotify  destroy;
} Pending;

typedef struct
{
  guint   n;
  guint   done;       /* items run */
  Pending items[];
} Bulk;

static __thread GArray *collecting;   /* of Pending, between begin and end */
/* The same array, kept for the thread's next batch. */
static GPrivate spare = G_PRIVATE_INIT ((GDestroyNotify) g_array_unref);

void
mp_pool_deliver (MpDelivery     *delivery,
                 GFunc           func,
                 gpointer        data,
                 GDestroyNotify  destroy)
{
  Pending pending = { delivery, func, data, destroy };

  if (collecting == NULL)
    {
      mp_delivery_push (delivery, func, data, destroy);
      return;
    }
  g_array_append_val (collecting, pending);
}

void
mp_pool_deliveries_begin (void)
{
  if (collecting != NULL)
    return;
  collecting = g_private_get (&spare);
  if (collecting != NULL)
    g_private_set (&spare, NULL);
  else
    collecting = g_array_sized_new (FALSE, FALSE, sizeof (Pending), MP_POOL_BATCH_MAX * 2);
}

static void bulk_free (gpointer data);

/* The delivery gives each of its items a few milliseconds per main loop
 * iteration (MP_DELIVERY_BUDGET_US) and looks at the clock between them;
 * a bulk item keeps to the same budget, counted from the iteration's
 * time (g_source_get_time(), the same for every item of one dispatch):
 * out of time, it runs at least one of its items and queues the rest
 * for the next iteration. */
static void
bulk_run (gpointer data,
          gpointer unused)
{
  Bulk *bulk = data;
  GSource *source = g_main_current_source ();
  gint64 until = source != NULL ? g_source_get_time (source) + MP_DELIVERY_BUDGET_US : G_MAXINT64;
  guint first = bulk->done;

  for (; bulk->done < bulk->n; bulk->done++)
    {
      Pending *p = &bulk->items[bulk->done];

      if (bulk->done > first && g_get_monotonic_time () > until)
        {
          Bulk *rest = g_malloc (sizeof (Bulk) + (bulk->n - bulk->done) * sizeof (Pending));

          rest->n = bulk->n - bulk->done;
          rest->done = 0;
          memcpy (rest->items, p, rest->n * sizeof (Pending));
          bulk->n = bulk->done;
          mp_delivery_push (p->delivery, bulk_run, rest, bulk_free);
          return;
        }
      /* Each item's resources go as soon as it ran, as they would have. */
      p->func (p->data, NULL);
      if (p->destroy != NULL)
        p->destroy (p->data);
      p->destroy = NULL;
    }
}

static void
bulk_free (gpointer data)
{
  Bulk *bulk = data;

  /* Dropped before it ran: the items' data still goes. */
  for (guint i = 0; i < bulk->n; i++)
    if (bulk->items[i].destroy != NULL)
      bulk->items[i].destroy (bulk->items[i].data);
  g_free (bulk);
}

void
mp_pool_deliveries_end (void)
{
  GArray *items = collecting;
  guint start = 0;

  if (items == NULL)
    return;
  collecting = NULL;
  while (start < items->len)
    {
      MpDelivery *delivery = g_array_index (items, Pending, start).delivery;
      guint end = start + 1;
      Bulk *bulk;

      while (end < items->len && g_array_index (items, Pending, end).delivery == delivery)
        end++;
      if (end - start == 1)
        {
          Pending *p = &g_array_index (items, Pending, start);

          mp_delivery_push (delivery, p->func, p->data, p->destroy);
        }
      else
        {
          bulk = g_malloc (sizeof (Bulk) + (end - start) * sizeof (Pending));
          bulk->n = end - start;
          bulk->done = 0;
          memcpy (bulk->items, &g_array_index (items, Pending, start), bulk->n * sizeof (Pending));
          mp_delivery_push (delivery, bulk_run, bulk, bulk_free);
        }
      start = end;
    }
  g_array_set_size (items, 0);
  g_private_replace (&spare, items);
}

/* ---- completion --------------------------------------------------------- */

/* Under the lock: the value, made from its bytes on first use (by the
 * reader's thread). */
static GVariant *
value_locked (MpPoolResult *self)
{
  if (self->value == NULL && self->bytes != NULL)
    {
      self->value = mp_pool_record_value (self->bytes, self->offset, self->size, self->type_string);
      g_clear_pointer (&self->bytes, g_bytes_unref);
    }
  return self->value;
}

/* In the waiter's context. */
static void
return_waiter (gpointer data,
               gpointer unused)
{
  Waiter *waiter = data;
  MpPoolResult *self = waiter->result;

  if (waiter->func != NULL)
    {
      waiter->func (self, waiter->func_data);
      return;
    }
  if (waiter->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (waiter->task), waiter->cancel_id);
  waiter->cancel_id = 0;
  if (self->error != NULL)
    g_task_return_error (waiter->task, g_error_copy (self->error));
  else
    {
      GVariant *value;

      g_mutex_lock (&self->lock);
      value = g_variant_ref (value_locked (self));
      g_mutex_unlock (&self->lock);
      g_task_return_pointer (waiter->task, value, (GDestroyNotify) g_variant_unref);
    }
}

static void
notify_ready (gpointer data,
              gpointer unused)
{
  g_object_notify_by_pspec (data, properties[PROP_READY]);
}

static gboolean
complete (MpPoolResult *self,
          GVariant     *value,
          GError       *error,
          GBytes       *bytes,
          gsize         offset,
          gsize         size,
          const char   *type_string)
{
  g_autoptr(GPtrArray) waiting = NULL;

  g_mutex_lock (&self->lock);
  if (self->done)
    {
      g_mutex_unlock (&self->lock);
      g_clear_pointer (&value, g_variant_unref);
      g_clear_error (&error);
      return FALSE;
    }
  self->done = TRUE;
  self->value = value;
  self->error = error;
  if (bytes != NULL)
    {
      self->bytes = g_bytes_ref (bytes);
      self->offset = offset;
      self->size = size;
      self->type_string = type_string;
    }
  if (self->waiting->len > 0)
    {
      waiting = g_steal_pointer (&self->waiting);
      self->waiting = g_ptr_array_new ();
    }
  /* A futex call each: only for a thread that waits. */
  if (self->n_blocked > 0)
    g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; waiting != NULL && i < waiting->len; i++)
    {
      Waiter *waiter = waiting->pdata[i];

      mp_pool_deliver (waiter->delivery, return_waiter, waiter, (GDestroyNotify) waiter_free);
    }
  /* Only for a listener: a program that never runs that context must not
   * pile up notifications. */
  if (g_signal_has_handler_pending (self, notify_signal_id, is_ready_quark, FALSE))
    mp_pool_deliver (self->delivery, notify_ready, g_object_ref (self), g_object_unref);
  return TRUE;
}

gboolean
mp_pool_result_complete (MpPoolResult *self,
                         GVariant     *value,
                         GError       *error)
{
  return complete (self, value, error, NULL, 0, 0, NULL);
}

gboolean
mp_pool_result_complete_bytes (MpPoolResult *self,
                               GBytes       *bytes,
                               gsize         offset,
                               gsize         size,
                               const char   *type_string)
{
  return complete (self, NULL, NULL, bytes, offset, size, type_string);
}

/**
 * mp_pool_result_ready:
 * @self: an #MpPoolResult
 *
 * Returns: whether the work is done, as Python's `ready()`
 */
gboolean
mp_pool_result_ready (MpPoolResult *self)
{
  gboolean done;

  g_return_val_if_fail (MP_IS_POOL_RESULT (self), FALSE);
  g_mutex_lock (&self->lock);
  done = self->done;
  g_mutex_unlock (&self->lock);
  return done;
}

/**
 * mp_pool_result_successful:
 * @self: an #MpPoolResult
 *
 * Returns: whether the work is done and gave a value, as Python's
 *   `successful()` (%FALSE while it is not done)
 */
gboolean
mp_pool_result_successful (MpPoolResult *self)
{
  gboolean ok;

  g_return_val_if_fail (MP_IS_POOL_RESULT (self), FALSE);
  g_mutex_lock (&self->lock);
  ok = self->done && self->error == NULL;
  g_mutex_unlock (&self->lock);
  return ok;
}

/**
 * mp_pool_result_wait:
 * @self: an #MpPoolResult
 * @timeout: seconds to wait; negative waits forever
 *
 * Waits until the work is done, as Python's `wait(timeout)`. Needs no
 * main loop.
 *
 * Returns: whether it is done
 */
gboolean
mp_pool_result_wait (MpPoolResult *self,
                     double        timeout)
{
  gint64 deadline = mp_deadline_from_timeout (timeout);
  gboolean done;

  g_return_val_if_fail (MP_IS_POOL_RESULT (self), FALSE);

  g_mutex_lock (&self->lock);
  self->n_blocked++;
  while (!self->done)
    if (deadline < 0)
      g_cond_wait (&self->cond, &self->lock);
    else if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  self->n_blocked--;
  done = self->done;
  g_mutex_unlock (&self->lock);
  return done;
}

/**
 * mp_pool_result_get:
 * @self: an #MpPoolResult
 * @timeout: seconds to wait; negative waits forever
 * @error: return location for a #GError
 *
 * The value, once the work is done, as Python's `get(timeout)`: the
 * task's error if it failed, %G_IO_ERROR_TIMED_OUT if @timeout ran out
 * first (the work goes on).
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mp_pool_result_get (MpPoolResult  *self,
                    double         timeout,
                    GError       **error)
{
  GVariant *value = NULL;

  g_return_val_if_fail (MP_IS_POOL_RESULT (self), NULL);

  if (!mp_pool_result_wait (self, timeout))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           _("The result was not ready before the timeout"));
      return NULL;
    }
  g_mutex_lock (&self->lock);
  if (self->error != NULL)
    g_propagate_error (error, g_error_copy (self->error));
  else
    value = g_variant_ref (value_locked (self));
  g_mutex_unlock (&self->lock);
  return value;
}

/* In the waiter's context, after its cancellable fired. */
static void
return_cancelled (gpointer data,
                  gpointer unused)
{
  Waiter *waiter = data;

  g_cancellable_disconnect (g_task_get_cancellable (waiter->task), waiter->cancel_id);
  waiter->cancel_id = 0;
  g_task_return_error_if_cancelled (waiter->task);
}

/* Any thread: the wait is over for this caller, not the work. It may run
 * inside g_cancellable_connect(), before cancel_id is set: the delivery
 * runs later, in the waiter's context. */
static void
waiter_cancelled (GCancellable *cancellable,
                  gpointer      data)
{
  Waiter *waiter = data;
  MpPoolResult *self = waiter->result;
  gboolean found;

  g_mutex_lock (&self->lock);
  found = g_ptr_array_remove (self->waiting, waiter);
  g_mutex_unlock (&self->lock);
  if (found)
    mp_delivery_push (waiter->delivery, return_cancelled, waiter, (GDestroyNotify) waiter_free);
}

/**
 * mp_pool_result_get_async:
 * @self: an #MpPoolResult
 * @cancellable: (nullable): stops this wait (not the work: see
 *   mp_pool_result_cancel())
 * @callback: (scope async): called once the work is done
 * @user_data: (closure): data for @callback
 *
 * Waits for the work from the caller's thread-default main context.
 */
void
mp_pool_result_get_async (MpPoolResult        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  Waiter *waiter;
  GTask *task;

  g_return_if_fail (MP_IS_POOL_RESULT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_pool_result_get_async);

  waiter = g_new0 (Waiter, 1);
  waiter->result = self;
  waiter->task = task;
  waiter->delivery = mp_delivery_get (g_task_get_context (task));

  g_mutex_lock (&self->lock);
  if (!self->done)
    {
      g_ptr_array_add (self->waiting, waiter);
      g_mutex_unlock (&self->lock);
      if (cancellable != NULL)
        waiter->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled), waiter, NULL);
      return;
    }
  g_mutex_unlock (&self->lock);
  mp_delivery_push (waiter->delivery, return_waiter, waiter, (GDestroyNotify) waiter_free);
}

void
mp_pool_result_when_done (MpPoolResult *self,
                          GMainContext *context,
                          GFunc         func,
                          gpointer      data)
{
  Waiter *waiter = g_new0 (Waiter, 1);

  waiter->result = self;
  waiter->func = func;
  waiter->func_data = data;
  waiter->delivery = mp_delivery_get (context);

  g_mutex_lock (&self->lock);
  if (!self->done)
    {
      g_ptr_array_add (self->waiting, waiter);
      g_mutex_unlock (&self->lock);
      return;
    }
  g_mutex_unlock (&self->lock);
  mp_delivery_push (waiter->delivery, return_waiter, waiter, (GDestroyNotify) waiter_free);
}

/**
 * mp_pool_result_get_finish:
 * @self: an #MpPoolResult
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mp_pool_result_get_finish (MpPoolResult  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mp_pool_result_cancel:
 * @self: an #MpPoolResult
 *
 * Cancels the work: waiting tasks are dropped, a running one's worker is
 * killed and replaced, and the result fails with %G_IO_ERROR_CANCELLED.
 * Nothing happens once the result is ready.
 */
void
mp_pool_result_cancel (MpPoolResult *self)
{
  g_return_if_fail (MP_IS_POOL_RESULT (self));

  /* Called with the lock held, so that the pool cannot go away meanwhile
   * (it clears the function first); the function only flags the work. */
  g_mutex_lock (&self->lock);
  if (!self->done && !self->cancel_requested && self->cancel != NULL)
    {
      self->cancel_requested = TRUE;
      self->cancel (self, self->cancel_data);
    }
  g_mutex_unlock (&self->lock);
}
