/* mp-task.c: the process-wide task registry
 *
 * Every process that runs the same program registers the same tasks
 * before mp_init(), so a name means the same code in parent and child.
 * A name ending in "/" registers a family: the task of every name under
 * that prefix that has none of its own, which tells the names apart with
 * mp_task_get_current_name(). A binding registers one task for all its
 * functions that way, and the name says which one to call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-pool-private.h"
#include "mp-runtime-private.h"
#include "mp-task-private.h"

struct _MpTaskEntry
{
  char           *name;
  MpTaskFunc      func;
  gpointer        user_data;
  GDestroyNotify  destroy;
  gboolean        after_init;
  gint            ref_count;
  gboolean        batch;
  MpTaskEntry    *family;   /* a family member's entry: the family's, which owns user_data */
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
      if (entry->family != NULL)
        task_entry_unref (entry->family);
      g_free (entry->name);
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
  { (char *) MP_POOL_WORKER_TASK, mp_pool_worker_run, NULL, NULL, FALSE, 1, FALSE, NULL },
};

/* The family of @name: the task registered under its longest prefix
 * that ends in "/". Called with tasks_lock held. */
static MpTaskEntry *
lookup_family (const char *name)
{
  g_autofree char *prefix = NULL;
  char *end;

  if (strchr (name, '/') == NULL)
    return NULL;
  prefix = g_strdup (name);
  /* prefix ends at end; the name itself was looked up already. */
  end = prefix + strlen (prefix);
  while (--end > prefix)
    if (end[-1] == '/')
      {
        MpTaskEntry *family;

        *end = '\0';
        if ((family = g_hash_table_lookup (tasks, prefix)) != NULL)
          return family;
      }
  return NULL;
}

/* The task registered under @name or, failing that, its family's (a
 * full reference); *@member tells which. */
static MpTaskEntry *
lookup_registered (const char *name,
                   gboolean   *member)
{
  MpTaskEntry *entry = NULL;

  *member = FALSE;
  g_mutex_lock (&tasks_lock);
  if (tasks != NULL)
    {
      entry = g_hash_table_lookup (tasks, name);
      if (entry == NULL && (entry = lookup_family (name)) != NULL)
        *member = TRUE;
      if (entry != NULL)
        task_entry_ref (entry);
    }
  g_mutex_unlock (&tasks_lock);
  for (guint i = 0; entry == NULL && i < G_N_ELEMENTS (builtin_names); i++)
    if (g_str_equal (name, builtin_names[i]))
      entry = task_entry_ref (&builtin_entries[i]);
  return entry;
}

/* The entry that runs @name: a family member gets an entry of its own,
 * carrying its full name for mp_task_get_current_name(). */
static MpTaskEntry *
lookup (const char *name)
{
  MpTaskEntry *family, *entry;
  gboolean member;

  family = lookup_registered (name, &member);
  if (family == NULL || !member)
    return family;
  entry = g_new0 (MpTaskEntry, 1);
  entry->name = g_strdup (name);
  entry->func = family->func;
  entry->user_data = family->user_data;
  entry->after_init = family->after_init;
  entry->ref_count = 1;
  entry->batch = family->batch;
  entry->family = family;   /* takes the reference */
  return entry;
}

static void
register_task (const char     *name,
               MpTaskFunc      func,
               gpointer        user_data,
               GDestroyNotify  destroy,
               gboolean        batch)
{
  MpTaskEntry *entry;

  g_return_if_fail (name != NULL && *name != '\0');
  g_return_if_fail (func != NULL);

  entry = g_new0 (MpTaskEntry, 1);
  entry->name = g_strdup (name);
  entry->func = func;
  entry->user_data = user_data;
  entry->destroy = destroy;
  entry->after_init = mp_is_initialized () && !mp_runtime_is_child ();
  entry->ref_count = 1;
  entry->batch = batch;

  g_mutex_lock (&tasks_lock);
  if (tasks == NULL)
    tasks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) task_entry_unref);
  g_hash_table_replace (tasks, g_strdup (name), entry);
  g_mutex_unlock (&tasks_lock);
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
 *
 * A @name that ends in "/" registers a family of tasks: @func runs for
 * every name that starts with @name and has no task of its own (the
 * longest such prefix wins), "thumbnail/640x480" for "thumbnail/", and
 * mp_task_get_current_name() gives it the full name, so that the rest of
 * the name can say what to do. That way a binding needs one task for
 * all its functions, registered before mp_init(), and the name of the
 * function travels in the task's name. Processes and pools accept such
 * names wherever they take a task name; a name in no family is still
 * %MP_ERROR_UNKNOWN_TASK.
 */
void
mp_register_task (const char     *name,
                  MpTaskFunc      func,
                  gpointer        user_data,
                  GDestroyNotify  destroy)
{
  register_task (name, func, user_data, destroy, FALSE);
}

/**
 * mp_register_batch_task:
 * @name: the task's name
 * @func: (scope notified) (closure user_data) (destroy destroy): the task:
 *   its arguments are an array of items (each one call's arguments), its
 *   value an array of as many results
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Registers a task that takes a whole batch of items at once. A pool's
 * map runs it once per chunk instead of once per item, which is what
 * makes a map of small items fast: no value is made per item. Called on
 * its own (mp_run_task(), mp_pool_apply(), a process), it gets an array
 * of one item and its one result is the value.
 *
 * A @name that ends in "/" registers a family, as with
 * mp_register_task(): since a batch gets only the bare items, the rest
 * of the name, read with mp_task_get_current_name(), is the place to say
 * what to do with them ("gi.overrides.Mp.map/module:function", say).
 */
void
mp_register_batch_task (const char     *name,
                        MpTaskFunc      func,
                        gpointer        user_data,
                        GDestroyNotify  destroy)
{
  register_task (name, func, user_data, destroy, TRUE);
}

/**
 * mp_task_is_registered:
 * @name: a task name
 *
 * Whether mp_run_task(), a process or a pool can run @name here: a task
 * is registered under it, or under a family that it belongs to (see
 * mp_register_task()).
 *
 * Returns: whether a task runs under @name in this process
 */
gboolean
mp_task_is_registered (const char *name)
{
  g_autoptr(MpTaskEntry) entry = NULL;
  gboolean member;

  g_return_val_if_fail (name != NULL, FALSE);
  entry = lookup_registered (name, &member);
  return entry != NULL;
}

gboolean
mp_task_registered_after_init (const char *name)
{
  gboolean member;
  g_autoptr(MpTaskEntry) entry = lookup_registered (name, &member);

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

gboolean
mp_task_entry_is_batch (MpTaskEntry *entry)
{
  return entry->batch;
}

/* The name of the task this thread runs, for families. */
static __thread const char *current_name;

/**
 * mp_task_get_current_name:
 *
 * Gives the name that the task running in this thread was called under.
 * For the task of a family (see mp_register_task()) it is the full name,
 * so that one function can serve many names: "thumbnail/640x480" to a
 * task registered as "thumbnail/", say. Outside a task it is %NULL;
 * inside a task that runs another (mp_run_task()), the inner task's name
 * until it returns.
 *
 * Returns: (transfer none) (nullable): the name, valid while the task
 *   runs, or %NULL when no task runs in this thread
 */
const char *
mp_task_get_current_name (void)
{
  return current_name;
}

/* GJS (1.74 at least) refuses to call JavaScript between the slices of
 * an incremental garbage collection's sweep, and when only C calls into
 * JavaScript (a worker running a task per item) the sweep never moves on:
 * every later call is refused. A refused callback returns zeros, which
 * would pass for a task that returned nothing; the only sign is GJS's
 * critical message, watched for here in child processes. */
#define GJS_REFUSAL "Attempting to run a JS callback during garbage collection"
#define GJS_REFUSAL_DETAIL "The offending callback was "   /* its second message */

static __thread gboolean binding_refused;

static void
watch_gjs_message (const char     *domain,
                   GLogLevelFlags  level,
                   const char     *message,
                   gpointer        unused)
{
  if (g_str_has_prefix (message, GJS_REFUSAL))
    binding_refused = TRUE;
  g_log_default_handler (domain, level, message, NULL);
}

/* A refusal is handled (the call fails with MP_ERROR_TASK_REFUSED), so
 * it does not abort the process under G_DEBUG=fatal-criticals; every
 * other fatal message still does. */
static gboolean
abort_unless_refusal (const char     *domain,
                      GLogLevelFlags  level,
                      const char     *message,
                      gpointer        unused)
{
  return !(g_strcmp0 (domain, "Gjs") == 0 &&
           (g_str_has_prefix (message, GJS_REFUSAL) ||
            (binding_refused && g_str_has_prefix (message, GJS_REFUSAL_DETAIL))));
}

static void
watch_binding_refusals (void)
{
  static gsize watched;

  if (g_once_init_enter (&watched))
    {
      g_log_set_handler ("Gjs", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                         watch_gjs_message, NULL);
      g_test_log_set_fatal_handler (abort_unless_refusal, NULL);
      g_once_init_leave (&watched, 1);
    }
}

static GVariant *
call (MpTaskEntry   *entry,
      GVariant      *args,
      GCancellable  *cancellable,
      GError       **error)
{
  GError *local_error = NULL;
  const char *outer_name = current_name;
  GVariant *result;

  if (mp_runtime_is_child ())
    watch_binding_refusals ();
  binding_refused = FALSE;
  /* The caller holds the entry, and so its name, until the call returns. */
  current_name = entry->name;
  result = entry->func (args, cancellable, entry->user_data, &local_error);
  current_name = outer_name;
  if (result == NULL && local_error == NULL && binding_refused)
    g_set_error (&local_error, MP_ERROR, MP_ERROR_TASK_REFUSED,
                 _("The task “%s” was not run: GJS refused to call JavaScript while its garbage collector was sweeping"),
                 entry->name);
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

GVariant *
mp_task_entry_run_batch (MpTaskEntry   *entry,
                         GVariant      *items,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GVariant) owned_items = g_variant_ref_sink (items);
  g_autoptr(GVariant) results = call (entry, owned_items, cancellable, error);

  if (results == NULL)
    return NULL;
  if (!g_variant_type_is_array (g_variant_get_type (results)) ||
      g_variant_n_children (results) != g_variant_n_children (owned_items))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_TASK_FAILED,
                   _("A batch task gave “%s” with %" G_GSIZE_FORMAT " results for %" G_GSIZE_FORMAT " items; it must give an array of one result per item"),
                   g_variant_get_type_string (results),
                   g_variant_type_is_array (g_variant_get_type (results)) ? g_variant_n_children (results) : 0,
                   g_variant_n_children (owned_items));
      return NULL;
    }
  return g_steal_pointer (&results);
}

GVariant *
mp_task_entry_run (MpTaskEntry   *entry,
                   GVariant      *args,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autoptr(GVariant) owned_args = NULL;
  g_autoptr(GVariant) results = NULL;

  owned_args = args ? g_variant_ref_sink (args) : g_variant_ref_sink (g_variant_new ("()"));
  if (!entry->batch)
    return call (entry, owned_args, cancellable, error);

  /* One item as a batch of one. */
  results = mp_task_entry_run_batch (entry, g_variant_new_array (NULL, &owned_args, 1), cancellable, error);
  if (results == NULL)
    return NULL;
  return g_variant_get_child_value (results, 0);
}
