/* mp-barrier.c: a barrier shared between processes
 *
 * The cell's state, under its guard: the parties, how many have arrived
 * in this generation, the generation, whether the barrier is broken, how
 * many parties of the last generation have yet to leave, and one bit per
 * recent generation that ended broken (a reset or an abort) so that a
 * party that wakes late still learns how its own generation ended.
 *
 * Parties sleep on the cell's eventfd until their generation ends: the
 * last to arrive runs the action, if any, opens the next generation and
 * wakes them, each passing the wake-up on. Arrivals for the next
 * generation wait on a second cell (the gate) until every party of the
 * last one has left, as Python's Barrier drains: a sleeper that clears an
 * eventfd and goes back to sleep must never be one that another wake-up
 * was not meant for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "mp.h"
#include "mp-sync-private.h"
#include "mp-wire-private.h"

/**
 * MpBarrier:
 *
 * Python's `multiprocessing.Barrier`: a fixed number of parties wait until
 * all have arrived, then all go on. mp_barrier_wait() returns a different
 * index to each (exactly one gets 0). A timeout, an abort or a reset while
 * parties wait breaks the barrier for all of them
 * (%MP_ERROR_BROKEN_BARRIER, Python's `BrokenBarrierError`).
 *
 * The action, a registered task (see mp_register_task()), runs in the
 * process that arrives last, before the others go on.
 */
struct _MpBarrier
{
  GObject      parent_instance;
  MpSyncCell  *cell;
  MpSyncCell  *gate;
  char        *action;
  GVariant    *action_args;
  double       timeout;
};

enum
{
  PROP_0,
  PROP_PARTIES,
  PROP_N_WAITING,
  PROP_BROKEN,
  PROP_ACTION,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mp_barrier_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpBarrier, mp_barrier, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_barrier_shareable_init))

#define PARTIES(shared)      ((shared)->state[0])
#define ARRIVED(shared)      ((shared)->state[1])
#define GENERATION(shared)   ((shared)->state[2])
#define BROKEN(shared)       ((shared)->state[3])
#define ENDED_BROKEN(shared) ((shared)->state[4])   /* bit (generation % 64) */
#define TO_LEAVE(shared)     ((shared)->state[5])

#define GEN_BIT(gen) (G_GUINT64_CONSTANT (1) << ((gen) % 64))

typedef struct
{
  MpBarrier *barrier;
  guint64    generation;
  guint      index;
  gboolean   last;
} Arrival;

static void
set_broken_error (GError **error)
{
  g_set_error_literal (error, MP_ERROR, MP_ERROR_BROKEN_BARRIER,
                       _("The barrier is broken: it was aborted, reset or timed out while parties waited"));
}

/* On the gate: waits while the last generation drains or the last party
 * runs the action, then counts the caller in. */
static MpSyncStatus
arrive (MpSyncCell  *gate,
        gpointer     data,
        pid_t       *watch,
        GError     **error)
{
  Arrival *arrival = data;
  MpSyncCell *cell = arrival->barrier->cell;
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  MpSyncStatus status = MP_SYNC_WAIT;

  mp_sync_cell_guard (cell);
  if (BROKEN (shared))
    status = MP_SYNC_FAILED;
  else if (TO_LEAVE (shared) == 0 && ARRIVED (shared) < PARTIES (shared))
    {
      arrival->generation = GENERATION (shared);
      arrival->index = (guint) ARRIVED (shared)++;
      arrival->last = ARRIVED (shared) == PARTIES (shared);
      /* Other arrivals may come in too while there is room. */
      status = arrival->last ? MP_SYNC_DONE : MP_SYNC_DONE_PASS_ON;
    }
  mp_sync_cell_unguard (cell);

  if (status == MP_SYNC_FAILED)
    {
      set_broken_error (error);
      mp_sync_cell_wake (gate);
    }
  return status;
}

static const MpSyncWaitFuncs arrive_funcs = {
  .attempt = arrive,
};

/* Leaves an ended generation, under the guard; the last to leave opens
 * the gate. Returns whether the generation went through. */
static gboolean
leave_locked (MpSyncShared *shared,
              Arrival      *arrival,
              gboolean     *open_gate)
{
  if (TO_LEAVE (shared) > 0 && --TO_LEAVE (shared) == 0)
    *open_gate = TRUE;
  return !(ENDED_BROKEN (shared) & GEN_BIT (arrival->generation));
}

static void
open_gate_if (MpBarrier *self,
              gboolean   open_gate)
{
  if (open_gate)
    mp_sync_cell_wake (self->gate);
}

/* On the cell: waits until the caller's generation ends. */
static MpSyncStatus
await_release (MpSyncCell  *cell,
               gpointer     data,
               pid_t       *watch,
               GError     **error)
{
  Arrival *arrival = data;
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  MpSyncStatus status = MP_SYNC_WAIT;
  gboolean open_gate = FALSE;

  mp_sync_cell_guard (cell);
  if (GENERATION (shared) != arrival->generation)
    status = leave_locked (shared, arrival, &open_gate) ? MP_SYNC_DONE_PASS_ON : MP_SYNC_FAILED;
  else if (BROKEN (shared))
    status = MP_SYNC_FAILED;
  mp_sync_cell_unguard (cell);

  open_gate_if (arrival->barrier, open_gate);
  if (status == MP_SYNC_FAILED)
    {
      set_broken_error (error);
      /* Everybody else learns it too. */
      mp_sync_cell_wake (cell);
    }
  return status;
}

/* Timed out or cancelled: unless this generation went through after all,
 * the barrier breaks, as in Python, for everybody waiting. */
static MpSyncStatus
break_on_give_up (MpSyncCell  *cell,
                  gpointer     data,
                  GError     **error)
{
  Arrival *arrival = data;
  MpSyncShared *shared = mp_sync_cell_shared (cell);
  gboolean passed = FALSE, open_gate = FALSE;

  mp_sync_cell_guard (cell);
  if (GENERATION (shared) != arrival->generation)
    passed = leave_locked (shared, arrival, &open_gate);
  else
    {
      BROKEN (shared) = 1;
      ENDED_BROKEN (shared) |= GEN_BIT (arrival->generation);
    }
  mp_sync_cell_unguard (cell);

  open_gate_if (arrival->barrier, open_gate);
  if (passed)
    return MP_SYNC_DONE;
  mp_sync_cell_wake (cell);
  mp_sync_cell_wake (arrival->barrier->gate);
  return MP_SYNC_FAILED;
}

static const MpSyncWaitFuncs release_funcs = {
  .attempt = await_release,
  .give_up = break_on_give_up,
};

/* The last party: runs the action, then opens the next generation (or
 * breaks the barrier when the action failed). */
static gboolean
release_parties (MpBarrier  *self,
                 Arrival    *arrival,
                 GError    **error)
{
  MpSyncShared *shared = mp_sync_cell_shared (self->cell);
  g_autoptr(GError) action_error = NULL;
  gboolean open_gate = FALSE;

  if (self->action != NULL)
    {
      g_autoptr(GVariant) result = mp_run_task (self->action,
                                                self->action_args ? self->action_args : g_variant_new ("()"),
                                                NULL, &action_error);
    }

  mp_sync_cell_guard (self->cell);
  if (GENERATION (shared) == arrival->generation && !BROKEN (shared))
    {
      if (action_error != NULL)
        {
          BROKEN (shared) = 1;
          ENDED_BROKEN (shared) |= GEN_BIT (arrival->generation);
        }
      else
        {
          GENERATION (shared)++;
          ARRIVED (shared) = 0;
          ENDED_BROKEN (shared) &= ~GEN_BIT (GENERATION (shared));
          TO_LEAVE (shared) = PARTIES (shared) - 1;
        }
    }
  open_gate = TO_LEAVE (shared) == 0;
  mp_sync_cell_unguard (self->cell);
  mp_sync_cell_wake (self->cell);
  open_gate_if (self, open_gate);

  if (action_error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&action_error),
                                  _("The barrier's action failed: "));
      return FALSE;
    }
  return TRUE;
}

static GVariant *
mp_barrier_to_variant (MpShareable *shareable)
{
  MpBarrier *self = MP_BARRIER (shareable);

  return mp_sync_cell_to_variant (self->cell, "mp:barrier",
                                  g_variant_new ("(svdv)", self->action ? self->action : "",
                                                 self->action_args ? self->action_args : g_variant_new ("()"),
                                                 self->timeout,
                                                 mp_sync_cell_to_variant (self->gate, "mp:barrier-gate", NULL)));
}

static void
mp_barrier_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_barrier_to_variant;
}

static void
mp_barrier_finalize (GObject *object)
{
  MpBarrier *self = MP_BARRIER (object);

  g_clear_pointer (&self->cell, mp_sync_cell_unref);
  g_clear_pointer (&self->gate, mp_sync_cell_unref);
  g_clear_pointer (&self->action, g_free);
  g_clear_pointer (&self->action_args, g_variant_unref);
  G_OBJECT_CLASS (mp_barrier_parent_class)->finalize (object);
}

static void
mp_barrier_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MpBarrier *self = MP_BARRIER (object);

  switch (prop_id)
    {
    case PROP_PARTIES:
      g_value_set_uint (value, mp_barrier_get_parties (self));
      break;
    case PROP_N_WAITING:
      g_value_set_uint (value, mp_barrier_get_n_waiting (self));
      break;
    case PROP_BROKEN:
      g_value_set_boolean (value, mp_barrier_get_broken (self));
      break;
    case PROP_ACTION:
      g_value_set_string (value, self->action);
      break;
    case PROP_TIMEOUT:
      g_value_set_double (value, self->timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_barrier_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MpBarrier *self = MP_BARRIER (object);

  switch (prop_id)
    {
    case PROP_ACTION:
      mp_barrier_set_action (self, g_value_get_string (value), NULL);
      break;
    case PROP_TIMEOUT:
      mp_barrier_set_timeout (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_barrier_class_init (MpBarrierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mp_barrier_finalize;
  object_class->get_property = mp_barrier_get_property;
  object_class->set_property = mp_barrier_set_property;

  /**
   * MpBarrier:parties:
   *
   * How many parties must arrive before all go on.
   */
  properties[PROP_PARTIES] =
    g_param_spec_uint ("parties", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MpBarrier:n-waiting:
   *
   * How many parties wait right now (not notified when it changes).
   */
  properties[PROP_N_WAITING] =
    g_param_spec_uint ("n-waiting", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MpBarrier:broken:
   *
   * Whether the barrier is broken (not notified when it changes).
   */
  properties[PROP_BROKEN] =
    g_param_spec_boolean ("broken", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MpBarrier:action:
   *
   * The name of a registered task that the last party runs before all go
   * on, or %NULL.
   */
  properties[PROP_ACTION] =
    g_param_spec_string ("action", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * MpBarrier:timeout:
   *
   * The seconds mp_barrier_wait() waits when given a negative timeout;
   * negative for no limit.
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_double ("timeout", NULL, NULL, -1, G_MAXDOUBLE, -1,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mp_barrier_init (MpBarrier *self)
{
  self->timeout = -1;
}

static MpBarrier *
barrier_new_for_cells (MpSyncCell *cell,
                       MpSyncCell *gate)
{
  MpBarrier *self;

  if (cell == NULL || gate == NULL)
    {
      g_clear_pointer (&cell, mp_sync_cell_unref);
      g_clear_pointer (&gate, mp_sync_cell_unref);
      return NULL;
    }
  self = g_object_new (MP_TYPE_BARRIER, NULL);
  self->cell = cell;
  self->gate = gate;
  return self;
}

/**
 * mp_barrier_new:
 * @parties: how many parties must arrive, at least 1
 * @error: return location for a #GError
 *
 * A new barrier in shared memory of its own.
 *
 * Returns: (transfer full): the barrier, or %NULL with @error set
 */
MpBarrier *
mp_barrier_new (guint    parties,
                GError **error)
{
  MpSyncCell *cell;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (parties == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A barrier needs at least one party"));
      return NULL;
    }
  cell = mp_sync_cell_new (MP_SYNC_KIND_BARRIER, 0, error);
  if (cell == NULL)
    return NULL;
  PARTIES (mp_sync_cell_shared (cell)) = parties;
  return barrier_new_for_cells (cell, mp_sync_cell_new (MP_SYNC_KIND_BARRIER, 0, error));
}

/**
 * mp_barrier_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for a barrier, as
 *   received
 * @error: return location for a #GError
 *
 * The barrier that @reference stands for, in this process, with the
 * sender's action and timeout.
 *
 * Returns: (transfer full): the barrier, or %NULL with @error set
 */
MpBarrier *
mp_barrier_new_from_variant (GVariant  *reference,
                             GError   **error)
{
  g_autoptr(GVariant) extra = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) gate_reference = NULL;
  MpSyncCell *cell, *gate;
  MpBarrier *self;
  const char *action;
  double timeout;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  cell = mp_sync_cell_new_from_variant (reference, "mp:barrier", MP_SYNC_KIND_BARRIER, &extra, error);
  if (cell == NULL)
    return NULL;
  if (!g_variant_is_of_type (extra, G_VARIANT_TYPE ("(svdv)")))
    {
      mp_sync_cell_unref (cell);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The reference of a barrier is malformed"));
      return NULL;
    }
  g_variant_get (extra, "(&svdv)", &action, &args, &timeout, &gate_reference);
  gate = mp_sync_cell_new_from_variant (gate_reference, "mp:barrier-gate", MP_SYNC_KIND_BARRIER, NULL, error);
  self = barrier_new_for_cells (cell, gate);
  if (self == NULL)
    return NULL;
  mp_barrier_set_action (self, *action ? action : NULL, args);
  mp_barrier_set_timeout (self, timeout);
  return self;
}

/**
 * mp_barrier_set_action:
 * @self: an #MpBarrier
 * @task: (nullable): the name of a registered task, or %NULL for none
 * @args: (nullable): the task's arguments, a tuple (%NULL for none)
 *
 * Sets what the last party to arrive runs before all go on; its failure
 * breaks the barrier. The action travels with the barrier's reference, so
 * set it before handing the barrier to other processes.
 */
void
mp_barrier_set_action (MpBarrier  *self,
                       const char *task,
                       GVariant   *args)
{
  g_return_if_fail (MP_IS_BARRIER (self) && self->cell != NULL);

  g_clear_pointer (&self->action_args, g_variant_unref);
  if (args != NULL)
    self->action_args = g_variant_ref_sink (args);
  if (g_strcmp0 (self->action, task) == 0)
    return;
  g_free (self->action);
  self->action = g_strdup (task);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTION]);
}

/**
 * mp_barrier_get_action:
 * @self: an #MpBarrier
 *
 * The action's task name.
 *
 * Returns: (nullable): the task name, or %NULL
 */
const char *
mp_barrier_get_action (MpBarrier *self)
{
  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, NULL);

  return self->action;
}

/**
 * mp_barrier_set_timeout:
 * @self: an #MpBarrier
 * @timeout: seconds, negative for no limit
 *
 * Sets the timeout of waits that do not give one.
 */
void
mp_barrier_set_timeout (MpBarrier *self,
                        double     timeout)
{
  g_return_if_fail (MP_IS_BARRIER (self) && self->cell != NULL);

  timeout = timeout < 0 ? -1 : timeout;
  if (self->timeout == timeout)
    return;
  self->timeout = timeout;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * mp_barrier_get_timeout:
 * @self: an #MpBarrier
 *
 * The timeout of waits that do not give one.
 *
 * Returns: seconds, negative for no limit
 */
double
mp_barrier_get_timeout (MpBarrier *self)
{
  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, -1);

  return self->timeout;
}

static gint64
wait_deadline (MpBarrier *self,
               double     timeout)
{
  return mp_deadline_from_timeout (timeout >= 0 ? timeout : self->timeout);
}

/**
 * mp_barrier_wait:
 * @self: an #MpBarrier
 * @timeout: seconds to wait at most; negative for the barrier's
 *   #MpBarrier:timeout
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Arrives at the barrier and waits until all parties have. A timeout or a
 * cancellation breaks the barrier for every party.
 *
 * Returns: the caller's index, from 0 to parties - 1 in the order of
 *   arrival; -1 with %MP_ERROR_BROKEN_BARRIER, %G_IO_ERROR_TIMED_OUT,
 *   %G_IO_ERROR_CANCELLED or the action's error
 */
int
mp_barrier_wait (MpBarrier     *self,
                 double         timeout,
                 GCancellable  *cancellable,
                 GError       **error)
{
  Arrival arrival = { self, 0, };
  gint64 deadline;

  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  deadline = wait_deadline (self, timeout);
  if (!mp_sync_cell_wait (self->gate, &arrive_funcs, &arrival, deadline, cancellable, error))
    return -1;
  if (arrival.last)
    return release_parties (self, &arrival, error) ? (int) arrival.index : -1;
  if (!mp_sync_cell_wait (self->cell, &release_funcs, &arrival, deadline, cancellable, error))
    return -1;
  return (int) arrival.index;
}

typedef struct
{
  Arrival  arrival;
  gint64   deadline;
} AsyncArrival;

static void
released_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AsyncArrival *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, error);
  else
    g_task_return_int (task, data->arrival.index);
}

static void
arrived_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MpBarrier *self = g_task_get_source_object (task);
  AsyncArrival *data = g_task_get_task_data (task);
  g_autoptr(GTask) wait = NULL;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (data->arrival.last)
    {
      if (!release_parties (self, &data->arrival, &error))
        g_task_return_error (task, error);
      else
        g_task_return_int (task, data->arrival.index);
      return;
    }
  wait = g_task_new (self, g_task_get_cancellable (task), released_cb, g_object_ref (task));
  g_task_set_check_cancellable (wait, FALSE);
  g_task_set_task_data (wait, &data->arrival, NULL);
  mp_sync_cell_wait_async (self->cell, &release_funcs, wait, data->deadline);
}

/**
 * mp_barrier_wait_async:
 * @self: an #MpBarrier
 * @timeout: seconds to wait at most; negative for the barrier's
 *   #MpBarrier:timeout
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the thread-default main context of
 *   the caller once all parties arrived or the wait failed
 * @user_data: data for @callback
 *
 * mp_barrier_wait() without blocking the main loop.
 */
void
mp_barrier_wait_async (MpBarrier           *self,
                       double               timeout,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) wait = NULL;

  g_return_if_fail (MP_IS_BARRIER (self) && self->cell != NULL);

  AsyncArrival *data;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, mp_barrier_wait_async);
  data = g_new0 (AsyncArrival, 1);
  data->arrival.barrier = self;
  data->deadline = wait_deadline (self, timeout);
  g_task_set_task_data (task, data, g_free);
  wait = g_task_new (self, cancellable, arrived_cb, g_object_ref (task));
  g_task_set_check_cancellable (wait, FALSE);
  g_task_set_task_data (wait, &data->arrival, NULL);
  mp_sync_cell_wait_async (self->gate, &arrive_funcs, wait, data->deadline);
}

/**
 * mp_barrier_wait_finish:
 * @self: an #MpBarrier
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mp_barrier_wait_async().
 *
 * Returns: the caller's index, or -1 with @error set
 */
int
mp_barrier_wait_finish (MpBarrier     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  GError *local_error = NULL;
  gssize index;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  index = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return -1;
    }
  return (int) index;
}

/**
 * mp_barrier_reset:
 * @self: an #MpBarrier
 *
 * Returns the barrier to its empty, unbroken state; parties waiting right
 * now fail with %MP_ERROR_BROKEN_BARRIER.
 */
void
mp_barrier_reset (MpBarrier *self)
{
  MpSyncShared *shared;

  g_return_if_fail (MP_IS_BARRIER (self) && self->cell != NULL);

  shared = mp_sync_cell_shared (self->cell);
  mp_sync_cell_guard (self->cell);
  if (ARRIVED (shared) > 0)
    {
      ENDED_BROKEN (shared) |= GEN_BIT (GENERATION (shared));
      GENERATION (shared)++;
    }
  ENDED_BROKEN (shared) &= ~GEN_BIT (GENERATION (shared));
  ARRIVED (shared) = 0;
  BROKEN (shared) = 0;
  TO_LEAVE (shared) = 0;
  mp_sync_cell_unguard (self->cell);
  mp_sync_cell_wake (self->cell);
  mp_sync_cell_wake (self->gate);
}

/**
 * mp_barrier_abort:
 * @self: an #MpBarrier
 *
 * Breaks the barrier: waiting parties and later waits fail with
 * %MP_ERROR_BROKEN_BARRIER until mp_barrier_reset().
 */
void
mp_barrier_abort (MpBarrier *self)
{
  MpSyncShared *shared;

  g_return_if_fail (MP_IS_BARRIER (self) && self->cell != NULL);

  shared = mp_sync_cell_shared (self->cell);
  mp_sync_cell_guard (self->cell);
  BROKEN (shared) = 1;
  ENDED_BROKEN (shared) |= GEN_BIT (GENERATION (shared));
  mp_sync_cell_unguard (self->cell);
  mp_sync_cell_wake (self->cell);
  mp_sync_cell_wake (self->gate);
}

/**
 * mp_barrier_get_broken:
 * @self: an #MpBarrier
 *
 * Whether the barrier is broken.
 *
 * Returns: %TRUE when it is
 */
gboolean
mp_barrier_get_broken (MpBarrier *self)
{
  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, FALSE);

  return __atomic_load_n (&BROKEN (mp_sync_cell_shared (self->cell)), __ATOMIC_ACQUIRE) != 0;
}

/**
 * mp_barrier_get_n_waiting:
 * @self: an #MpBarrier
 *
 * How many parties wait right now.
 *
 * Returns: the count
 */
guint
mp_barrier_get_n_waiting (MpBarrier *self)
{
  MpSyncShared *shared;
  guint n;

  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, 0);

  shared = mp_sync_cell_shared (self->cell);
  mp_sync_cell_guard (self->cell);
  n = ARRIVED (shared) < PARTIES (shared) ? (guint) ARRIVED (shared) : 0;
  mp_sync_cell_unguard (self->cell);
  return n;
}

/**
 * mp_barrier_get_parties:
 * @self: an #MpBarrier
 *
 * How many parties must arrive.
 *
 * Returns: the count
 */
guint
mp_barrier_get_parties (MpBarrier *self)
{
  g_return_val_if_fail (MP_IS_BARRIER (self) && self->cell != NULL, 0);

  return (guint) PARTIES (mp_sync_cell_shared (self->cell));
}
