/* mp-wire-private.h: the wire channel every libmp class talks through
 *
 * A channel is one end of an AF_UNIX SOCK_SEQPACKET socket pair. One
 * message is one datagram: a fixed header, then a GVariant of type "v"
 * in normal form. Descriptors ride along with SCM_RIGHTS. A body larger
 * than MP_WIRE_INLINE_MAX travels in a sealed memfd (the last descriptor)
 * that the receiver maps, so big payloads never cross the socket.
 *
 * This layer knows message kinds by number only: what a kind means is
 * up to the classes that use it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  MP_WIRE_KIND_INVALID = 0,
  MP_WIRE_KIND_RUN,          /* parent to worker: what to run */
  MP_WIRE_KIND_RESULT,       /* worker to parent: a task's value */
  MP_WIRE_KIND_ERROR,        /* worker to parent: a task's GError */
  MP_WIRE_KIND_FORK_REQUEST, /* client to forkserver: start a worker */
  MP_WIRE_KIND_FORKED,       /* forkserver to client: the worker's pid */
  MP_WIRE_KIND_EXITED,       /* forkserver to client: the worker's exit code */
  MP_WIRE_KIND_VALUE,        /* a value sent by a user (pipe, queue) */
  MP_WIRE_KIND_BYTES,        /* raw bytes sent by a user, as "ay" */
  MP_WIRE_N_KINDS
} MpWireKind;

#define MP_WIRE_MAGIC        0x3157504du /* "MPW1" */
#define MP_WIRE_FLAG_MEMFD   (1u << 0)
#define MP_WIRE_KNOWN_FLAGS  (MP_WIRE_FLAG_MEMFD)
#define MP_WIRE_INLINE_MAX   (64u * 1024u)
#define MP_WIRE_MAX_FDS      250u

typedef struct
{
  guint32 magic;
  guint16 kind;
  guint16 flags;
  guint32 n_fds;      /* descriptors carried, the payload memfd included */
  guint32 serial;     /* the sender's number for the message, carried as is */
  guint64 body_size;  /* bytes of the serialized body, inline or in the memfd */
} MpWireHeader;

G_STATIC_ASSERT (sizeof (MpWireHeader) == 24);

typedef struct
{
  MpWireKind  kind;
  GVariant   *body;   /* never NULL */
  GArray     *fds;    /* of int; -1 where a descriptor was stolen */
  GArray     *owned;  /* of int: copies the body's handles name, see below */
  guint32     serial; /* the sender's number: the wire only carries it */
} MpMessage;

MpMessage  *mp_message_new        (MpWireKind  kind,
                                   GVariant   *body);
int         mp_message_add_fd     (MpMessage  *message,
                                   int         fd);
int         mp_message_steal_fd   (MpMessage  *message,
                                   guint       index);
guint       mp_message_get_n_fds  (MpMessage  *message);
/* Makes the body's handles name copies that the message owns, for a
 * message that is sent later: the caller may close its descriptors. */
gboolean    mp_message_own_handles (MpMessage *message,
                                    GError   **error);
void        mp_message_free       (MpMessage  *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpMessage, mp_message_free)

const char *mp_wire_kind_to_string (MpWireKind kind);

/* In a new child made by fork(): locks another thread may have held. */
void        mp_wire_after_fork_child (void);

/* Decodes one received frame. Takes ownership of @fds (closing them on
 * error). Separate from the socket so that the fuzzer can drive it. */
MpMessage  *mp_wire_decode        (const guint8 *frame,
                                   gsize         frame_len,
                                   const int    *fds,
                                   guint         n_fds,
                                   GError      **error);

#define MP_TYPE_CHANNEL (mp_channel_get_type ())
G_DECLARE_FINAL_TYPE (MpChannel, mp_channel, MP, CHANNEL, GObject)

MpChannel  *mp_channel_new            (int            fd);
gboolean    mp_channel_new_pair       (MpChannel    **a,
                                       MpChannel    **b,
                                       GError       **error);
gboolean    mp_socket_pair            (int            fds[2],
                                       GError       **error);
int         mp_channel_get_fd         (MpChannel     *self);
int         mp_channel_steal_fd       (MpChannel     *self);
gboolean    mp_channel_send           (MpChannel     *self,
                                       MpMessage     *message,
                                       GCancellable  *cancellable,
                                       GError       **error);
gboolean    mp_channel_send_full      (MpChannel     *self,
                                       MpMessage     *message,
                                       gboolean       block,
                                       GCancellable  *cancellable,
                                       GError       **error);
void        mp_channel_set_shared     (MpChannel     *self,
                                       gboolean       shared);
MpMessage  *mp_channel_receive        (MpChannel     *self,
                                       double         timeout,
                                       GCancellable  *cancellable,
                                       GError       **error);
/* One receive that never waits: NULL with @would_block set when nothing
 * is there. */
MpMessage  *mp_channel_try_receive    (MpChannel     *self,
                                       gboolean      *would_block,
                                       GError       **error);
void        mp_channel_receive_async  (MpChannel     *self,
                                       GCancellable  *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer       user_data);
MpMessage  *mp_channel_receive_finish (MpChannel     *self,
                                       GAsyncResult  *result,
                                       GError       **error);
void        mp_channel_close          (MpChannel     *self);
gboolean    mp_channel_is_closed      (MpChannel     *self);

/* Waits until @fd is ready for @events, @cancellable fires or @timeout
 * (seconds, negative = forever) runs out. Shared by every blocking call. */
gboolean    mp_wait_fd                (int            fd,
                                       short          events,
                                       gint64         deadline_us,
                                       GCancellable  *cancellable,
                                       GError       **error);
gint64      mp_deadline_from_timeout  (double         timeout);

/* The async side of mp_wait_fd(): on @task's context, calls @ready each
 * time @fd is ready for @condition until it returns TRUE, having returned
 * the task; cancelling the task's cancellable returns
 * G_IO_ERROR_CANCELLED. Leaves the task data to the caller. */
typedef gboolean (*MpFdReadyFunc) (GTask *task);

void        mp_task_wait_fd           (GTask         *task,
                                       int            fd,
                                       GIOCondition   condition,
                                       MpFdReadyFunc  ready,
                                       const char    *name);

G_END_DECLS
