/* mp-pool-worker.c: a pool worker's side: take jobs, run them, answer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-handle-private.h"
#include "mp-element-private.h"
#include "mp-pool-arena-private.h"
#include "mp-pool-line-private.h"
#include "mp-pool-private.h"
#include "mp-runtime-private.h"
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

/* ---- records ---------------------------------------------------------------- */

/* Whether @value holds a handle: its type says it may ("h", or "v"
 * anywhere); then its values are looked at. */
static gboolean
holds_handles (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  GVariantIter iter;
  GVariant *child;

  if (!mp_handles_possible (type))
    return FALSE;
  if (g_variant_type_equal (type, G_VARIANT_TYPE_HANDLE))
    return TRUE;
  if (!g_variant_is_container (value))
    return FALSE;
  g_variant_iter_init (&iter, value);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      gboolean found = holds_handles (child);

      g_variant_unref (child);
      if (found)
        return TRUE;
    }
  return FALSE;
}

gboolean
mp_pool_value_travels_alone (GVariant *value)
{
  /* Large first: no walk through a large value. */
  return g_variant_get_size (value) >= MP_POOL_BATCH_BYTES || holds_handles (value);
}

void
mp_pool_records_init (MpPoolRecords *records)
{
  records->buffer = g_byte_array_new ();
  records->n = 0;
}

static void
pad8 (GByteArray *buffer)
{
  static const guint8 zeros[8] = { 0 };
  gsize pad = (8 - (buffer->len & 7)) & 7;

  if (pad > 0)
    g_byte_array_append (buffer, zeros, pad);
}

void
mp_pool_records_add (MpPoolRecords *records,
                     guint64        id,
                     guint8         kind,
                     const char    *name,
                     GVariant      *value)
{
  GByteArray *buffer = records->buffer;
  const char *type = g_variant_get_type_string (value);
  MpPoolRecord header = { 0 };
  gsize at;

  header.id = id;
  header.size = g_variant_get_size (value);
  header.name_len = name != NULL ? strlen (name) + 1 : 0;
  header.type_len = strlen (type) + 1;
  header.kind = kind;
  g_byte_array_append (buffer, (const guint8 *) &header, sizeof header);
  if (name != NULL)
    g_byte_array_append (buffer, (const guint8 *) name, header.name_len);
  g_byte_array_append (buffer, (const guint8 *) type, header.type_len);
  pad8 (buffer);
  at = buffer->len;
  if (header.size > 0)
    {
      g_byte_array_set_size (buffer, at + header.size);
      g_variant_store (value, buffer->data + at);
    }
  pad8 (buffer);
  records->n++;
}

gsize
mp_pool_records_size (MpPoolRecords *records)
{
  return records->buffer->len;
}

GVariant *
mp_pool_records_end (MpPoolRecords *records)
{
  GBytes *bytes = g_byte_array_free_to_bytes (records->buffer);
  GVariant *body = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);

  g_bytes_unref (bytes);
  mp_pool_records_init (records);
  return body;
}

void
mp_pool_records_clear (MpPoolRecords *records)
{
  g_clear_pointer (&records->buffer, g_byte_array_unref);
  records->n = 0;
}

void
mp_pool_record_reader_init (MpPoolRecordReader *reader,
                            GVariant           *body)
{
  reader->bytes = g_variant_get_data_as_bytes (body);
  reader->data = g_bytes_get_data (reader->bytes, &reader->size);
  reader->at = 0;
  reader->checked_type = NULL;
}

void
mp_pool_record_reader_clear (MpPoolRecordReader *reader)
{
  g_clear_pointer (&reader->bytes, g_bytes_unref);
}

GVariant *
mp_pool_record_value (GBytes     *bytes,
                      gsize       offset,
                      gsize       size,
                      const char *type)
{
  g_autoptr(GBytes) part = g_bytes_new_from_bytes (bytes, offset, size);

  /* Checked when read (G_VARIANT_TYPE() would check again). */
  return g_variant_ref_sink (g_variant_new_from_bytes ((const GVariantType *) type, part, FALSE));
}

gboolean
mp_pool_record_reader_next (MpPoolRecordReader  *reader,
                            guint64             *id,
                            guint8              *kind,
                            const char         **name,
                            GVariant           **value,
                            GError             **error)
{
  gsize offset, size;
  const char *type;

  if (!mp_pool_record_reader_next_bytes (reader, id, kind, name, &offset, &size, &type, error))
    return FALSE;
  *value = mp_pool_record_value (reader->bytes, offset, size, type);
  return TRUE;
}

gboolean
mp_pool_record_reader_next_bytes (MpPoolRecordReader  *reader,
                                  guint64             *id,
                                  guint8              *kind,
                                  const char         **name,
                                  gsize               *value_offset,
                                  gsize               *value_size,
                                  const char         **type_string,
                                  GError             **error)
{
  const guint8 *data = reader->data;
  gsize size = reader->size, at = reader->at;
  MpPoolRecord header;
  const char *type;

  if (at >= size)
    return FALSE;
  if (size - at < sizeof header)
    goto malformed;
  memcpy (&header, data + at, sizeof header);
  at += sizeof header;
  if (header.type_len == 0 || header.name_len > size - at || header.type_len > size - at - header.name_len)
    goto malformed;
  *name = header.name_len > 0 ? (const char *) data + at : NULL;
  if (header.name_len > 0 && data[at + header.name_len - 1] != '\0')
    goto malformed;
  at += header.name_len;
  type = (const char *) data + at;
  if (data[at + header.type_len - 1] != '\0')
    goto malformed;
  /* Records of one message usually share their type. */
  if (reader->checked_type == NULL || strcmp (reader->checked_type, type) != 0)
    {
      if (!g_variant_type_string_is_valid (type))
        goto malformed;
      reader->checked_type = type;
    }
  at += header.type_len;
  at = (at + 7) & ~(gsize) 7;
  if (at > size || header.size > size - at)
    goto malformed;
  *value_offset = at;
  *value_size = header.size;
  *type_string = type;
  at += header.size;
  reader->at = MIN ((at + 7) & ~(gsize) 7, size);
  *id = header.id;
  *kind = header.kind;
  return TRUE;

malformed:
  reader->at = size;
  g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool message has a malformed record"));
  return FALSE;
}

/* ---- running jobs ------------------------------------------------------------- */

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
run_chunk (MpTaskEntry *entry,
           GVariant    *chunk,
           GError     **error)
{
  gsize n = g_variant_n_children (chunk);
  g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) g_variant_unref);
  g_autoptr(GByteArray) fixed = NULL;   /* while every result so far is fixed-size */
  GVariantType *type = NULL;
  gsize fixed_size = 0;
  gboolean same = TRUE;
  GVariant *array;

  if (entry == NULL)
    return NULL;
  /* A batch task takes the chunk whole: no value per item. */
  if (mp_task_entry_is_batch (entry))
    return mp_task_entry_run_batch (entry, g_variant_ref (chunk), NULL, error);

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

gboolean
mp_pool_type_goes_in_place (const GVariantType *element_type)
{
  const char *s = g_variant_type_peek_string (element_type);

  return g_variant_type_get_string_length (element_type) == 1 && strchr ("ynqiuxtd", s[0]) != NULL;
}

/* A chunk in the pool's arena: its items are read there, and its results
 * written there when they are numbers (else answered as an array). */
static GVariant *
run_chunk_in_place (MpTaskEntry      *entry,
                    GVariant         *payload,
                    MpPoolArenaView  *view,
                    GError          **error)
{
  g_autoptr(GVariantType) array_type = NULL;
  g_autoptr(GVariant) chunk = NULL;
  g_autoptr(GVariant) results = NULL;
  const GVariantType *result_type;
  const char *element;
  guint64 items_at, n, results_at;
  const guint8 *items;
  guint8 *room;
  guint32 id;
  gsize size;

  if (entry == NULL)
    return NULL;
  if (view == NULL)
    goto malformed;
  if (g_variant_is_of_type (payload, G_VARIANT_TYPE (MP_POOL_IN_PLACE_NEW_TYPE)))
    {
      guint64 segment_size;
      gint32 fd;

      g_variant_get (payload, "(hutttst)", &fd, &id, &segment_size, &items_at, &n, &element, &results_at);
      if (!mp_pool_arena_view_add (view, id, fd, segment_size, error))
        return NULL;
    }
  else if (g_variant_is_of_type (payload, G_VARIANT_TYPE (MP_POOL_IN_PLACE_TYPE)))
    g_variant_get (payload, "(uttst)", &id, &items_at, &n, &element, &results_at);
  else
    goto malformed;
  if (!g_variant_type_string_is_valid (element) || !mp_pool_type_goes_in_place (G_VARIANT_TYPE (element)))
    goto malformed;
  size = mp_element_size (element, NULL);
  items = mp_pool_arena_view_get (view, id, items_at, n * size);
  room = mp_pool_arena_view_get (view, id, results_at, n * MP_POOL_IN_PLACE_STRIDE);
  if (items == NULL || room == NULL || n > G_MAXSIZE / MP_POOL_IN_PLACE_STRIDE)
    goto malformed;

  /* A view of the arena: the task reads the items where they are. */
  array_type = g_variant_type_new_array (G_VARIANT_TYPE (element));
  chunk = g_variant_ref_sink (g_variant_new_from_data (array_type, items, n * size, TRUE, NULL, NULL));
  results = run_chunk (entry, chunk, error);
  if (results == NULL)
    return NULL;
  result_type = g_variant_get_type (results);
  if (g_variant_type_is_array (result_type) && mp_pool_type_goes_in_place (g_variant_type_element (result_type)) &&
      g_variant_n_children (results) == n)
    {
      /* Over the items, for items of 8 bytes; and a task may return
       * its items themselves. */
      memmove (room, g_variant_get_data (results), g_variant_get_size (results));
      return g_variant_ref_sink (g_variant_new (MP_POOL_IN_PLACE_DONE_TYPE,
                                                g_variant_type_peek_string (g_variant_type_element (result_type)),
                                                n));
    }
  return g_steal_pointer (&results);

malformed:
  g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a malformed job"));
  return NULL;
}

/* The last task looked up: a worker's jobs are usually all one task's. */
typedef struct
{
  char        *name;
  MpTaskEntry *entry;
} TaskCache;

static void
task_cache_clear (TaskCache *cache)
{
  g_clear_pointer (&cache->name, g_free);
  g_clear_pointer (&cache->entry, mp_task_entry_unref);
}

static MpTaskEntry *
task_cache_lookup (TaskCache   *cache,
                   const char  *name,
                   GError     **error)
{
  MpTaskEntry *entry;

  if (cache->name != NULL && strcmp (cache->name, name) == 0)
    return cache->entry;
  entry = mp_task_lookup (name, error);
  if (entry == NULL)
    return NULL;
  task_cache_clear (cache);
  cache->name = g_strdup (name);
  cache->entry = entry;
  return entry;
}

static GVariant *
run_job (guint8           kind,
         const char      *task,
         GVariant        *payload,
         TaskCache       *cache,
         MpPoolArenaView *view,
         GError         **error)
{
  MpTaskEntry *entry;

  if (kind != MP_POOL_JOB_APPLY && kind != MP_POOL_JOB_CHUNK && kind != MP_POOL_JOB_CHUNK_IN_PLACE)
    goto unknown;
  entry = task_cache_lookup (cache, task, error);
  if (entry == NULL)
    return NULL;
  if (kind == MP_POOL_JOB_APPLY)
    return mp_task_entry_run (entry, payload, NULL, error);
  if (kind == MP_POOL_JOB_CHUNK_IN_PLACE)
    return run_chunk_in_place (entry, payload, view, error);
  if (g_variant_is_container (payload) && g_variant_type_is_array (g_variant_get_type (payload)))
    return run_chunk (entry, payload, error);

unknown:
  g_set_error (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a job of unknown kind %u"), kind);
  return NULL;
}

/* ---- the worker's loop ------------------------------------------------------ */

/* Replies waiting to go out together. A reply is held only while the
 * worker has more jobs of the same message to run, and never longer than
 * MP_POOL_REPLY_HOLD_US: a thread of its own sends what a long job would
 * otherwise keep back. Sends are under the lock, from either thread. */
typedef struct
{
  MpChannel     *channel;
  GMutex         lock;
  GCond          cond;
  MpPoolRecords  held;
  gint64         held_since;
  gboolean       flusher_idle;  /* waiting, untimed, for a first held reply */
  gboolean       quit;
  GThread       *flusher;
  GError        *send_error;    /* the flusher's: the pool went away */
} Replies;

static gboolean
send_body (MpChannel  *channel,
           GVariant   *body,
           GError    **error)
{
  g_autoptr(MpMessage) message = mp_message_new (MP_WIRE_KIND_VALUE, body);

  return mp_channel_send (channel, message, NULL, error);
}

static gboolean
flush_locked (Replies  *r,
              GError  **error)
{
  if (r->held.n == 0)
    return TRUE;
  return send_body (r->channel, mp_pool_records_end (&r->held), error);
}

static gpointer
flusher_thread (gpointer data)
{
  Replies *r = data;

  g_mutex_lock (&r->lock);
  while (!r->quit)
    {
      gint64 due;

      if (r->held.n == 0)
        {
          r->flusher_idle = TRUE;
          g_cond_wait (&r->cond, &r->lock);
          r->flusher_idle = FALSE;
          continue;
        }
      due = r->held_since + MP_POOL_REPLY_HOLD_US;
      if (g_get_monotonic_time () < due)
        {
          g_cond_wait_until (&r->cond, &r->lock, due);
          continue;
        }
      if (!flush_locked (r, r->send_error == NULL ? &r->send_error : NULL))
        break;
    }
  g_mutex_unlock (&r->lock);
  return NULL;
}

/* The reply to job @id (@value or @job_error): held while @more jobs of
 * its message wait to run, sent otherwise (with the ones held before
 * it). A value that may hold handles, or a large one, goes alone as a
 * typed reply (serialized once, straight into the message). */
static gboolean
reply (Replies   *r,
       guint64    id,
       GVariant  *value,
       GError    *job_error,
       gboolean   more,
       gboolean   may_hold,
       GError   **error)
{
  g_autoptr(GVariant) error_value = NULL;
  gboolean ok = TRUE;

  if (value == NULL)
    value = error_value = g_variant_ref_sink (mp_pool_error_to_variant (job_error));

  g_mutex_lock (&r->lock);
  if (r->send_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r->send_error));
      g_mutex_unlock (&r->lock);
      return FALSE;
    }
  if (mp_pool_value_travels_alone (value))
    {
      ok = flush_locked (r, error) &&
           send_body (r->channel, g_variant_new (MP_POOL_REPLY_TYPE, id, error_value == NULL, value), error);
      g_mutex_unlock (&r->lock);
      return ok;
    }
  mp_pool_records_add (&r->held, id, error_value == NULL, NULL, value);
  if (!more || !may_hold || r->held.n >= MP_POOL_BATCH_MAX ||
      mp_pool_records_size (&r->held) >= MP_POOL_BATCH_BYTES)
    ok = flush_locked (r, error);
  else if (r->held.n == 1)
    {
      r->held_since = g_get_monotonic_time ();
      if (r->flusher == NULL)
        r->flusher = g_thread_new ("mp-pool-replies", flusher_thread, r);
      else if (r->flusher_idle)
        g_cond_signal (&r->cond);
    }
  g_mutex_unlock (&r->lock);
  return ok;
}

static gboolean
replies_finish (Replies  *r,
                GError  **error)
{
  gboolean ok;

  g_mutex_lock (&r->lock);
  r->quit = TRUE;
  g_cond_signal (&r->cond);
  g_mutex_unlock (&r->lock);
  if (r->flusher != NULL)
    g_thread_join (r->flusher);
  r->flusher = NULL;
  ok = flush_locked (r, error);
  g_clear_error (&r->send_error);
  mp_pool_records_clear (&r->held);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  return ok;
}

/* The next message from the pool's channel or from the worker's line
 * (*@from_line); NULL once the pool closed its channel. A line the pool
 * closed is forgotten. With @spin (a call came on the line), both are
 * looked at for MP_POOL_LINE_SPIN_US before the worker sleeps, as long as
 * that pays (@gauge): a blocking caller often asks again at once. */
static MpMessage *
next_message (MpChannel    *channel,
              MpChannel   **line,
              gboolean      spin,
              MpSpinGauge  *gauge,
              gboolean     *from_line)
{
  gint64 budget = spin ? mp_spin_gauge_budget (gauge, MP_POOL_LINE_SPIN_US) : 0;
  gint64 spin_until = budget > 0 ? g_get_monotonic_time () + budget : 0;
  gboolean look = TRUE;

  spin = budget > 0;

  for (;;)
    {
      GPollFD pfds[2] = { { mp_channel_get_fd (channel), G_IO_IN, 0 }, { -1, G_IO_IN, 0 } };
      gboolean would_block = FALSE;
      MpMessage *message;

      if (*line != NULL && look)
        {
          message = mp_channel_try_receive (*line, &would_block, NULL);
          if (message != NULL)
            {
              if (spin)
                mp_spin_gauge_record (gauge, TRUE);
              *from_line = TRUE;
              return message;
            }
          if (!would_block)
            g_clear_object (line);
        }
      if (look)
        {
          message = mp_channel_try_receive (channel, &would_block, NULL);
          if (message != NULL || !would_block)
            {
              if (spin)
                mp_spin_gauge_record (gauge, TRUE);
              *from_line = FALSE;
              return message;
            }
        }
      if (spin && g_get_monotonic_time () < spin_until)
        {
          mp_cpu_relax ();
          continue;
        }
      if (spin)
        {
          mp_spin_gauge_record (gauge, FALSE);
          spin = FALSE;
        }
      if (*line != NULL)
        pfds[1].fd = mp_channel_get_fd (*line);
      look = g_poll (pfds, *line != NULL ? 2 : 1, -1) > 0;
    }
}

/* A worker whose language runtime refused a task runs none of its tasks
 * any more: it sends the answers it holds and ends, the refused job still
 * named in its page, with a status that has the pool run that job again
 * in a fresh worker. */
static void
quit_if_refused (const GError      *job_error,
                 MpPoolWorkerState *state,
                 guint64            id,
                 Replies           *replies)
{
  if (!g_error_matches (job_error, MP_ERROR, MP_ERROR_TASK_REFUSED) || state == NULL)
    return;
  __atomic_store_n (&state->refused, id, __ATOMIC_RELEASE);
  g_printerr ("%s\n", job_error->message);
  replies_finish (replies, NULL);
  mp_exit (MP_POOL_WORKER_EXIT_REFUSED);
}

/* Runs the job that came on the line and answers there, at once (a
 * caller waits for it alone); FALSE if the line is gone. */
static gboolean
answer_on_line (MpChannel          *line,
                MpMessage          *message,
                MpPoolWorkerState  *state,
                TaskCache          *tasks,
                Replies            *replies)
{
  g_autoptr(GError) job_error = NULL;
  g_autoptr(GVariant) payload = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *task;
  guint64 id;
  guint8 kind;

  if (!g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_JOB_TYPE)))
    return FALSE;
  g_variant_get (message->body, "(ty&sv)", &id, &kind, &task, &payload);
  if (state != NULL)
    __atomic_store_n (&state->running, id, __ATOMIC_RELEASE);
  value = run_job (kind, task, payload, tasks, NULL, &job_error);
  quit_if_refused (job_error, state, id, replies);
  if (state != NULL)
    __atomic_store_n (&state->running, 0, __ATOMIC_RELEASE);
  if (value == NULL)
    value = g_variant_ref_sink (mp_pool_error_to_variant (job_error));
  return send_body (line, g_variant_new (MP_POOL_REPLY_TYPE, id, job_error == NULL, value), NULL);
}

/* The page the pool reads the running job's id from; NULL if there is
 * none (the worker then holds no reply). *@fd is its descriptor. */
static MpPoolWorkerState *
make_state (int *fd)
{
  MpPoolWorkerState *state;

  *fd = memfd_create ("mp-pool-worker", MFD_CLOEXEC);
  if (*fd < 0)
    return NULL;
  if (ftruncate (*fd, sizeof (MpPoolWorkerState)) != 0 ||
      (state = mmap (NULL, sizeof (MpPoolWorkerState), PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0)) == MAP_FAILED)
    {
      close (*fd);
      *fd = -1;
      return NULL;
    }
  return state;
}

GVariant *
mp_pool_worker_run (GVariant      *args,
                    GCancellable  *cancellable,
                    gpointer       user_data,
                    GError       **error)
{
  g_autoptr(MpChannel) channel = NULL;
  g_autoptr(MpChannel) line = NULL;
  g_autoptr(GVariant) initargs = NULL;
  MpPoolWorkerState *state = NULL;
  TaskCache tasks = { 0 };
  MpPoolArenaView view = { 0 };
  Replies replies = { 0 };
  MpSpinGauge spin_gauge = MP_SPIN_GAUGE_INIT;
  const char *initializer;
  gint32 handle, line_handle;
  guint32 max_jobs, n = 0;
  gboolean ok = TRUE, stop = FALSE, spin = FALSE;
  int fd, line_fd, state_fd = -1;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (MP_POOL_WORKER_ARGS)))
    {
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got malformed arguments"));
      return NULL;
    }
  g_variant_get (args, "(hh&svu)", &handle, &line_handle, &initializer, &initargs, &max_jobs);
  fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);
  line_fd = fcntl (line_handle, F_DUPFD_CLOEXEC, 3);
  if (fd < 0 || line_fd < 0)
    {
      if (fd >= 0)
        close (fd);
      if (line_fd >= 0)
        close (line_fd);
      g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got no channel"));
      return NULL;
    }
  channel = mp_channel_new (fd);
  line = mp_channel_new (line_fd);

  if (*initializer != '\0')
    {
      g_autoptr(GVariant) ignored = call (initializer, initargs, error);

      if (ignored == NULL)
        return NULL;
    }

  /* Started and initialized: the pool starts its jobs' clocks now, not
   * while a spawned worker was still loading. The page telling which job
   * runs goes with it. */
  {
    g_autoptr(MpMessage) ready = mp_message_new (MP_WIRE_KIND_VALUE,
                                                 g_variant_new ("(tbv)", (guint64) 0, TRUE,
                                                                g_variant_new ("()")));
    state = make_state (&state_fd);
    if (state != NULL)
      mp_message_add_fd (ready, state_fd);
    if (!mp_channel_send (channel, ready, NULL, error))
      {
        if (state != NULL)
          munmap (state, sizeof *state);
        return NULL;
      }
  }

  replies.channel = channel;
  mp_pool_records_init (&replies.held);
  g_mutex_init (&replies.lock);
  g_cond_init (&replies.cond);

  while (ok && !stop && (max_jobs == 0 || n < max_jobs))
    {
      g_autoptr(MpMessage) message = NULL;
      MpPoolRecordReader reader = { 0 };
      gboolean records, more = TRUE, from_line = FALSE;

      message = next_message (channel, &line, spin, &spin_gauge, &from_line);
      /* The pool closed its end: nothing more to do. */
      if (message == NULL)
        break;
      spin = from_line;
      if (from_line)
        {
          if (!answer_on_line (line, message, state, &tasks, &replies))
            g_clear_object (&line);
          n++;
          continue;
        }
      records = g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_RECORDS_TYPE));
      if (!records && !g_variant_is_of_type (message->body, G_VARIANT_TYPE (MP_POOL_JOB_TYPE)))
        {
          g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a malformed job"));
          ok = FALSE;
          break;
        }
      if (records)
        mp_pool_record_reader_init (&reader, message->body);
      while (ok && more && (max_jobs == 0 || n < max_jobs))
        {
          g_autoptr(GError) job_error = NULL;
          g_autoptr(GVariant) payload = NULL;
          g_autoptr(GVariant) value = NULL;
          const char *task = NULL;
          guint64 id = 0;
          guint8 kind;

          if (records)
            {
              g_autoptr(GError) record_error = NULL;

              if (!mp_pool_record_reader_next (&reader, &id, &kind, &task, &payload, &record_error))
                {
                  /* The end, or a malformed record. */
                  if (record_error != NULL)
                    {
                      g_propagate_error (error, g_steal_pointer (&record_error));
                      ok = FALSE;
                    }
                  break;
                }
              more = reader.at < reader.size;
              if (task == NULL)
                {
                  g_set_error_literal (error, MP_ERROR, MP_ERROR_PROTOCOL, _("A pool worker got a malformed job"));
                  ok = FALSE;
                  break;
                }
            }
          else
            {
              g_variant_get (message->body, "(ty&sv)", &id, &kind, &task, &payload);
              more = FALSE;
            }
          if (kind == MP_POOL_JOB_STOP)
            {
              stop = TRUE;
              break;
            }
          if (state != NULL)
            __atomic_store_n (&state->running, id, __ATOMIC_RELEASE);
          value = run_job (kind, task, payload, &tasks, &view, &job_error);
          quit_if_refused (job_error, state, id, &replies);
          if (state != NULL)
            __atomic_store_n (&state->running, 0, __ATOMIC_RELEASE);
          ok = reply (&replies, id, value, job_error, more, state != NULL, error);
          n++;
        }
      mp_pool_record_reader_clear (&reader);
    }

  if (!replies_finish (&replies, ok ? error : NULL))
    ok = FALSE;
  task_cache_clear (&tasks);
  mp_pool_arena_view_clear (&view);
  if (state != NULL)
    munmap (state, sizeof *state);
  return ok ? g_variant_new ("()") : NULL;
}
