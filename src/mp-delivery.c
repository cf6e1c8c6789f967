/* mp-delivery.c: callbacks run in a main context, a few milliseconds at a
 * time (see mp-delivery-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mp-delivery-private.h"

typedef struct
{
  GFunc          func;
  gpointer       data;
  GDestroyNotify destroy;
} Item;

typedef struct
{
  GSource     source;
  GMutex      lock;
  GQueue      items;
} DeliverySource;

struct _MpDelivery
{
  gint            ref_count;
  GMainContext   *context;
  DeliverySource *source;
};

/* One delivery per context, shared. */
static GMutex deliveries_lock;
static GHashTable *deliveries;

static void
item_free (Item *item)
{
  if (item->destroy != NULL)
    item->destroy (item->data);
  g_free (item);
}

static gboolean
delivery_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  DeliverySource *self = (DeliverySource *) source;
  gint64 until = g_get_monotonic_time () + MP_DELIVERY_BUDGET_US;

  for (guint n = 0;; n++)
    {
      Item *item;

      /* The clock is read every few items only: they are usually short. */
      if ((n & 15) == 15 && g_get_monotonic_time () > until)
        break;
      g_mutex_lock (&self->lock);
      item = g_queue_pop_head (&self->items);
      if (item == NULL)
        g_source_set_ready_time (source, -1);
      g_mutex_unlock (&self->lock);
      if (item == NULL)
        return G_SOURCE_CONTINUE;
      item->func (item->data, NULL);
      item_free (item);
    }
  /* Out of time with items left: the source stays ready, and the loop
   * sees to everything else first. */
  return G_SOURCE_CONTINUE;
}

static void
delivery_finalize (GSource *source)
{
  DeliverySource *self = (DeliverySource *) source;

  g_queue_clear_full (&self->items, (GDestroyNotify) item_free);
  g_mutex_clear (&self->lock);
}

static GSourceFuncs delivery_funcs = {
  NULL, NULL, delivery_dispatch, delivery_finalize, NULL, NULL,
};

MpDelivery *
mp_delivery_get (GMainContext *context)
{
  MpDelivery *delivery;
  DeliverySource *source;

  if (context == NULL)
    context = g_main_context_default ();

  g_mutex_lock (&deliveries_lock);
  if (deliveries == NULL)
    deliveries = g_hash_table_new (NULL, NULL);
  delivery = g_hash_table_lookup (deliveries, context);
  if (delivery != NULL)
    {
      g_atomic_int_inc (&delivery->ref_count);
      g_mutex_unlock (&deliveries_lock);
      return delivery;
    }

  delivery = g_new0 (MpDelivery, 1);
  delivery->ref_count = 1;
  delivery->context = g_main_context_ref (context);
  source = (DeliverySource *) g_source_new (&delivery_funcs, sizeof (DeliverySource));
  g_mutex_init (&source->lock);
  g_queue_init (&source->items);
  g_source_set_static_name (&source->source, "[mp] delivery");
  g_source_set_ready_time (&source->source, -1);
  g_source_attach (&source->source, context);
  delivery->source = source;
  g_hash_table_insert (deliveries, context, delivery);
  g_mutex_unlock (&deliveries_lock);
  return delivery;
}

MpDelivery *
mp_delivery_ref (MpDelivery *delivery)
{
  g_atomic_int_inc (&delivery->ref_count);
  return delivery;
}

void
mp_delivery_unref (MpDelivery *delivery)
{
  if (delivery == NULL)
    return;
  g_mutex_lock (&deliveries_lock);
  if (!g_atomic_int_dec_and_test (&delivery->ref_count))
    {
      g_mutex_unlock (&deliveries_lock);
      return;
    }
  g_hash_table_remove (deliveries, delivery->context);
  g_mutex_unlock (&deliveries_lock);

  g_source_destroy (&delivery->source->source);
  g_source_unref (&delivery->source->source);
  g_main_context_unref (delivery->context);
  g_free (delivery);
}

GMainContext *
mp_delivery_get_context (MpDelivery *delivery)
{
  return delivery->context;
}

void
mp_delivery_push (MpDelivery     *delivery,
                  GFunc           func,
                  gpointer        data,
                  GDestroyNotify  destroy)
{
  DeliverySource *source = delivery->source;
  Item *item = g_new (Item, 1);
  gboolean was_empty;

  item->func = func;
  item->data = data;
  item->destroy = destroy;
  g_mutex_lock (&source->lock);
  was_empty = g_queue_is_empty (&source->items);
  g_queue_push_tail (&source->items, item);
  g_mutex_unlock (&source->lock);
  /* Thread-safe, and wakes the context up. */
  if (was_empty)
    g_source_set_ready_time (&source->source, 0);
}
