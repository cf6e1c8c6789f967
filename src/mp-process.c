/* mp-process.c: a child process with Python's Process semantics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "mp-debug-private.h"
#include "mp-enums.h"
#include "mp-error.h"
#include "mp-fork-private.h"
#include "mp-forkserver-private.h"
#include "mp-pipe.h"
#include "mp-shareable.h"
#include "mp-queue.h"
#include "mp-process-private.h"
#include "mp-runtime-private.h"
#include "mp-task-private.h"
#include "mp-wire-private.h"

/**
 * MpProcess:
 *
 * A child process that runs a task, a function (fork) or a subclass's
 * `run` vfunc, with the semantics of Python's `multiprocessing.Process`.
 *
 * |[<!-- language="C" -->
 * g_autoptr(MpProcess) p = mp_process_new ("greet", g_variant_new ("(s)", "bob"));
 * if (!mp_process_start (p, &error))
 *   return FALSE;
 * mp_process_join (p, -1, &error);
 * g_print ("exit code %d\n", mp_process_get_exitcode (p));
 * ]|
 *
 * The child dies with its parent, even when the parent is killed with
 * SIGKILL. Daemonic children are terminated when the parent exits
 * normally; the others are joined, as in Python.
 *
 * Signals and property notifications are emitted in the thread-default
 * main context of the thread that made the object.
 */

typedef struct
{
  char            *name;
  gboolean         daemon;
  MpStartMethod    start_method;   /* as asked */
  MpStartMethod    used_method;    /* as resolved at start */
  char            *task_name;
  GVariant        *args;
  MpProcessFunc    func;
  gpointer         func_data;
  GDestroyNotify   func_destroy;
  gboolean         is_main;

  GMainContext    *context;

  /* Guarded by lock once started. */
  GMutex           lock;
  MpProcessState   state;
  int              pid;
  int              exitcode;
  int              pidfd;          /* fork, spawn: the child; forkserver: the worker */
  MpChannel       *channel;        /* spawn, forkserver: the worker's channel */
  MpChannel       *status;         /* forkserver: pid and exit code */
  GError          *child_error;    /* what the child's target failed with */
  GSource         *watch;
  GPtrArray       *joins;          /* pending join_async tasks */
} MpProcessPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MpProcess, mp_process, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_DAEMON,
  PROP_START_METHOD,
  PROP_TASK_NAME,
  PROP_ARGS,
  PROP_PID,
  PROP_STATE,
  PROP_EXITCODE,
  N_PROPS
};

enum {
  SIGNAL_EXITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];
static guint process_counter;

#define PRIV(self) ((MpProcessPrivate *) mp_process_get_instance_private (self))

static void
mp_process_real_run (MpProcess     *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  MpProcessPrivate *priv = PRIV (self);

  if (priv->func != NULL)
    {
      GError *local_error = NULL;

      if (!priv->func (self, priv->func_data, &local_error) && local_error == NULL)
        g_set_error_literal (&local_error, MP_ERROR, MP_ERROR_TASK_FAILED,
                             _("The process function failed without saying why"));
      if (local_error != NULL)
        g_propagate_error (error, local_error);
    }
  else if (priv->task_name != NULL)
    {
      g_autoptr(GVariant) result = mp_run_task (priv->task_name, priv->args, cancellable, error);
    }
}

static void
mp_process_finalize (GObject *object)
{
  MpProcess *self = MP_PROCESS (object);
  MpProcessPrivate *priv = PRIV (self);

  if (priv->watch != NULL)
    {
      g_source_destroy (priv->watch);
      g_source_unref (priv->watch);
    }
  if (priv->pidfd >= 0)
    close (priv->pidfd);
  g_clear_object (&priv->channel);
  g_clear_object (&priv->status);
  g_clear_error (&priv->child_error);
  g_clear_pointer (&priv->joins, g_ptr_array_unref);
  if (priv->func_destroy != NULL)
    priv->func_destroy (priv->func_data);
  g_clear_pointer (&priv->args, g_variant_unref);
  g_clear_pointer (&priv->context, g_main_context_unref);
  g_free (priv->task_name);
  g_free (priv->name);
  g_mutex_clear (&priv->lock);

  G_OBJECT_CLASS (mp_process_parent_class)->finalize (object);
}

static void
mp_process_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MpProcess *self = MP_PROCESS (object);
  MpProcessPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, priv->name);
      break;
    case PROP_DAEMON:
      g_value_set_boolean (value, priv->daemon);
      break;
    case PROP_START_METHOD:
      g_value_set_enum (value, priv->start_method);
      break;
    case PROP_TASK_NAME:
      g_value_set_string (value, priv->task_name);
      break;
    case PROP_ARGS:
      g_value_set_variant (value, priv->args);
      break;
    case PROP_PID:
      g_value_set_int (value, mp_process_get_pid (self));
      break;
    case PROP_STATE:
      g_value_set_enum (value, mp_process_get_state (self));
      break;
    case PROP_EXITCODE:
      g_value_set_int (value, mp_process_get_exitcode (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_process_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MpProcess *self = MP_PROCESS (object);
  MpProcessPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_NAME:
      mp_process_set_name (self, g_value_get_string (value));
      break;
    case PROP_DAEMON:
      mp_process_set_daemon (self, g_value_get_boolean (value));
      break;
    case PROP_START_METHOD:
      mp_process_set_start_method (self, g_value_get_enum (value));
      break;
    case PROP_TASK_NAME:
      g_free (priv->task_name);
      priv->task_name = g_value_dup_string (value);
      break;
    case PROP_ARGS:
      g_clear_pointer (&priv->args, g_variant_unref);
      priv->args = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mp_process_class_init (MpProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mp_process_finalize;
  object_class->get_property = mp_process_get_property;
  object_class->set_property = mp_process_set_property;

  klass->run = mp_process_real_run;

  /**
   * MpProcess:name:
   *
   * A name for messages and debugging; "Process-N" by default.
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:daemon:
   *
   * Whether the child is terminated when the parent exits normally
   * (otherwise the parent waits for it at exit). Set it before starting.
   */
  properties[PROP_DAEMON] =
    g_param_spec_boolean ("daemon", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:start-method:
   *
   * How the child is started. %MP_START_METHOD_DEFAULT follows
   * mp_get_start_method(), except for a function target, which forks.
   */
  properties[PROP_START_METHOD] =
    g_param_spec_enum ("start-method", NULL, NULL,
                       MP_TYPE_START_METHOD, MP_START_METHOD_DEFAULT,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:task-name:
   *
   * The registered task the default `run` calls, or %NULL.
   */
  properties[PROP_TASK_NAME] =
    g_param_spec_string ("task-name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:args:
   *
   * The arguments given to the task; the empty tuple by default.
   */
  properties[PROP_ARGS] =
    g_param_spec_variant ("args", NULL, NULL, G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:pid:
   *
   * The child's process id once started, 0 before.
   */
  properties[PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:state:
   *
   * Where the process is in its life. #MpProcess:exitcode means something
   * only in %MP_PROCESS_STATE_EXITED (and after it, when closed).
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       MP_TYPE_PROCESS_STATE, MP_PROCESS_STATE_INITIAL,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MpProcess:exitcode:
   *
   * As Python's `exitcode`: 0 on success, 1 when the target failed, N
   * after mp_exit (N), -N when a signal N killed the child. Read it once
   * #MpProcess:state is %MP_PROCESS_STATE_EXITED; it is 0 before.
   */
  properties[PROP_EXITCODE] =
    g_param_spec_int ("exitcode", NULL, NULL, G_MININT, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MpProcess::exited:
   * @self: the process
   * @exitcode: its exit code, as #MpProcess:exitcode
   *
   * Emitted once, when the parent learns that the child has ended:
   * from the main loop of the context that made @self, or from a join.
   */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
mp_process_init (MpProcess *self)
{
  MpProcessPrivate *priv = PRIV (self);

  g_mutex_init (&priv->lock);
  priv->pidfd = -1;
  priv->context = g_main_context_ref_thread_default ();
  priv->name = g_strdup_printf ("Process-%u", g_atomic_int_add (&process_counter, 1) + 1);
  priv->joins = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * mp_process_new:
 * @task_name: (nullable): a task registered with mp_register_task(), or
 *   %NULL for a process that runs nothing (or a subclass's `run`)
 * @args: (nullable): the task's arguments; %NULL means the empty tuple
 *
 * Makes a process that runs @task_name, as Python's
 * `Process(target=f, args=(...))` does.
 *
 * Returns: (transfer full): a new, unstarted process
 */
MpProcess *
mp_process_new (const char *task_name,
                GVariant   *args)
{
  return g_object_new (MP_TYPE_PROCESS,
                       "task-name", task_name,
                       "args", args,
                       NULL);
}

/**
 * mp_process_new_for_func:
 * @func: (scope notified) (closure user_data) (destroy destroy): the
 *   function to run in the child
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data in the parent
 *
 * Makes a process that runs a closure in a forked child. Only the fork
 * start method can carry a closure; starting it with another method is
 * an %MP_ERROR_START_METHOD error.
 *
 * Returns: (transfer full): a new, unstarted process
 */
MpProcess *
mp_process_new_for_func (MpProcessFunc  func,
                         gpointer       user_data,
                         GDestroyNotify destroy)
{
  MpProcess *self;
  MpProcessPrivate *priv;

  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (MP_TYPE_PROCESS, NULL);
  priv = PRIV (self);
  priv->func = func;
  priv->func_data = user_data;
  priv->func_destroy = destroy;
  return self;
}

MpProcess *
mp_process_new_main (void)
{
  MpProcess *self = g_object_new (MP_TYPE_PROCESS, "name", "MainProcess", NULL);
  MpProcessPrivate *priv = PRIV (self);

  priv->is_main = TRUE;
  priv->pid = getpid ();
  priv->state = MP_PROCESS_STATE_STARTED;
  return self;
}

/* ---- travelling to a spawn or forkserver child ------------------------- */

/* name, type, JSON of plain subclass properties, task, args, daemon, and
 * the subclass properties that hold objects travelling as references. */
#define RUN_TYPE "(ssssvba{sv})"

/* A property value as JSON: plain values as themselves, a GVariant as
 * {"type": ..., "value": ...}. Other types do not travel. */
static JsonNode *
value_to_json (const GValue *value)
{
  GType type = G_VALUE_TYPE (value);
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN: json_node_set_boolean (node, g_value_get_boolean (value)); break;
    case G_TYPE_CHAR:    json_node_set_int (node, g_value_get_schar (value)); break;
    case G_TYPE_UCHAR:   json_node_set_int (node, g_value_get_uchar (value)); break;
    case G_TYPE_INT:     json_node_set_int (node, g_value_get_int (value)); break;
    case G_TYPE_UINT:    json_node_set_int (node, g_value_get_uint (value)); break;
    case G_TYPE_LONG:    json_node_set_int (node, g_value_get_long (value)); break;
    case G_TYPE_ULONG:   json_node_set_int (node, g_value_get_ulong (value)); break;
    case G_TYPE_INT64:   json_node_set_int (node, g_value_get_int64 (value)); break;
    case G_TYPE_UINT64:  json_node_set_int (node, g_value_get_uint64 (value)); break;
    case G_TYPE_ENUM:    json_node_set_int (node, g_value_get_enum (value)); break;
    case G_TYPE_FLAGS:   json_node_set_int (node, g_value_get_flags (value)); break;
    case G_TYPE_FLOAT:   json_node_set_double (node, g_value_get_float (value)); break;
    case G_TYPE_DOUBLE:  json_node_set_double (node, g_value_get_double (value)); break;
    case G_TYPE_STRING:
      if (g_value_get_string (value) == NULL)
        json_node_init_null (node);
      else
        json_node_set_string (node, g_value_get_string (value));
      break;
    case G_TYPE_VARIANT:
      {
        GVariant *v = g_value_get_variant (value);
        if (v == NULL)
          json_node_init_null (node);
        else
          {
            JsonObject *o = json_object_new ();
            json_object_set_string_member (o, "type", g_variant_get_type_string (v));
            json_object_set_member (o, "value", json_gvariant_serialize (v));
            json_node_init_object (node, o);
            json_object_unref (o);
          }
      }
      break;
    default:
      if (type == G_TYPE_STRV)
        {
          JsonArray *array = json_array_new ();
          const char * const *strv = g_value_get_boxed (value);
          for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
            json_array_add_string_element (array, strv[i]);
          json_node_init_array (node, array);
          json_array_unref (array);
          break;
        }
      json_node_unref (node);
      return NULL;
    }
  return node;
}

static gboolean
value_from_json (GValue    *value,
                 JsonNode  *node,
                 GError   **error)
{
  GType type = G_VALUE_TYPE (value);
  gboolean is_value = JSON_NODE_HOLDS_VALUE (node);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN: if (!is_value) break; g_value_set_boolean (value, json_node_get_boolean (node)); return TRUE;
    case G_TYPE_CHAR:    if (!is_value) break; g_value_set_schar (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_UCHAR:   if (!is_value) break; g_value_set_uchar (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_INT:     if (!is_value) break; g_value_set_int (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_UINT:    if (!is_value) break; g_value_set_uint (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_LONG:    if (!is_value) break; g_value_set_long (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_ULONG:   if (!is_value) break; g_value_set_ulong (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_INT64:   if (!is_value) break; g_value_set_int64 (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_UINT64:  if (!is_value) break; g_value_set_uint64 (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_ENUM:    if (!is_value) break; g_value_set_enum (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_FLAGS:   if (!is_value) break; g_value_set_flags (value, json_node_get_int (node)); return TRUE;
    case G_TYPE_FLOAT:   if (!is_value) break; g_value_set_float (value, json_node_get_double (node)); return TRUE;
    case G_TYPE_DOUBLE:  if (!is_value) break; g_value_set_double (value, json_node_get_double (node)); return TRUE;
    case G_TYPE_STRING:
      if (JSON_NODE_HOLDS_NULL (node))
        return TRUE;
      if (!is_value) break;
      g_value_set_string (value, json_node_get_string (node));
      return TRUE;
    case G_TYPE_VARIANT:
      if (JSON_NODE_HOLDS_NULL (node))
        return TRUE;
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *o = json_node_get_object (node);
          const char *vtype = json_object_get_string_member_with_default (o, "type", NULL);
          JsonNode *v = json_object_get_member (o, "value");
          GVariant *variant;

          if (vtype == NULL || v == NULL)
            break;
          variant = json_gvariant_deserialize (v, vtype, error);
          if (variant == NULL)
            return FALSE;
          g_value_set_variant (value, variant);
          return TRUE;
        }
      break;
    default:
      if (type == G_TYPE_STRV && JSON_NODE_HOLDS_ARRAY (node))
        {
          JsonArray *array = json_node_get_array (node);
          g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
          for (guint i = 0; i < json_array_get_length (array); i++)
            g_strv_builder_add (builder, json_array_get_string_element (array, i));
          g_value_take_boxed (value, g_strv_builder_end (builder));
          return TRUE;
        }
      break;
    }
  g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
               _("A property of type %s could not be rebuilt from JSON"), g_type_name (type));
  return FALSE;
}

/* A subclass's own read-write properties, as JSON, except shareable
 * objects (pipe ends, queues, locks, shared memory...), which travel as references in @refs (their descriptors go with the
 * message); MpProcess's own travel as typed fields of the run message. */
static char *
serialize_subclass_properties (MpProcess       *self,
                               GVariantBuilder *refs)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs;

  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      GParamSpec *pspec = pspecs[i];
      g_auto(GValue) value = G_VALUE_INIT;
      JsonNode *member;

      if (pspec->owner_type == MP_TYPE_PROCESS ||
          (pspec->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE ||
          (pspec->flags & G_PARAM_CONSTRUCT_ONLY))
        continue;

      g_value_init (&value, pspec->value_type);
      g_object_get_property (G_OBJECT (self), pspec->name, &value);
      if (g_type_is_a (pspec->value_type, MP_TYPE_SHAREABLE) ||
          (G_TYPE_IS_OBJECT (pspec->value_type) && MP_IS_SHAREABLE (g_value_get_object (&value))))
        {
          GObject *held = g_value_get_object (&value);
          if (held != NULL)
            g_variant_builder_add (refs, "{sv}", pspec->name,
                                   mp_shareable_to_variant (MP_SHAREABLE (held)));
          continue;
        }
      member = value_to_json (&value);
      if (member != NULL)
        json_object_set_member (object, pspec->name, member);
      else
        g_warning ("The property “%s” of %s (type %s) cannot travel to a child",
                   pspec->name, G_OBJECT_TYPE_NAME (self), g_type_name (pspec->value_type));
    }

  node = json_node_init_object (json_node_alloc (), object);
  return json_to_string (node, FALSE);
}

static MpMessage *
build_run_message (MpProcess *self)
{
  MpProcessPrivate *priv = PRIV (self);
  g_auto(GVariantBuilder) refs = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autofree char *props = serialize_subclass_properties (self, &refs);

  return mp_message_new (MP_WIRE_KIND_RUN,
                         g_variant_new (RUN_TYPE,
                                        priv->name,
                                        G_OBJECT_TYPE_NAME (self),
                                        props,
                                        priv->task_name ? priv->task_name : "",
                                        /* "v" takes its own reference */
                                        priv->args ? priv->args : g_variant_new ("()"),
                                        priv->daemon,
                                        &refs));
}

static gboolean
apply_subclass_references (MpProcess  *self,
                           GVariant   *refs,
                           GError    **error)
{
  GVariantIter iter;
  const char *name;
  GVariant *reference;

  g_variant_iter_init (&iter, refs);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &reference))
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (self), name);
      g_autoptr(GObject) object = NULL;

      if (pspec == NULL || (pspec->flags & G_PARAM_WRITABLE) == 0)
        continue;
      if (!G_TYPE_IS_OBJECT (pspec->value_type))
        continue;
      object = G_OBJECT (mp_shareable_new_from_variant (reference, error));
      if (object != NULL && !g_type_is_a (G_OBJECT_TYPE (object), pspec->value_type))
        {
          g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                       _("The property “%s” of %s got a %s"),
                       name, G_OBJECT_TYPE_NAME (self), G_OBJECT_TYPE_NAME (object));
          g_clear_object (&object);
        }
      if (object == NULL)
        {
          g_variant_unref (reference);
          return FALSE;
        }
      g_object_set (self, name, object, NULL);
    }
  return TRUE;
}

static gboolean
apply_subclass_properties (MpProcess   *self,
                           const char  *json,
                           GError     **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL,
                           _("The process properties are not a JSON object"));
      return FALSE;
    }
  object = json_node_get_object (node);
  members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *member = json_object_get_member (object, name);
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (self), name);
      g_auto(GValue) value = G_VALUE_INIT;

      if (pspec == NULL || pspec->owner_type == MP_TYPE_PROCESS ||
          (pspec->flags & G_PARAM_WRITABLE) == 0 || (pspec->flags & G_PARAM_CONSTRUCT_ONLY))
        continue;

      g_value_init (&value, pspec->value_type);
      if (!value_from_json (&value, member, error))
        {
          g_prefix_error (error, _("Property “%s” of %s: "), name, G_OBJECT_TYPE_NAME (self));
          return FALSE;
        }
      g_object_set_property (G_OBJECT (self), name, &value);
    }
  return TRUE;
}

MpProcess *
mp_process_new_from_run_message (MpMessage  *message,
                                 int        *parent_pid,
                                 GError    **error)
{
  const char *name, *type_name, *props, *task;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) refs = NULL;
  g_autoptr(MpProcess) self = NULL;
  gboolean daemon;
  GType type;

  if (!g_variant_is_of_type (message->body, G_VARIANT_TYPE (RUN_TYPE)))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL,
                   _("Malformed run message of type “%s”"),
                   g_variant_get_type_string (message->body));
      return NULL;
    }
  g_variant_get (message->body, "(&s&s&s&svb@a{sv})",
                 &name, &type_name, &props, &task, &args, &daemon, &refs);

  g_type_ensure (MP_TYPE_PROCESS);
  type = g_type_from_name (type_name);
  if (type == 0 || !g_type_is_a (type, MP_TYPE_PROCESS) || G_TYPE_IS_ABSTRACT (type))
    {
      g_set_error (error, MP_ERROR, MP_ERROR_START_METHOD,
                   _("The process type “%s” is not known in the child; define it before mp_init()"),
                   type_name);
      return NULL;
    }

  self = g_object_new (type,
                       "task-name", *task ? task : NULL,
                       "args", args,
                       "name", name,
                       "daemon", daemon,
                       NULL);
  if (!apply_subclass_properties (self, props, error) ||
      !apply_subclass_references (self, refs, error))
    return NULL;

  PRIV (self)->pid = getpid ();
  PRIV (self)->state = MP_PROCESS_STATE_STARTED;
  return g_steal_pointer (&self);
}

void
mp_process_set_parent_channel (MpProcess *self,
                               MpChannel *channel)
{
  g_set_object (&PRIV (self)->channel, channel);
}

int
mp_process_run_in_child (MpProcess *self)
{
  g_autoptr(GError) error = NULL;

  MP_PROCESS_GET_CLASS (self)->run (self, NULL, &error);
  if (error != NULL)
    {
      MpChannel *parent = PRIV (self)->channel;

      /* The parent gets the error itself (mp_process_check_error()); the
       * message also goes to stderr, as Python prints the traceback. */
      if (parent != NULL)
        {
          g_autoptr(MpMessage) report =
            mp_message_new (MP_WIRE_KIND_ERROR,
                            g_variant_new ("(sis)", g_quark_to_string (error->domain),
                                           error->code, error->message));
          mp_channel_send (parent, report, NULL, NULL);
        }
      g_printerr (_("Process %s (pid %d) failed: %s\n"),
                  PRIV (self)->name, (int) getpid (), error->message);
      return 1;
    }
  return 0;
}

/* ---- the parent's side ------------------------------------------------- */

static gboolean
check_not_closed (MpProcess  *self,
                  GError    **error)
{
  if (PRIV (self)->state == MP_PROCESS_STATE_CLOSED)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("The process object is closed"));
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  MpProcess *self;
  int        exitcode;
} ExitedEmission;

static gboolean
emit_exited_cb (gpointer data)
{
  ExitedEmission *emission = data;
  MpProcess *self = emission->self;
  MpProcessPrivate *priv = PRIV (self);
  g_autoptr(GPtrArray) joins = NULL;

  g_mutex_lock (&priv->lock);
  joins = g_steal_pointer (&priv->joins);
  priv->joins = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_unlock (&priv->lock);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXITCODE]);
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, emission->exitcode);

  for (guint i = 0; i < joins->len; i++)
    {
      GTask *task = g_ptr_array_index (joins, i);
      /* Drops the cancel source, and with it its reference to the task. */
      g_task_set_task_data (task, NULL, NULL);
      g_task_return_boolean (task, TRUE);
    }

  return G_SOURCE_REMOVE;
}

static void
exited_emission_free (gpointer data)
{
  ExitedEmission *emission = data;

  /* The runtime's reference kept the object alive while it ran. */
  mp_runtime_remove_child (emission->self);
  g_object_unref (emission->self);
  g_free (emission);
}

/* Called with priv->lock held, once the exit code is known. With @defer
 * the signal waits for the main loop even when we are in the creator's
 * context: the exit was noticed as a side effect of a call on another
 * object (reaping in mp_process_start()), whose caller must not be
 * re-entered by an "exited" handler. */
static void
set_exited_locked (MpProcess *self,
                   int        exitcode,
                   gboolean   defer)
{
  MpProcessPrivate *priv = PRIV (self);
  ExitedEmission *emission;
  g_autoptr(GMainContext) current = g_main_context_ref_thread_default ();

  priv->state = MP_PROCESS_STATE_EXITED;
  priv->exitcode = exitcode;
  if (priv->watch != NULL)
    {
      g_source_destroy (priv->watch);
      g_clear_pointer (&priv->watch, g_source_unref);
    }
  if (priv->pidfd >= 0)
    {
      close (priv->pidfd);
      priv->pidfd = -1;
    }
  g_clear_object (&priv->channel);
  g_clear_object (&priv->status);

  if (mp_debug_enabled (MP_DEBUG_PROCESS))
    g_printerr ("mp-process: %s (pid %d) exited with %d\n", priv->name, priv->pid, exitcode);

  emission = g_new0 (ExitedEmission, 1);
  emission->self = g_object_ref (self);
  emission->exitcode = exitcode;

  /* Emit in the creator's context: here if that is where we are,
   * otherwise from its main loop. */
  /* Deferring only matters to an "exited" handler or a pending join; with
   * neither, finish now, so that a program without a main loop does not
   * keep ended processes around. */
  if (defer && priv->joins->len == 0 &&
      !g_signal_has_handler_pending (self, signals[SIGNAL_EXITED], 0, TRUE))
    defer = FALSE;

  if (!defer && (current == priv->context || g_main_context_is_owner (priv->context)))
    {
      g_mutex_unlock (&priv->lock);
      emit_exited_cb (emission);
      exited_emission_free (emission);
      g_mutex_lock (&priv->lock);
    }
  else
    {
      GSource *idle = g_idle_source_new ();
      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, emit_exited_cb, emission, exited_emission_free);
      g_source_set_static_name (idle, "[mp] process exited");
      g_source_attach (idle, priv->context);
      g_source_unref (idle);
    }
}

/* Collects the exit code of a child known (or about to be known) to have
 * ended. Called with priv->lock held, state STARTED. */
static int
collect_exitcode_locked (MpProcess *self)
{
  MpProcessPrivate *priv = PRIV (self);
  int exitcode = -SIGKILL;

  switch (priv->used_method)
    {
    case MP_START_METHOD_FORK:
    case MP_START_METHOD_SPAWN:
      if (!mp_pidfd_wait (priv->pidfd, TRUE, &exitcode))
        g_warning ("Could not collect the exit status of process %d: %s",
                   priv->pid, g_strerror (errno));
      break;

    case MP_START_METHOD_FORKSERVER:
      {
        g_autoptr(GError) error = NULL;

        /* Without its server the worker died of PR_SET_PDEATHSIG. */
        if (!mp_forkserver_read_exit (priv->status, &exitcode, &error))
          exitcode = -SIGKILL;
      }
      break;

    case MP_START_METHOD_DEFAULT:
    default:
      g_assert_not_reached ();
    }

  /* A failed child sent its error before exiting: it is already queued. */
  if (exitcode != 0 && priv->channel != NULL)
    {
      g_autoptr(MpMessage) report = mp_channel_receive (priv->channel, 0, NULL, NULL);

      if (report != NULL && report->kind == MP_WIRE_KIND_ERROR &&
          g_variant_is_of_type (report->body, G_VARIANT_TYPE ("(sis)")))
        {
          const char *domain, *message;
          int code;

          g_variant_get (report->body, "(&si&s)", &domain, &code, &message);
          g_clear_error (&priv->child_error);
          priv->child_error = g_error_new_literal (g_quark_from_string (domain), code, message);
        }
    }
  return exitcode;
}

static int
exit_fd_locked (MpProcessPrivate *priv)
{
  if (priv->used_method == MP_START_METHOD_FORKSERVER)
    return mp_channel_get_fd (priv->status);
  return priv->pidfd;
}

/* Polls without blocking; finishes the process if it has ended. */
static void
check_exited_locked (MpProcess *self,
                     gboolean   known_ready,
                     gboolean   defer)
{
  MpProcessPrivate *priv = PRIV (self);

  if (priv->state != MP_PROCESS_STATE_STARTED || priv->is_main)
    return;
  if (!known_ready)
    {
      GPollFD pfd = { exit_fd_locked (priv), G_IO_IN, 0 };
      if (g_poll (&pfd, 1, 0) <= 0)
        return;
    }
  set_exited_locked (self, collect_exitcode_locked (self), defer);
}

static gboolean
watch_cb (int          fd,
          GIOCondition condition,
          gpointer     user_data)
{
  MpProcess *self = user_data;
  MpProcessPrivate *priv = PRIV (self);

  g_object_ref (self);
  g_mutex_lock (&priv->lock);
  check_exited_locked (self, TRUE, FALSE);
  g_mutex_unlock (&priv->lock);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static gboolean
start_fork (MpProcess  *self,
            GError    **error)
{
  MpProcessPrivate *priv = PRIV (self);
  pid_t parent = getpid ();
  gboolean from_main_thread = mp_runtime_on_main_thread ();
  pid_t pid;
  int fds[2];

  /* A channel even here, so that a failure can be reported back. */
  if (!mp_socket_pair (fds, error))
    return FALSE;

  pid = mp_fork (error);
  if (pid < 0)
    {
      close (fds[0]);
      close (fds[1]);
      g_prefix_error (error, _("Could not fork: "));
      return FALSE;
    }
  if (pid == 0)
    {
      int code;

      /* The parent forked with this object's lock held: a fresh one. */
      g_mutex_init (&priv->lock);
      /* Forked by a thread other than the main one, which may end
       * before the child: the kernel's parent-death signal would follow
       * that thread, so the channel's hang-up tells instead. (Unlike a
       * spawn, the fork cannot move to the launcher thread: the child
       * goes on with this thread's state.) */
      if (from_main_thread)
        mp_child_setup_parent_death (parent);
      else
        mp_child_start_lifeline (fds[1]);
      close (fds[0]);
      priv->channel = mp_channel_new (fds[1]);
      priv->pid = getpid ();
      priv->state = MP_PROCESS_STATE_STARTED;
      mp_runtime_enter_child (parent, self);
      code = mp_process_run_in_child (self);
      mp_runtime_flush ();
      _exit (code);
    }

  close (fds[1]);
  priv->channel = mp_channel_new (fds[0]);
  priv->pid = pid;
  priv->pidfd = mp_pidfd_open (pid);
  return TRUE;
}

static gboolean
send_run_message (MpProcess  *self,
                  int         channel_fd,
                  GError    **error)
{
  MpProcessPrivate *priv = PRIV (self);
  g_autoptr(MpMessage) run = build_run_message (self);

  priv->channel = mp_channel_new (channel_fd);
  return mp_channel_send (priv->channel, run, NULL, error);
}

static gboolean
start_spawn (MpProcess  *self,
             GError    **error)
{
  MpProcessPrivate *priv = PRIV (self);
  int fds[2];
  GPid pid;

  if (!mp_socket_pair (fds, error))
    return FALSE;
  pid = mp_runtime_spawn_self (MP_WORKER_ENV, fds[1], error);
  close (fds[1]);
  if (pid <= 0)
    {
      close (fds[0]);
      return FALSE;
    }
  priv->pid = pid;
  priv->pidfd = mp_pidfd_open (pid);
  return send_run_message (self, fds[0], error);
}

static gboolean
start_forkserver (MpProcess  *self,
                  GError    **error)
{
  MpProcessPrivate *priv = PRIV (self);
  int fds[2];
  pid_t pid;

  if (!mp_socket_pair (fds, error))
    return FALSE;
  pid = mp_forkserver_fork_worker (fds[1], &priv->status, error);
  close (fds[1]);
  if (pid < 0)
    {
      close (fds[0]);
      return FALSE;
    }
  priv->pid = pid;
  priv->pidfd = mp_pidfd_open (pid);
  return send_run_message (self, fds[0], error);
}

static gboolean
check_startable (MpProcess      *self,
                 MpStartMethod   method,
                 GError        **error)
{
  MpProcessPrivate *priv = PRIV (self);
  MpProcess *current = mp_current_process ();

  if (!check_not_closed (self, error))
    return FALSE;
  if (priv->state != MP_PROCESS_STATE_INITIAL || priv->is_main)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("A process can only be started once"));
      return FALSE;
    }
  if (mp_runtime_is_child () && mp_process_get_daemon (current))
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("A daemonic process is not allowed to have children"));
      return FALSE;
    }
  if (!mp_start_method_is_available (method, error))
    return FALSE;
  if (priv->func != NULL && method != MP_START_METHOD_FORK)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_START_METHOD,
                           _("A function target can only be started with the fork start method; register a task instead"));
      return FALSE;
    }
  if (priv->task_name != NULL && MP_PROCESS_GET_CLASS (self)->run == mp_process_real_run)
    {
      if (!mp_task_is_registered (priv->task_name))
        {
          g_set_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK,
                       _("No task is registered under the name “%s”"), priv->task_name);
          return FALSE;
        }
      if (method != MP_START_METHOD_FORK && mp_task_registered_after_init (priv->task_name))
        {
          g_set_error (error, MP_ERROR, MP_ERROR_UNKNOWN_TASK,
                       _("The task “%s” was registered after mp_init(), so a spawn or forkserver child does not know it; register it before mp_init()"),
                       priv->task_name);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * mp_process_start:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * Starts the child, as Python's `start()`. It fails, starting nothing,
 * when the process was started before or closed, when its task is not
 * registered (or was registered after mp_init() and the start method is
 * spawn or forkserver), or when the start method cannot be used.
 *
 * Returns: %TRUE once the child runs (#MpProcess:pid is set)
 */
gboolean
mp_process_start (MpProcess  *self,
                  GError    **error)
{
  MpProcessPrivate *priv;
  MpStartMethod method;
  gboolean ok = FALSE;

  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);

  priv = PRIV (self);
  mp_runtime_reap_children ();

  method = priv->start_method;
  if (method == MP_START_METHOD_DEFAULT && priv->func != NULL)
    method = MP_START_METHOD_FORK;
  method = mp_runtime_resolve_method (method);

  g_mutex_lock (&priv->lock);
  if (!check_startable (self, method, error))
    goto out;

  /* As Python does: what the parent printed comes before the child's
   * output, and a forked child does not print it again. */
  mp_flush_stdio ();

  priv->used_method = method;
  switch (method)
    {
    case MP_START_METHOD_FORK:
      ok = start_fork (self, error);
      break;
    case MP_START_METHOD_SPAWN:
      ok = start_spawn (self, error);
      break;
    case MP_START_METHOD_FORKSERVER:
      ok = start_forkserver (self, error);
      break;
    case MP_START_METHOD_DEFAULT:
    default:
      g_assert_not_reached ();
    }

  if (priv->pid > 0)
    {
      /* Even when sending the run message failed, a child exists: track
       * it so that it is reaped. */
      priv->state = MP_PROCESS_STATE_STARTED;
      mp_runtime_add_child (self);
      priv->watch = g_unix_fd_source_new (exit_fd_locked (priv), G_IO_IN | G_IO_HUP | G_IO_ERR);
      g_source_set_callback (priv->watch, G_SOURCE_FUNC (watch_cb), self, NULL);
      g_source_set_static_name (priv->watch, "[mp] process exit");
      g_source_attach (priv->watch, priv->context);
      if (!ok)
        /* The lock is held: signal through the pidfd directly. */
        syscall (SYS_pidfd_send_signal, priv->pidfd, SIGKILL, NULL, 0);
    }

out:
  g_mutex_unlock (&priv->lock);

  if (priv->pid > 0)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PID]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  return ok;
}

/**
 * mp_process_join:
 * @self: an #MpProcess
 * @timeout: seconds to wait; negative waits for as long as it takes
 * @error: return location for a #GError
 *
 * Waits for the child to end, as Python's `join(timeout)`. It needs no
 * running main loop.
 *
 * Returns: %TRUE when the child has ended; %FALSE when @timeout ran out
 *   first (no error), or with @error set when @self was never started or
 *   is closed
 */
gboolean
mp_process_join (MpProcess  *self,
                 double      timeout,
                 GError    **error)
{
  MpProcessPrivate *priv;
  gint64 deadline = mp_deadline_from_timeout (timeout);

  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  priv = PRIV (self);

  g_object_ref (self);
  g_mutex_lock (&priv->lock);
  if (!check_not_closed (self, error))
    goto fail;
  if (priv->is_main)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("A process cannot join itself"));
      goto fail;
    }
  if (priv->state == MP_PROCESS_STATE_INITIAL)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("Only a started process can be joined"));
      goto fail;
    }

  while (priv->state == MP_PROCESS_STATE_STARTED)
    {
      /* Wait unlocked on a copy: another thread may collect the exit
       * meanwhile and close the original. */
      int fd = fcntl (exit_fd_locked (priv), F_DUPFD_CLOEXEC, 3);
      g_autoptr(GError) wait_error = NULL;
      gboolean ready;

      g_mutex_unlock (&priv->lock);
      ready = mp_wait_fd (fd, G_IO_IN, deadline, NULL, &wait_error);
      close (fd);
      g_mutex_lock (&priv->lock);
      if (!ready)
        break;
      check_exited_locked (self, FALSE, FALSE);
    }

  {
    gboolean ended = priv->state == MP_PROCESS_STATE_EXITED;
    g_mutex_unlock (&priv->lock);
    g_object_unref (self);
    return ended;
  }

fail:
  g_mutex_unlock (&priv->lock);
  g_object_unref (self);
  return FALSE;
}

static void
destroy_source (gpointer source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

static void
join_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  GTask *task = user_data;
  MpProcess *self = g_task_get_source_object (task);
  MpProcessPrivate *priv = PRIV (self);
  gboolean removed;

  g_mutex_lock (&priv->lock);
  removed = g_ptr_array_remove (priv->joins, g_object_ref (task));
  g_mutex_unlock (&priv->lock);
  g_object_unref (task);   /* the reference taken for the comparison */
  if (removed)
    {
      /* g_ptr_array_remove dropped the list's reference; the source's
       * reference keeps the task alive while it returns. */
      g_task_return_error_if_cancelled (task);
    }
}

static gboolean
join_cancelled_source_cb (GCancellable *cancellable,
                          gpointer      user_data)
{
  join_cancelled_cb (cancellable, user_data);
  return G_SOURCE_REMOVE;
}

/**
 * mp_process_join_async:
 * @self: an #MpProcess
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the child has ended
 * @user_data: (closure): data for @callback
 *
 * Waits for the child to end without blocking. The exit is noticed by
 * the main loop of the context that made @self.
 */
void
mp_process_join_async (MpProcess           *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  MpProcessPrivate *priv;
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (MP_IS_PROCESS (self));
  priv = PRIV (self);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mp_process_join_async);

  g_mutex_lock (&priv->lock);
  if (!check_not_closed (self, &error))
    ;
  else if (priv->state == MP_PROCESS_STATE_INITIAL || priv->is_main)
    g_set_error_literal (&error, MP_ERROR, MP_ERROR_INVALID_STATE,
                         _("Only a started process can be joined"));
  else if (priv->state == MP_PROCESS_STATE_STARTED)
    {
      g_ptr_array_add (priv->joins, g_object_ref (task));
      if (cancellable != NULL)
        {
          g_autoptr(GSource) source = g_cancellable_source_new (cancellable);
          g_source_set_callback (source, G_SOURCE_FUNC (join_cancelled_source_cb),
                                 g_object_ref (task), g_object_unref);
          g_source_attach (source, g_task_get_context (task));
          /* Tie the source's life to the task's. */
          g_task_set_task_data (task, g_source_ref (source), destroy_source);
        }
      g_mutex_unlock (&priv->lock);
      return;
    }
  g_mutex_unlock (&priv->lock);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mp_process_join_finish:
 * @self: an #MpProcess
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: %TRUE once the child has ended; %FALSE with @error set when
 *   cancelled or when @self was never started
 */
gboolean
mp_process_join_finish (MpProcess     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mp_process_is_alive:
 * @self: an #MpProcess
 *
 * Returns: whether the child was started and has not ended
 */
gboolean
mp_process_is_alive (MpProcess *self)
{
  MpProcessPrivate *priv;
  gboolean alive;

  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  priv = PRIV (self);

  g_object_ref (self);
  g_mutex_lock (&priv->lock);
  if (priv->is_main)
    alive = TRUE;
  else
    {
      check_exited_locked (self, FALSE, FALSE);
      alive = priv->state == MP_PROCESS_STATE_STARTED;
    }
  g_mutex_unlock (&priv->lock);
  g_object_unref (self);
  return alive;
}

/* Collects @self if it has ended, deferring "exited" to the main loop. */
void
mp_process_reap (MpProcess *self)
{
  MpProcessPrivate *priv = PRIV (self);

  g_object_ref (self);
  g_mutex_lock (&priv->lock);
  check_exited_locked (self, FALSE, TRUE);
  g_mutex_unlock (&priv->lock);
  g_object_unref (self);
}

static gboolean
send_signal (MpProcess  *self,
             int         signum,
             GError    **error)
{
  MpProcessPrivate *priv = PRIV (self);
  gboolean ok = TRUE;

  g_mutex_lock (&priv->lock);
  if (!check_not_closed (self, error))
    ok = FALSE;
  else if (priv->state == MP_PROCESS_STATE_INITIAL || priv->is_main)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("The process was never started"));
      ok = FALSE;
    }
  else if (priv->state == MP_PROCESS_STATE_STARTED && priv->pidfd >= 0)
    {
      /* Through the pidfd, so a recycled pid is never hit. */
      if (syscall (SYS_pidfd_send_signal, priv->pidfd, signum, NULL, 0) != 0 && errno != ESRCH)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Could not signal process %d: %s"), priv->pid, g_strerror (errsv));
          ok = FALSE;
        }
    }
  g_mutex_unlock (&priv->lock);
  return ok;
}

/**
 * mp_process_terminate:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * Sends SIGTERM, as Python's `terminate()`. Nothing happens if the child
 * has already ended.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_process_terminate (MpProcess  *self,
                      GError    **error)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  return send_signal (self, SIGTERM, error);
}

/**
 * mp_process_kill:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * Sends SIGKILL, as Python's `kill()`.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_process_kill (MpProcess  *self,
                 GError    **error)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  return send_signal (self, SIGKILL, error);
}

/**
 * mp_process_interrupt:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * Sends SIGINT, as Python's `interrupt()`.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_process_interrupt (MpProcess  *self,
                      GError    **error)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  return send_signal (self, SIGINT, error);
}

/**
 * mp_process_close:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * Releases what the process object holds, as Python's `close()`. It is
 * an error while the child runs; afterwards most calls on @self fail
 * with %MP_ERROR_INVALID_STATE.
 *
 * Returns: %TRUE on success
 */
gboolean
mp_process_close (MpProcess  *self,
                  GError    **error)
{
  MpProcessPrivate *priv;
  gboolean ok = TRUE;

  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  priv = PRIV (self);

  g_object_ref (self);
  g_mutex_lock (&priv->lock);
  check_exited_locked (self, FALSE, FALSE);
  if (priv->state == MP_PROCESS_STATE_STARTED)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_INVALID_STATE,
                           _("Cannot close a process while it is still running; join or terminate it first"));
      ok = FALSE;
    }
  else if (priv->state != MP_PROCESS_STATE_CLOSED)
    {
      priv->state = MP_PROCESS_STATE_CLOSED;
        }
  g_mutex_unlock (&priv->lock);
  if (ok)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_unref (self);
  return ok;
}

/**
 * mp_process_check_error:
 * @self: an #MpProcess
 * @error: return location for a #GError
 *
 * After the child has ended: whether its target failed, and with what.
 * The child's #GError comes back with its domain, code and message (a
 * Python exception's traceback text, a JavaScript error's message), which
 * Python's multiprocessing only prints in the child.
 *
 * Returns: %FALSE with @error set to the child's error when the target
 *   failed; %TRUE otherwise (also while running, or when the child was
 *   killed by a signal or ended through mp_exit())
 */
gboolean
mp_process_check_error (MpProcess  *self,
                        GError    **error)
{
  MpProcessPrivate *priv;

  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  priv = PRIV (self);

  if (priv->child_error != NULL)
    {
      g_propagate_error (error, g_error_copy (priv->child_error));
      return FALSE;
    }
  return TRUE;
}

/* ---- properties -------------------------------------------------------- */

/**
 * mp_process_get_name:
 * @self: an #MpProcess
 *
 * Returns: the process's name
 */
const char *
mp_process_get_name (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), NULL);
  return PRIV (self)->name;
}

/**
 * mp_process_set_name:
 * @self: an #MpProcess
 * @name: (nullable): a name
 *
 * Sets the name; %NULL keeps the current one.
 */
void
mp_process_set_name (MpProcess  *self,
                     const char *name)
{
  MpProcessPrivate *priv;

  g_return_if_fail (MP_IS_PROCESS (self));
  priv = PRIV (self);
  if (name == NULL || g_strcmp0 (name, priv->name) == 0)
    return;
  g_free (priv->name);
  priv->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * mp_process_get_daemon:
 * @self: an #MpProcess
 *
 * Returns: whether the process is daemonic
 */
gboolean
mp_process_get_daemon (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), FALSE);
  return PRIV (self)->daemon;
}

/**
 * mp_process_set_daemon:
 * @self: an #MpProcess
 * @daemon: whether the process is daemonic
 *
 * Sets #MpProcess:daemon. Only before mp_process_start().
 */
void
mp_process_set_daemon (MpProcess *self,
                       gboolean   daemon)
{
  MpProcessPrivate *priv;

  g_return_if_fail (MP_IS_PROCESS (self));
  priv = PRIV (self);
  g_return_if_fail (priv->state == MP_PROCESS_STATE_INITIAL || mp_runtime_is_child ());

  daemon = !!daemon;
  if (priv->daemon == daemon)
    return;
  priv->daemon = daemon;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DAEMON]);
}

/**
 * mp_process_get_start_method:
 * @self: an #MpProcess
 *
 * Returns: the start method asked for (%MP_START_METHOD_DEFAULT unless set)
 */
MpStartMethod
mp_process_get_start_method (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), MP_START_METHOD_DEFAULT);
  return PRIV (self)->start_method;
}

/**
 * mp_process_set_start_method:
 * @self: an #MpProcess
 * @method: how to start the child
 *
 * Chooses the start method for this process. Only before mp_process_start().
 */
void
mp_process_set_start_method (MpProcess     *self,
                             MpStartMethod  method)
{
  MpProcessPrivate *priv;

  g_return_if_fail (MP_IS_PROCESS (self));
  priv = PRIV (self);
  g_return_if_fail (priv->state == MP_PROCESS_STATE_INITIAL);

  if (priv->start_method == method)
    return;
  priv->start_method = method;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_START_METHOD]);
}

/**
 * mp_process_get_task_name:
 * @self: an #MpProcess
 *
 * Returns: (nullable): the task the process runs
 */
const char *
mp_process_get_task_name (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), NULL);
  return PRIV (self)->task_name;
}

/**
 * mp_process_get_args:
 * @self: an #MpProcess
 *
 * Returns: (transfer none) (nullable): the task's arguments
 */
GVariant *
mp_process_get_args (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), NULL);
  return PRIV (self)->args;
}

/**
 * mp_process_get_pid:
 * @self: an #MpProcess
 *
 * Returns: the child's pid, or 0 before it was started
 */
int
mp_process_get_pid (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), 0);
  return PRIV (self)->pid;
}

/**
 * mp_process_get_state:
 * @self: an #MpProcess
 *
 * Returns: where the process is in its life
 */
MpProcessState
mp_process_get_state (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), MP_PROCESS_STATE_INITIAL);
  return PRIV (self)->state;
}

/**
 * mp_process_get_exitcode:
 * @self: an #MpProcess
 *
 * Returns: the exit code (see #MpProcess:exitcode); 0 until the child has
 *   ended
 */
int
mp_process_get_exitcode (MpProcess *self)
{
  g_return_val_if_fail (MP_IS_PROCESS (self), 0);
  return PRIV (self)->exitcode;
}
