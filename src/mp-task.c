/* mp-task.c: the process-wide task registry
 *
 * Every process that runs the same program registers the same tasks
 * before mp_init(), so a name means the same code in parent and child.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-pool-private.h"
#include "mp-runtime-private.h"
#include "mp-task-private.h"

struct _MpTaskEntry
{
  MpTaskFunc      func;
  gpointer        user_data;
  GDestroyNotify  destroy;
  gboolean        after_init;
  gint            ref_count;
};

static GMutex tasks_lock;
static GHashTable *tasks;

static MpTaskEntry *
task_entry_ref (MpTaskEntry *entry)
{
  g_atomic_int_inc (&entry->ref_count);
  return entry;
}

static void
task_entry_unref (MpTaskEntry *entry)
{
  if (g_atomic_int_dec_and_test (&entry->ref_count))
    {
      if (entry->destroy)
        entry->destroy (entry->user_data);
      g_free (entry);
    }
}

void
mp_task_entry_unref (MpTaskEntry *entry)
{
  task_entry_unref (entry);
}

/* libmp's own tasks, known in every process without registering: a
 * spawned child never ran the code that would have registered them.
 * Their one reference is never dropped. */
static const char *builtin_names[] = { MP_POOL_WORKER_TASK };
static MpTaskEntry builtin_entries[] = {
  { mp_pool_worker_run, NULL, NULL, FALSE, 1 },
};

static MpTaskEntry *
lookup (const char *name)
{
  MpTaskEntry *entry = NULL;

  g_mutex_lock (&tasks_lock);
  if (tasks != NULL && (entry = g_hash_table_lookup (tasks, name)))
    task_entry_ref (entry);
  g_mutex_unlock (&tasks_lock);
  for (guint i = 0; entry == NULL && i < G_N_ELEMENTS (builtin_names); i++)
    if (g_str_equal (name, builtin_names[i]))
      entry = task_entry_ref (&builtin_entries[i]);
  return entry;
}

/**
 * mp_register_task:
 * @name: a name, unique in the program
 * @func: (scope notified) (closure user_data) (destroy destroy): the task
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Registers @func under @name, so that a process started by libmp can
 * run it: mp_process_new() and, later, pools refer to tasks by name.
 *
 * Register every task before mp_init(). A spawn child runs the program
 * again up to mp_init() and a forkserver child is a copy of the program
 * as it was inside mp_init(), so neither knows a task registered later;
 * starting such a task with those methods fails with
 * %MP_ERROR_UNKNOWN_TASK at once. Registering a name again replaces it.
 */
void
mp_register_task (const char     *name,
                  MpTaskFunc      func,
                  gpointer        user_data,
                  GDestroyNotify  destroy)
{
  MpTaskEntry *entry;

  g_return_if_fail (name != NULL && *name != '\0');
  g_return_if_fail (func != NULL);

  entry = g_new0 (MpTaskEntry, 1);
  entry->func = func;
  entry->user_data = user_data;
  entry->destroy = destroy;
  entry->after_init = mp_is_initialized () && !mp_runtime_is_child ();
  entry->ref_count = 1;

  g_mutex_lock (&tasks_lock);
  if (tasks == NULL)
    tasks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) task_entry_unref);
  g_hash_table_replace (tasks, g_strdup (name), entry);
  g_mutex_unlock (&tasks_lock);
}

/**
 * mp_task_is_registered:
 * @name: a task name
 *
 * Returns: whether a task is registered under @name in this process
 */
gboolean
mp_task_is_registered (const char *name)
{
  g_autoptr(MpTaskEntry) entry = NULL;

  g_return_val_if_fail (name != NULL, FALSE);
  entry = lookup (name);
  return entry != NULL;
}

gboolean
mp_task_registered_after_init (const char *name)
{
  g_autoptr(MpTaskEntry) entry = lookup (name);

  return entry != NULL && entry->after_init;
}

/**
 * mp_run_task:
 * @name: a registered task name
 * @args: (nullable): the arguments; %NULL means the empty tuple
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs a registered task in this process, as a worker does.
 *
 * Returns: (transfer full): the task's value (`()` when it returned
 *   none), or %NULL with @error set
 */
GVariant *
mp_run_task (const char    *name,
             GVariant      *args,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(MpTaskEntry) entry = NULL;

  g_return_val_if_fail (name != NULL, NULL);

  entry = mp_task_lookup (name, error);
  if (entry == NULL)
    return NULL;
  return mp_task_entry_run (entry, args, cancellable, error);
}

MpTaskEntry *
mp_task_lookup (const char  *name,
                GError     **error)
{
  MpTaskEntry *entry = lookup (name);

  if (entry == NULL)
    g_set_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK,
                 _("No task is registered under the name “%s” in process %d"),
                 name, (int) getpid ());
  return entry;
}

GVariant *
mp_task_entry_run (MpTaskEntry   *entry,
                   GVariant      *args,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) owned_args = NULL;
  GError *local_error = NULL;
  GVariant *result;

  owned_args = args ? g_variant_ref_sink (args) : g_variant_ref_sink (g_variant_new ("()"));
  result = entry->func (owned_args, cancellable, entry->user_data, &local_error);
  if (local_error != NULL)
    {
      g_clear_pointer (&result, g_variant_unref);
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (result == NULL)
    result = g_variant_new ("()");
  return g_variant_take_ref (result);
}
