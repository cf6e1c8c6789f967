/* mp-pool-private.h: what a pool and its workers say to each other, and
 * the pool's private hooks for MpPoolResult
 *
 * A worker is an MpProcess running the built-in task MP_POOL_WORKER_TASK
 * with one end of a wire channel. The pool sends jobs, the worker answers
 * each in order, on the same channel:
 *
 *   job    (t id, y kind, s task, v payload)
 *   reply  (t id, b ok, v value)   value on error: (s domain, i code, s message)
 *
 * One message may carry several jobs and several replies, as records in
 * an "ay" (MpPoolRecord, for values whose types cannot hold a handle: no
 * descriptor to carry, and no GVariant built per job on the pool's
 * thread); a job or reply whose value may hold handles travels alone, as
 * above. The worker holds a reply
 * while more jobs of the same message wait to run, at most
 * MP_POOL_REPLY_HOLD_US, and sends what it holds once the message's jobs
 * are done. As a held reply can die with its worker, the worker keeps
 * the id of the job it is running (0 between jobs) in a shared page
 * (MpPoolWorkerState, a memfd sent with its "ready"): the pool fails
 * only that job when the worker dies and gives the others back. A worker
 * without that page holds no reply.
 *
 * A MP_POOL_JOB_APPLY payload is the task's arguments and its value the
 * task's result. A MP_POOL_JOB_CHUNK payload is an array whose elements
 * are each the arguments of one call, and its value the array of their
 * results: "aT" when every result has type T, "av" otherwise. After
 * MP_POOL_JOB_STOP the worker ends without an answer. Once started (and
 * its initializer run) a worker sends a reply with id 0: it is ready,
 * and the pool starts the clock of its first job then.
 *
 * A worker has a second channel, its line (mp-pool-line-private.h): a
 * blocking caller that borrowed it sends one job there, as a typed
 * message, and the worker answers it there at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "mp-delivery-private.h"
#include "mp-pool-result.h"
#include "mp-pool-iterator.h"

G_BEGIN_DECLS

#define MP_POOL_WORKER_TASK "mp:pool-worker"
#define MP_POOL_WORKER_ARGS "(hhsvu)"  /* channel, line, initializer, its args, max jobs */
/* A worker's exit status when its language runtime refused a task
 * (MP_ERROR_TASK_REFUSED), with the job named in its page's "refused"
 * (a task's own exit(75) names none): the job runs again in a fresh
 * worker. */
#define MP_POOL_WORKER_EXIT_REFUSED 75
#define MP_POOL_JOB_TYPE    "(tysv)"
#define MP_POOL_REPLY_TYPE  "(tbv)"
#define MP_POOL_RECORDS_TYPE "ay"

/* At most this many jobs or replies in one message, and about this many
 * bytes of payloads (a single larger one travels alone). */
#define MP_POOL_BATCH_MAX    64
#define MP_POOL_BATCH_BYTES  (32 * 1024)
/* The longest a finished job's reply waits for the next ones. */
#define MP_POOL_REPLY_HOLD_US 1000

typedef struct
{
  guint64 running;   /* the id of the job running, 0 between jobs; atomic */
  guint64 refused;   /* the id of a job its language runtime refused; atomic */
} MpPoolWorkerState;

/* One job or reply in a message of records: this header, the task's name
 * (a job's) and the value's type string, each with its NUL, zeros up to
 * a multiple of 8, the value's serialized bytes, zeros up to a multiple
 * of 8. Host byte order: both ends are on one machine. */
typedef struct
{
  guint64 id;
  guint64 size;       /* of the value */
  guint32 name_len;   /* the task's name with its NUL; 0 in a reply */
  guint32 type_len;   /* the value's type string with its NUL */
  guint8  kind;       /* a job's MpPoolJobKind, a reply's ok */
  guint8  padding[7];
} MpPoolRecord;

G_STATIC_ASSERT (sizeof (MpPoolRecord) == 32);

typedef struct
{
  GByteArray *buffer;
  guint       n;
} MpPoolRecords;

typedef struct
{
  GBytes       *bytes;
  const guint8 *data;
  gsize         size;
  gsize         at;
  const char   *checked_type;  /* the last type string found valid */
} MpPoolRecordReader;

/* Whether @value goes in a typed message of its own rather than as a
 * record: it holds handles (whose descriptors the typed message carries),
 * or it is large (not copied into a message of records first). */
gboolean   mp_pool_value_travels_alone (GVariant      *value);
void       mp_pool_records_init      (MpPoolRecords   *records);
void       mp_pool_records_add       (MpPoolRecords   *records,
                                      guint64          id,
                                      guint8           kind,
                                      const char      *name,
                                      GVariant        *value);
gsize      mp_pool_records_size      (MpPoolRecords   *records);
/* The records as a message body (floating); @records is empty again. */
GVariant  *mp_pool_records_end       (MpPoolRecords   *records);
void       mp_pool_records_clear     (MpPoolRecords   *records);
void       mp_pool_record_reader_init  (MpPoolRecordReader *reader,
                                        GVariant           *body);
/* The next record: FALSE at the end, or with @error set when malformed.
 * @name points into the message; @value is a full reference. */
gboolean   mp_pool_record_reader_next  (MpPoolRecordReader *reader,
                                        guint64            *id,
                                        guint8             *kind,
                                        const char        **name,
                                        GVariant          **value,
                                        GError            **error);
/* The same, without making the value: its bytes are @size bytes at
 * @offset in reader->bytes, of type @type_string (valid, and alive with
 * reader->bytes). */
gboolean   mp_pool_record_reader_next_bytes (MpPoolRecordReader *reader,
                                             guint64            *id,
                                             guint8             *kind,
                                             const char        **name,
                                             gsize              *offset,
                                             gsize              *size,
                                             const char        **type_string,
                                             GError            **error);
/* A record's value from its bytes (a full reference). */
GVariant  *mp_pool_record_value      (GBytes          *bytes,
                                      gsize            offset,
                                      gsize            size,
                                      const char      *type_string);
void       mp_pool_record_reader_clear (MpPoolRecordReader *reader);

typedef enum
{
  MP_POOL_JOB_APPLY = 0,
  MP_POOL_JOB_CHUNK = 1,
  MP_POOL_JOB_STOP = 2,    /* no answer: the worker ends */
  MP_POOL_JOB_CHUNK_IN_PLACE = 3,
} MpPoolJobKind;

/* A MP_POOL_JOB_CHUNK_IN_PLACE payload: a chunk of numbers in the pool's
 * arena (mp-pool-arena-private.h), with room for 8 bytes of result per
 * item at another offset of the same segment, or over the items
 * themselves when they are 8 bytes each. The first job that names a
 * segment to a worker carries its descriptor and size:
 *   (h fd, u segment, t its size, t items' offset, t n items, s element type, t results' offset)
 * later ones do not:
 *   (u segment, t items' offset, t n items, s element type, t results' offset)
 * The answer is MP_POOL_IN_PLACE_DONE_TYPE, (s the results' element type,
 * t n), when the results are written in place, one after the other from
 * the results' offset; or the results' array, as for MP_POOL_JOB_CHUNK,
 * when they are not numbers. */
#define MP_POOL_IN_PLACE_NEW_TYPE  "(hutttst)"
#define MP_POOL_IN_PLACE_TYPE      "(uttst)"
#define MP_POOL_IN_PLACE_DONE_TYPE "(st)"
/* Room for each item's result in place: the largest number's size. */
#define MP_POOL_IN_PLACE_STRIDE    8

/* Element types whose chunks can go in place: numbers (fixed size, any
 * bytes a valid value, no descriptor). */
gboolean   mp_pool_type_goes_in_place  (const GVariantType *element_type);

/* The worker's side: the body of MP_POOL_WORKER_TASK. */
GVariant  *mp_pool_worker_run          (GVariant      *args,
                                        GCancellable  *cancellable,
                                        gpointer       user_data,
                                        GError       **error);

/* Basic types whose values all have one size: their arrays are the
 * values' bytes back to back (sliced and joined without a copy each). */
gboolean   mp_pool_type_is_fixed_basic (const GVariantType *type);

/* An error as a reply carries it, and back. */
GVariant  *mp_pool_error_to_variant    (const GError  *error);
GError    *mp_pool_error_from_variant  (GVariant      *value);

/* MpPoolResult as the pool drives it. */
typedef void (*MpPoolCancelFunc) (MpPoolResult *result,
                                  gpointer      data);

/* Deliveries made by the pool thread go through mp_pool_deliver(); between
 * begin and end they are collected and pushed in bulk (see mp-pool-result.c). */
void          mp_pool_deliver             (MpDelivery       *delivery,
                                           GFunc             func,
                                           gpointer          data,
                                           GDestroyNotify    destroy);
void          mp_pool_deliveries_begin    (void);
void          mp_pool_deliveries_end      (void);

MpPoolResult *mp_pool_result_new          (GMainContext     *context);
/* @func (@self, @data) runs in @context once @self is done (no GTask). */
void          mp_pool_result_when_done    (MpPoolResult     *self,
                                           GMainContext     *context,
                                           GFunc             func,
                                           gpointer          data);
/* @cancel (@data) runs once, in any thread, when the result is cancelled
 * before it is done. */
void          mp_pool_result_set_cancel_func (MpPoolResult  *self,
                                           MpPoolCancelFunc  cancel,
                                           gpointer          data);
/* Takes @value (a full reference) or @error; the first call wins. Wakes
 * the waiters and returns the GTasks waiting for it. Any thread. */
gboolean      mp_pool_result_complete     (MpPoolResult     *self,
                                           GVariant         *value,
                                           GError           *error);
/* The same with a value not made yet: @size bytes at @offset in @bytes
 * (a reference is taken), of type @type_string (inside @bytes). The value
 * is made by the thread that first reads it, so that the thread that
 * completes allocates nothing per result that another thread frees. */
gboolean      mp_pool_result_complete_bytes (MpPoolResult   *self,
                                           GBytes           *bytes,
                                           gsize             offset,
                                           gsize             size,
                                           const char       *type_string);
void          mp_pool_result_return_task  (MpPoolResult     *self,
                                           GTask            *task);

/* MpPoolIterator as the pool drives it. The pool hands over each chunk's
 * results (an array) or its error, from its own thread; the iterator asks
 * for more chunks as its items are taken. */
typedef struct _MpPool MpPool;

MpPoolIterator *mp_pool_iterator_new        (MpPool           *pool,
                                             const char       *task,
                                             GVariant         *items,
                                             guint             chunksize,
                                             gboolean          ordered);
void            mp_pool_iterator_chunk_done (MpPoolIterator   *self,
                                             guint             chunk,
                                             GVariant         *results,
                                             GError           *error);
/* Several chunks at once (their results and errors are taken), under one
 * lock. */
typedef struct
{
  guint     chunk;
  GVariant *results;
  GError   *error;
} MpPoolChunkDone;

void            mp_pool_iterator_chunks_done (MpPoolIterator  *self,
                                             MpPoolChunkDone  *done,
                                             guint             n);
/* The pool's side: queue @n chunks of an iterator's items, numbered
 * from @first. */
gboolean        mp_pool_submit_chunks       (MpPool           *pool,
                                             MpPoolIterator   *iterator,
                                             const char       *task,
                                             GVariant        **chunks,
                                             guint             first,
                                             guint             n,
                                             GError          **error);
void            mp_pool_cancel_iterator     (MpPool           *pool,
                                             MpPoolIterator   *iterator);
/* How many blocking applies went over a worker's line (for tests). */
guint64         mp_pool_get_n_line_calls    (MpPool           *pool);
GVariant       *mp_pool_slice_items         (GVariant         *items,
                                             gsize             start,
                                             gsize             n);

G_END_DECLS
