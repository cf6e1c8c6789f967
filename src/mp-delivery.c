/* mp-delivery.c: callbacks run in a main context, a few milliseconds at a
 * time (see mp-delivery-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mp-delivery-private.h"

typedef struct _Item Item;

struct _Item
{
  GFunc          func;
  gpointer       data;
  GDestroyNotify destroy;
  Item          *next;
};

/* No lock between pusher and loop: a pusher preempted while holding one
 * would stall the very loop it feeds (measured: 44 ms in a 60 Hz loop).
 * Pushers add to a lock-free stack and write an eventfd of the source's
 * own (g_source_set_ready_time() would take the context's lock); the
 * loop takes the whole stack at once into its private queue. */
typedef struct
{
  GSource     source;
  Item       *incoming;   /* newest first */
  GQueue      items;      /* the loop's own, oldest first */
  int         wake_fd;
  gpointer    wake_tag;
  gboolean    more;       /* items left after a dispatch ran out of time */
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

#define BACKLOG_PRIORITY (G_PRIORITY_HIGH_IDLE + 30)

static gboolean
delivery_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  DeliverySource *self = (DeliverySource *) source;
  gint64 until = g_get_monotonic_time () + MP_DELIVERY_BUDGET_US;

  mp_wakeup_clear (self->wake_fd);
  {
    Item *taken = __atomic_exchange_n (&self->incoming, NULL, __ATOMIC_ACQUIRE);
    GQueue reversed = G_QUEUE_INIT;

    for (; taken != NULL; taken = taken->next)
      g_queue_push_head (&reversed, taken);
    while (!g_queue_is_empty (&reversed))
      g_queue_push_tail (&self->items, g_queue_pop_head (&reversed));
  }
  for (guint n = 0;; n++)
    {
      Item *item;

      /* The clock is read every few items only: they are usually short. */
      if ((n & 15) == 15 && g_get_monotonic_time () > until)
        break;
      item = g_queue_pop_head (&self->items);
      if (item == NULL)
        {
          self->more = FALSE;
          if (g_source_get_priority (source) != G_PRIORITY_DEFAULT)
            g_source_set_priority (source, G_PRIORITY_DEFAULT);
          return G_SOURCE_CONTINUE;
        }
      item->func (item->data, NULL);
      item_free (item);
    }
  /* Out of time with items left: ready again at the next iteration, once
   * the loop has seen to everything else. While a backlog lasts the source
   * runs below GTK's layout and paint (G_PRIORITY_HIGH_IDLE + 10 and + 20),
   * which a source always ready at the default priority would starve, and
   * still above default idles. */
  self->more = TRUE;
  if (g_source_get_priority (source) != BACKLOG_PRIORITY)
    g_source_set_priority (source, BACKLOG_PRIORITY);
  return G_SOURCE_CONTINUE;
}

static gboolean
delivery_prepare (GSource *source,
                  gint    *timeout)
{
  *timeout = -1;
  return ((DeliverySource *) source)->more;
}

static gboolean
delivery_check (GSource *source)
{
  DeliverySource *self = (DeliverySource *) source;

  return self->more || (g_source_query_unix_fd (source, self->wake_tag) & G_IO_IN) != 0;
}

static void
delivery_finalize (GSource *source)
{
  DeliverySource *self = (DeliverySource *) source;

  for (Item *item = self->incoming, *next; item != NULL; item = next)
    {
      next = item->next;
      item_free (item);
    }
  g_queue_clear_full (&self->items, (GDestroyNotify) item_free);
  close (self->wake_fd);
}

static GSourceFuncs delivery_funcs = {
  delivery_prepare, delivery_check, delivery_dispatch, delivery_finalize, NULL, NULL,
};

int
mp_wakeup_new (void)
{
  int fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);

  if (fd < 0)
    g_error ("libmp: could not make an eventfd: %s", g_strerror (errno));
  return fd;
}

void
mp_wakeup_signal (int fd)
{
  guint64 one = 1;

  while (write (fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

void
mp_wakeup_clear (int fd)
{
  guint64 count;

  while (read (fd, &count, sizeof count) < 0 && errno == EINTR)
    ;
}

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
  g_queue_init (&source->items);
  source->wake_fd = mp_wakeup_new ();
  source->wake_tag = g_source_add_unix_fd (&source->source, source->wake_fd, G_IO_IN);
  g_source_set_static_name (&source->source, "[mp] delivery");
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
  Item *head;

  item->func = func;
  item->data = data;
  item->destroy = destroy;
  head = __atomic_load_n (&source->incoming, __ATOMIC_RELAXED);
  do
    item->next = head;
  while (!__atomic_compare_exchange_n (&source->incoming, &head, item, TRUE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  /* The first item after the loop took the stack wakes it. */
  if (head == NULL)
    mp_wakeup_signal (source->wake_fd);
}
