/* mp-pool-worker.c: a pool worker's side: take a job, run it, answer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-pool-private.h"
#include "mp-task.h"
#include "mp-task-private.h"
#include "mp-wire-private.h"

GVariant *
mp_pool_error_to_variant (const GError *error)
{
  return g_variant_new ("(sis)", g_quark_to_string (error->domain), error->code, error->message);
}

GError *
mp_pool_error_from_variant (GVariant *value)
{
  const char *domain, *message;
  int code;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    return g_error_new_literal (MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker sent a malformed error"));
  g_variant_get (value, "(&si&s)", &domain, &code, &message);
  return g_error_new_literal (g_quark_from_string (domain), code, message);
}

static GVariant *
call (const char  *task,
      GVariant    *args,
      GError     **error)
{
  return mp_run_task (task, args, NULL, error);
}

gboolean
mp_pool_type_is_fixed_basic (const GVariantType *type)
{
  return g_variant_type_is_basic (type) &&
         !g_variant_type_equal (type, G_VARIANT_TYPE_STRING) &&
         !g_variant_type_equal (type, G_VARIANT_TYPE_OBJECT_PATH) &&
         !g_variant_type_equal (type, G_VARIANT_TYPE_SIGNATURE);
}

/* Every element of @chunk through @task; the results as one array (a
 * full reference), typed when they all have one type. The task is looked
 * up once, and results of a fixed-size type go straight into the
 * array's bytes. The first failure fails the chunk, as the first
 * exception fails Python's map(). */
static GVariant *
run_chunk (const char  *task,
           GVariant    *chunk,
           GError     **error)
{
  gsize n = g_variant_n_children (chunk);
  g_autoptr(MpTaskEntry) entry = mp_task_lookup (task, error);
  g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) g_variant_unref);
  g_autoptr(GByteArray) fixed = NULL;   /* while every result so far is fixed-size */
  GVariantType *type = NULL;
  gsize fixed_size = 0;
  gboolean same = TRUE;
  GVariant *array;

  if (entry == NULL)
    return NULL;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = g_variant_get_child_value (chunk, i);
      g_autoptr(GVariant) result = mp_task_entry_run (entry, item, NULL, error);

      if (result == NULL)
        {
          g_clear_pointer (&type, g_variant_type_free);
          return NULL;
        }
      if (type == NULL)
        {
          type = g_variant_type_copy (g_variant_get_type (result));
          if (mp_pool_type_is_fixed_basic (type))
            {
              fixed = g_byte_array_sized_new (n * g_variant_get_size (result));
              fixed_size = g_variant_get_size (result);
            }
        }
      else if (same && !g_variant_type_equal (type, g_variant_get_type (result)))
        {
          same = FALSE;
          if (fixed != NULL)
            {
              /* Back to one value per result. */
              for (gsize k = 0; k < fixed->len / fixed_size; k++)
                {
                  g_autoptr(GBytes) one = g_bytes_new (fixed->data + k * fixed_size, fixed_size);

                  g_ptr_array_add (results, g_variant_ref_sink (g_variant_new_from_bytes (type, one, TRUE)));
                }
              g_clear_pointer (&fixed, g_byte_array_unref);
            }
        }
      if (fixed != NULL)
        g_byte_array_append (fixed, g_variant_get_data (result), fixed_size);
      else
        g_ptr_array_add (results, g_steal_pointer (&result));
    }

  if (n > 0 && same && fixed != NULL)
    {
      g_autoptr(GVariantType) array_type = g_variant_type_new_array (type);
      GBytes *bytes = g_byte_array_free_to_bytes (g_steal_pointer (&fixed));

      array = g_variant_new_from_bytes (array_type, bytes, TRUE);
      g_bytes_unref (bytes);
    }
  else if (n > 0 && same)
    array = g_variant_new_array (type, (GVariant **) results->pdata, n);
  else
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (gsize i = 0; i < results->len; i++)
        g_variant_builder_add (&builder, "v", results->pdata[i]);
      array = g_variant_builder_end (&builder);
    }
  g_clear_pointer (&type, g_variant_type_free);
  return g_variant_take_ref (array);
}

static GVariant *
run_job (GVariant  *job,
         guint64   *id,
         GError   **error)
{
  guint8 kind;
  const char *task;
  g_autoptr(GVariant) payload = NULL;

  g_variant_get (job, "(ty&sv)", id, &kind, &task, &payload);
  if (kind == MP_POOL_JOB_APPLY)
    return call (task, payload, error);
  if (kind == MP_POOL_JOB_CHUNK && g_variant_is_container (payload) &&
      g_variant_type_is_array (g_variant_get_type (payload)))
    return run_chunk (task, payload, error);
  g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a job of unknown kind %u"), kind);
  return NULL;
}

GVariant *
mp_pool_worker_run (GVariant      *args,
                    GCancellable  *cancellable,
                    gpointer       user_data,
                    GError       **error)
{
  g_autoptr(MpChannel) channel = NULL;
  g_autoptr(GVariant) initargs = NULL;
  const char *initializer;
  gint32 handle;
  guint32 max_jobs;
  int fd;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (MP_POOL_WORKER_ARGS)))
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got malformed arguments"));
      return NULL;
    }
  g_variant_get (args, "(h&svu)", &handle, &initializer, &initargs, &max_jobs);
  fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got no channel"));
      return NULL;
    }
  channel = mp_channel_new (fd);

  if (*initializer != '\0')
    {
      g_autoptr(GVariant) ignored = call (initializer, initargs, error);

      if (ignored == NULL)
        return NULL;
    }

  /* Started and initialized: the pool starts its jobs' clocks now, not
   * while a spawned worker was still loading. */
  {
    g_autoptr(MpMessage) ready = mp_message_new (MP_WIRE_KIND_VALUE,
                                                 g_variant_new ("(tbv)", (guint64) 0, TRUE,
                                                                g_variant_new ("()")));
    if (!mp_channel_send (channel, ready, NULL, error))
      return NULL;
  }

  for (guint32 n = 0; max_jobs == 0 || n < max_jobs; n++)
    {
      g_autoptr(GError) receive_error = NULL;
      g_autoptr(GError) job_error = NULL;
      g_autoptr(MpMessage) message = mp_channel_receive (channel, -1, NULL, &receive_error);
      g_autoptr(MpMessage) reply = NULL;
      g_autoptr(GVariant) value = NULL;
      guint64 id = 0;

      /* The pool closed its end: nothing more to do. */
      if (message == NULL)
        break;
      if (!g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_JOB_TYPE)))
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a malformed job"));
          return NULL;
        }
      {
        guint8 kind;

        g_variant_get_child (message->body, 1, "y", &kind);
        if (kind == MP_POOL_JOB_STOP)
          break;
      }
      value = run_job (message->body, &id, &job_error);
      if (value != NULL)
        reply = mp_message_new (MP_WIRE_KIND_VALUE,
                                g_variant_new ("(tbv)", id, TRUE, value));
      else
        reply = mp_message_new (MP_WIRE_KIND_VALUE,
                                g_variant_new ("(tbv)", id, FALSE, mp_pool_error_to_variant (job_error)));
      if (!mp_channel_send (channel, reply, NULL, error))
        return NULL;
    }
  return g_variant_new ("()");
}
