/* mp-delivery-private.h: running callbacks in another thread's main
 * context, a few milliseconds at a time
 *
 * A pool finishes tasks on its own thread; callbacks, signals and GTask
 * returns belong to the contexts of the threads that asked. Posting one
 * idle source per result would make a main loop dispatch 100,000 of them
 * in one iteration and freeze a GUI. An MpDelivery is one source per
 * context with a queue behind it: each dispatch runs queued callbacks
 * for at most MP_DELIVERY_BUDGET_US, then lets the loop go round (paint,
 * timers) before it goes on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MP_DELIVERY_BUDGET_US 4000

typedef struct _MpDelivery MpDelivery;

/* The delivery into @context (NULL: the global default context), shared
 * by everything that delivers there; it keeps a reference to @context. */
MpDelivery   *mp_delivery_get      (GMainContext   *context);
MpDelivery   *mp_delivery_ref      (MpDelivery     *delivery);
/* The last reference stops it: what is still queued is dropped (each
 * @destroy runs). */
void          mp_delivery_unref    (MpDelivery     *delivery);
GMainContext *mp_delivery_get_context (MpDelivery  *delivery);
/* From any thread: @func (@data) runs in the context, in the order
 * pushed; @destroy (@data) after it, or when it is dropped. */
void          mp_delivery_push     (MpDelivery     *delivery,
                                    GFunc           func,
                                    gpointer        data,
                                    GDestroyNotify  destroy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpDelivery, mp_delivery_unref)

/* An eventfd to wake a source from another thread without taking its
 * context's lock (add it with g_source_add_unix_fd()). */
int           mp_wakeup_new        (void);
void          mp_wakeup_signal     (int             fd);
void          mp_wakeup_clear      (int             fd);

G_END_DECLS
