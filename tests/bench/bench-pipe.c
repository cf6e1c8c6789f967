/* bench-pipe.c: what MpPipe costs between a parent and a child process,
 * next to the floor the kernel sets
 *
 *   bench-pipe [--what pingpong,raw,raw_poll,bytes,memfd_floor] [--iterations N]
 *              [--warmup N] [--block N] [--bytes-iterations N]
 *              [--bytes-warmup N] [--size-mib N] [--start-method M]
 *              [--quick] [--json]
 *
 * pingpong   round trip of a small value (an int64, "x"): the parent sends
 *            it with mp_pipe_send, a child started with mp_process_new runs
 *            the "echo" task, which receives it with mp_pipe_recv and sends
 *            it back; the parent receives it and checks it. One sample is
 *            one round trip.
 * raw        the floor: the same ping-pong of 64-byte messages over a bare
 *            AF_UNIX SOCK_SEQPACKET socketpair between two processes made by
 *            fork(), blocking read and write, nothing else.
 * raw_poll   the raw ping-pong again, but receiving as libmp does: a
 *            non-blocking recvmsg, poll() when it would block, recvmsg again.
 *            Not a target: it tells the syscall pattern from libmp's own work.
 * bytes      round trip of --size-mib MiB (100) of raw bytes: the parent
 *            sends them with mp_pipe_send_bytes, the "echo-bytes" child
 *            receives them with mp_pipe_recv_bytes and sends them back, the
 *            parent receives them. One sample is one round trip; the driver
 *            turns it into GB/s = 2 * size / time. The parent also times
 *            its three phases: send (mp_pipe_send_bytes returned), recv
 *            (mp_pipe_recv_bytes returned: all of the child's work is in
 *            there) and release (the check and the last unref).
 * memfd_floor the floor of bytes, set by the kernel: what a round trip of
 *            libmp's costs at the least. The send copies the bytes into a
 *            new sealed memfd and the echo relays that memfd back without
 *            a copy, so a round trip is one fresh memfd: in this one
 *            process (no child, no socket), memfd_create (MFD_CLOEXEC |
 *            MFD_ALLOW_SEALING), write() of the same bytes, F_ADD_SEALS
 *            with libmp's seals, mmap read-only, the check bytes makes,
 *            munmap, close. One sample is one such memfd; its GB/s is
 *            counted as a round trip's (2 * size / time), so that the two
 *            compare. Run after the ping-pongs, in turn with bytes as
 *            listed.
 *
 * With --block N the ping-pongs asked for take turns in blocks of N round
 * trips, with all their children alive (the others wait in a read), so that
 * the noise of a shared machine hits the floor and libmp alike: their ratio
 * is then fair even when the absolute figures are not.
 *
 * The data are checked: every ping-pong answer must be the value sent; the
 * first (untimed) bytes round trip is compared in full with what was sent,
 * and every timed one has its size and 64 spread positions checked;
 * memfd_floor checks its mappings the same way.
 *
 * The child is started with the default start method (forkserver when
 * mp_init ran single-threaded) unless --start-method says otherwise, and
 * lives for the whole measurement: its start is not timed. An empty message
 * (the unit "()", or zero bytes) tells it to return.
 *
 * run-bench-pipe.py runs this program and CPython's multiprocessing
 * (bench_pipe_cpython.py) in turns and prints the comparison; this program
 * alone prints its own figures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mp.h>

#include "bench-util.h"

#define RAW_MESSAGE_SIZE 64
#define N_CHECKS 64
/* memfd_floor: the seals src/mp-wire.c puts on a large payload */
#define MEMFD_SEALS (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ---- the child's tasks --------------------------------------------------- */

static MpPipe *
pipe_from_args (GVariant  *args,
                GError   **error)
{
  g_autoptr(GVariant) ref = g_variant_get_child_value (args, 0);

  return mp_pipe_new_from_variant (ref, error);
}

/* Sends back every int64 until the unit "()" or the end of the pipe. */
static GVariant *
task_echo (GVariant      *args,
           GCancellable  *cancellable,
           gpointer       user_data,
           GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_from_args (args, error);

  if (pipe == NULL)
    return NULL;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GVariant) value = mp_pipe_recv (pipe, NULL, NULL, &local_error);

      if (value == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CLOSED))
            return NULL;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        return NULL;   /* the unit "()": stop */
      /* A new floating value, not @value itself: mp_pipe_send adopts a
       * non-floating reference it is given (mp_message_new takes it with
       * g_variant_take_ref), which would leave this loop's reference
       * dangling. */
      if (!mp_pipe_send (pipe, g_variant_new_int64 (g_variant_get_int64 (value)), NULL, error))
        return NULL;
    }
}

/* Sends back every bytes message until an empty one or the end of the pipe. */
static GVariant *
task_echo_bytes (GVariant      *args,
                 GCancellable  *cancellable,
                 gpointer       user_data,
                 GError       **error)
{
  g_autoptr(MpPipe) pipe = pipe_from_args (args, error);

  if (pipe == NULL)
    return NULL;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GBytes) bytes = mp_pipe_recv_bytes (pipe, NULL, &local_error);

      if (bytes == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CLOSED))
            return NULL;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (g_bytes_get_size (bytes) == 0)
        return NULL;
      if (!mp_pipe_send_bytes (pipe, bytes, NULL, error))
        return NULL;
    }
}

/* ---- the child's life ------------------------------------------------------ */

typedef struct
{
  MpPipe    *mine;
  MpProcess *process;
} Peer;

static gboolean
peer_start (Peer           *peer,
            const char     *task,
            MpStartMethod   method,
            GError        **error)
{
  g_autoptr(MpPipe) theirs = NULL;

  if (!mp_pipe_new_pair (TRUE, &peer->mine, &theirs, error))
    return FALSE;
  peer->process = mp_process_new (task, g_variant_new ("(@(sh))", mp_pipe_to_variant (theirs)));
  mp_process_set_start_method (peer->process, method);
  if (!mp_process_start (peer->process, error))
    return FALSE;
  /* The child has its own end now. */
  return TRUE;
}

/* Sends @stop, then joins the child and checks that it went well. */
static gboolean
peer_stop (Peer      *peer,
           gboolean   bytes,
           GError   **error)
{
  gboolean ok;

  if (bytes)
    {
      g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
      ok = mp_pipe_send_bytes (peer->mine, empty, NULL, error);
    }
  else
    ok = mp_pipe_send (peer->mine, g_variant_new ("()"), NULL, error);
  if (ok && !mp_process_join (peer->process, -1, error))
    ok = FALSE;
  if (ok && !mp_process_check_error (peer->process, error))
    ok = FALSE;
  if (ok && mp_process_get_exitcode (peer->process) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the echo child exited with %d",
                   mp_process_get_exitcode (peer->process));
      ok = FALSE;
    }
  g_clear_object (&peer->mine);
  g_clear_object (&peer->process);
  return ok;
}

/* ---- measurements ------------------------------------------------------ */

/* Where a bytes round trip goes, as the parent sees it (ms). */
enum
{
  PHASE_SEND,     /* mp_pipe_send_bytes returned: the body is in a sealed memfd, sent */
  PHASE_RECV,     /* mp_pipe_recv_bytes returned: the child received, validated and
                   * relayed the memfd back (no copy); this side mapped and validated */
  PHASE_RELEASE,  /* the check of 64 positions and the last unref (munmap) */
  N_PHASES
};

static const char *phase_names[N_PHASES] = { "send", "recv", "release" };

typedef struct
{
  const char *name;
  const char *unit;        /* of the samples: "us" or "ms" */
  GArray     *samples;     /* double */
  GArray     *phases[N_PHASES];   /* double, ms; bytes only */
  const char *start_method;
  guint64     size;        /* bytes: the size of one message */
  gboolean    baseline;    /* a floor (raw, raw_poll, memfd_floor), not libmp */
} Measure;

static void
add_sample (Measure *m,
            gint64   ns)
{
  double x = g_str_equal (m->unit, "us") ? ns / 1e3 : ns / 1e6;

  g_array_append_val (m->samples, x);
}

static const char *
method_name (MpStartMethod method)
{
  switch (method)
    {
    case MP_START_METHOD_FORK: return "fork";
    case MP_START_METHOD_SPAWN: return "spawn";
    case MP_START_METHOD_FORKSERVER: return "forkserver";
    default: return "default";
    }
}

static const char *
started_method (MpProcess *process)
{
  MpStartMethod method = mp_process_get_start_method (process);

  return method_name (method == MP_START_METHOD_DEFAULT ? mp_get_start_method () : method);
}

/* A ping-pong partner: a libmp child behind an MpPipe, or a forked child
 * on a bare socketpair. Opened once, then run in one go or in blocks that
 * take turns with the other partners (--block). */
typedef enum
{
  PP_LIBMP,
  PP_RAW,
  PP_RAW_POLL,
} PingPongKind;

typedef struct
{
  PingPongKind  kind;
  Measure      *m;
  Peer          peer;     /* PP_LIBMP */
  int           fd;       /* PP_RAW*: our end */
  pid_t         pid;      /* PP_RAW*: the echo child */
  guint64       counter;
} PingPong;

/* The raw floor's I/O: blocking read and write; or, for raw_poll, what
 * libmp does: a non-blocking recvmsg, poll when it would block, again. */

static ssize_t
raw_recv (int      fd,
          guint8  *buf,
          gboolean like_libmp)
{
  for (;;)
    {
      ssize_t r;

      if (!like_libmp)
        r = read (fd, buf, RAW_MESSAGE_SIZE);
      else
        {
          struct iovec iov = { buf, RAW_MESSAGE_SIZE };
          struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
          r = recvmsg (fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
          if (r < 0 && errno == EAGAIN)
            {
              struct pollfd pfd = { fd, POLLIN, 0 };
              poll (&pfd, 1, -1);
              continue;
            }
        }
      if (r < 0 && errno == EINTR)
        continue;
      return r;
    }
}

static ssize_t
raw_send (int            fd,
          const guint8  *buf,
          gboolean       like_libmp)
{
  for (;;)
    {
      ssize_t r;

      if (!like_libmp)
        r = write (fd, buf, RAW_MESSAGE_SIZE);
      else
        r = send (fd, buf, RAW_MESSAGE_SIZE, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR)
        continue;
      return r;
    }
}

static gboolean
pingpong_open (PingPong       *pp,
               MpStartMethod   method,
               GError        **error)
{
  gboolean like_libmp = pp->kind == PP_RAW_POLL;
  int sv[2];

  pp->fd = -1;
  if (pp->kind == PP_LIBMP)
    {
      if (!peer_start (&pp->peer, "echo", method, error))
        return FALSE;
      pp->m->start_method = started_method (pp->peer.process);
      return TRUE;
    }

  pp->m->start_method = "fork";
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "socketpair: %s", g_strerror (errsv));
      return FALSE;
    }
  pp->pid = fork ();
  if (pp->pid < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "fork: %s", g_strerror (errsv));
      close (sv[0]);
      close (sv[1]);
      return FALSE;
    }
  if (pp->pid == 0)
    {
      guint8 back[RAW_MESSAGE_SIZE];

      /* Echo until a message whose first byte is 0xff, or the end. */
      close (sv[0]);
      for (;;)
        {
          ssize_t r = raw_recv (sv[1], back, like_libmp);

          if (r <= 0 || back[0] == 0xff)
            _exit (r < 0 ? 1 : 0);
          if (raw_send (sv[1], back, like_libmp) != RAW_MESSAGE_SIZE)
            _exit (1);
        }
    }
  close (sv[1]);
  pp->fd = sv[0];
  return TRUE;
}

/* One round trip of @value; FALSE with @error set when it went wrong. */
static gboolean
pingpong_once (PingPong  *pp,
               guint64    value,
               GError   **error)
{
  if (pp->kind == PP_LIBMP)
    {
      g_autoptr(GVariant) back = NULL;

      if (!mp_pipe_send (pp->peer.mine, g_variant_new_int64 ((gint64) value), NULL, error) ||
          !(back = mp_pipe_recv (pp->peer.mine, G_VARIANT_TYPE_INT64, NULL, error)))
        return FALSE;
      if ((guint64) g_variant_get_int64 (back) != value)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "ping-pong: sent %" G_GUINT64_FORMAT ", got %" G_GINT64_FORMAT " back",
                       value, g_variant_get_int64 (back));
          return FALSE;
        }
      return TRUE;
    }
  else
    {
      gboolean like_libmp = pp->kind == PP_RAW_POLL;
      guint8 buf[RAW_MESSAGE_SIZE] = { 0 }, back[RAW_MESSAGE_SIZE];
      guint64 got;

      memcpy (buf + 8, &value, sizeof value);
      if (raw_send (pp->fd, buf, like_libmp) != RAW_MESSAGE_SIZE ||
          raw_recv (pp->fd, back, like_libmp) != RAW_MESSAGE_SIZE)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "raw ping-pong: %s", g_strerror (errsv));
          return FALSE;
        }
      memcpy (&got, back + 8, sizeof got);
      if (got != value)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "raw ping-pong: wrong answer");
          return FALSE;
        }
      return TRUE;
    }
}

/* @n round trips; timed ones add one sample each (one clock read per
 * round trip: a sample runs from the end of the previous one). */
static gboolean
pingpong_run (PingPong  *pp,
              guint      n,
              gboolean   timed,
              GError   **error)
{
  gint64 last = now_ns ();

  for (guint i = 0; i < n; i++)
    {
      if (!pingpong_once (pp, pp->counter++ * 7 + 1, error))
        return FALSE;
      if (timed)
        {
          gint64 t = now_ns ();
          add_sample (pp->m, t - last);
          last = t;
        }
    }
  return TRUE;
}

/* Stops the child and checks how it ended; with @ok FALSE only cleans up. */
static gboolean
pingpong_close (PingPong  *pp,
                gboolean   ok,
                GError   **error)
{
  if (pp->kind == PP_LIBMP)
    {
      if (ok)
        return peer_stop (&pp->peer, FALSE, error);
      g_clear_object (&pp->peer.mine);   /* the child sees the end of the pipe */
      if (pp->peer.process != NULL)
        mp_process_join (pp->peer.process, 5, NULL);
      g_clear_object (&pp->peer.process);
      return FALSE;
    }

  if (pp->fd >= 0)
    {
      guint8 buf[RAW_MESSAGE_SIZE] = { 0xff };
      int status = 0;

      raw_send (pp->fd, buf, pp->kind == PP_RAW_POLL);
      close (pp->fd);
      pp->fd = -1;
      while (waitpid (pp->pid, &status, 0) < 0 && errno == EINTR)
        ;
      if (ok && (!WIFEXITED (status) || WEXITSTATUS (status) != 0))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "the raw echo child ended with 0x%x", status);
          return FALSE;
        }
    }
  return ok;
}

/* Every ping-pong partner is opened and warmed up, then they take turns
 * in blocks of @block round trips (the order reversed at every turn), so
 * that a burst of noise from other programs hits them all alike. With
 * @block 0 each runs all its round trips in one go, one after the other. */
static gboolean
measure_pingpongs (PingPong       *pps,
                   guint           n_pps,
                   MpStartMethod   method,
                   guint           iterations,
                   guint           warmup,
                   guint           block,
                   GError        **error)
{
  gboolean ok = TRUE;
  guint opened = 0;

  if (block == 0)
    {
      for (guint k = 0; ok && k < n_pps; k++)
        {
          ok = pingpong_open (&pps[k], method, error);
          if (!ok)
            {
              pingpong_close (&pps[k], FALSE, NULL);
              break;
            }
          ok = pingpong_run (&pps[k], warmup, FALSE, error) &&
               pingpong_run (&pps[k], iterations, TRUE, error);
          ok = pingpong_close (&pps[k], ok, ok ? error : NULL) && ok;
        }
      return ok;
    }

  for (; opened < n_pps; opened++)
    if (!pingpong_open (&pps[opened], method, error))
      {
        pingpong_close (&pps[opened], FALSE, NULL);
        ok = FALSE;
        break;
      }
  for (guint k = 0; ok && k < n_pps; k++)
    ok = pingpong_run (&pps[k], warmup, FALSE, error);
  for (guint done = 0, turn = 0; ok && done < iterations; turn++)
    {
      guint n = MIN (block, iterations - done);

      for (guint j = 0; ok && j < n_pps; j++)
        ok = pingpong_run (&pps[turn % 2 ? n_pps - 1 - j : j], n, TRUE, error);
      done += n;
    }
  for (guint k = 0; k < opened; k++)
    ok = pingpong_close (&pps[k], ok, ok ? error : NULL) && ok;
  return ok;
}

/* Bytes: a pattern any position of which can be checked on its own. */
static inline guint64
pattern_word (guint64 i)
{
  guint64 z = i + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  return z ^ (z >> 27);
}

static GBytes *
make_payload (guint64 size)
{
  guint8 *data = g_malloc (size);
  guint64 words = size / 8;

  for (guint64 i = 0; i < words; i++)
    {
      guint64 w = pattern_word (i);
      memcpy (data + i * 8, &w, 8);
    }
  for (guint64 i = words * 8; i < size; i++)
    data[i] = (guint8) i;
  return g_bytes_new_take (data, size);
}

static gboolean
check_payload (GBytes   *sent,
               GBytes   *got,
               gboolean  full,
               GError  **error)
{
  gsize size, got_size;
  const guint8 *a = g_bytes_get_data (sent, &size);
  const guint8 *b = g_bytes_get_data (got, &got_size);

  if (got_size != size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "bytes: sent %" G_GSIZE_FORMAT " bytes, got %" G_GSIZE_FORMAT " back", size, got_size);
      return FALSE;
    }
  if (full)
    {
      if (memcmp (a, b, size) != 0)
        goto differ;
      return TRUE;
    }
  for (guint k = 0; k < N_CHECKS; k++)
    {
      gsize pos = k == N_CHECKS - 1 ? size - 1 : (size / N_CHECKS) * k + k * 4099 % (size / N_CHECKS);

      if (a[pos] != b[pos])
        goto differ;
    }
  return TRUE;

differ:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "bytes: what came back differs from what was sent");
  return FALSE;
}

static gboolean
measure_bytes (Measure        *m,
               MpStartMethod   method,
               guint64         size,
               guint           iterations,
               guint           warmup,
               GError        **error)
{
  g_autoptr(GBytes) payload = make_payload (size);
  Peer peer = { 0 };
  gboolean ok = TRUE;

  m->size = size;
  if (!peer_start (&peer, "echo-bytes", method, error))
    return FALSE;
  m->start_method = started_method (peer.process);

  /* At least one untimed round trip: the full check of the data. */
  warmup = MAX (warmup, 1);
  for (guint i = 0; ok && i < warmup + iterations; i++)
    {
      g_autoptr(GBytes) back = NULL;
      gint64 start = now_ns (), sent, received, end;

      if (!mp_pipe_send_bytes (peer.mine, payload, NULL, error))
        {
          ok = FALSE;
          break;
        }
      sent = now_ns ();
      if (!(back = mp_pipe_recv_bytes (peer.mine, NULL, error)))
        {
          ok = FALSE;
          break;
        }
      received = now_ns ();
      if (!check_payload (payload, back, i == 0, error))
        {
          ok = FALSE;
          break;
        }
      g_clear_pointer (&back, g_bytes_unref);   /* the unmapping is part of it */
      end = now_ns ();
      if (i >= warmup)
        {
          gint64 marks[N_PHASES + 1] = { start, sent, received, end };

          add_sample (m, end - start);
          for (guint p = 0; p < N_PHASES; p++)
            {
              double ms = (marks[p + 1] - marks[p]) / 1e6;

              if (m->phases[p] == NULL)
                m->phases[p] = g_array_new (FALSE, FALSE, sizeof (double));
              g_array_append_val (m->phases[p], ms);
            }
        }
    }

  if (!ok)
    {
      g_clear_object (&peer.mine);
      if (peer.process != NULL)
        mp_process_join (peer.process, 5, NULL);
      g_clear_object (&peer.process);
      return FALSE;
    }
  return peer_stop (&peer, TRUE, error);
}

/* write() all of @size, as libmp's write_all: at most 1 GiB a call. */
static gboolean
write_all (int            fd,
           const guint8  *p,
           gsize          size)
{
  while (size > 0)
    {
      ssize_t r = write (fd, p, MIN (size, (gsize) 1 << 30));

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return FALSE;
      p += r;
      size -= r;
    }
  return TRUE;
}

/* What no sealed-memfd round trip can beat: the payload in fresh pages of
 * a new memfd, written, sealed, mapped read-only and checked; no process,
 * socket or GVariant in the way. */
static gboolean
measure_memfd_floor (Measure  *m,
                     guint64   size,
                     guint     iterations,
                     guint     warmup,
                     GError  **error)
{
  g_autoptr(GBytes) payload = make_payload (size);
  const guint8 *data = g_bytes_get_data (payload, NULL);

  m->size = size;
  /* At least one untimed memfd: the full check of the data. */
  warmup = MAX (warmup, 1);
  for (guint i = 0; i < warmup + iterations; i++)
    {
      g_autoptr(GBytes) mapped = NULL;
      gint64 start = now_ns ();
      gpointer addr;
      gboolean good;
      int fd;

      fd = memfd_create ("bench-floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (fd < 0 || !write_all (fd, data, size) || fcntl (fd, F_ADD_SEALS, MEMFD_SEALS) != 0 ||
          (addr = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "memfd_floor: memfd_create/write/seal/mmap: %s", g_strerror (errsv));
          if (fd >= 0)
            close (fd);
          return FALSE;
        }
      mapped = g_bytes_new_static (addr, size);
      good = check_payload (payload, mapped, i == 0, error);
      g_clear_pointer (&mapped, g_bytes_unref);
      munmap (addr, size);
      close (fd);
      if (!good)
        return FALSE;
      if (i >= warmup)
        add_sample (m, now_ns () - start);
    }
  return TRUE;
}

/* ---- output ------------------------------------------------------------ */

static void
print_json (Measure *measures,
            guint    n)
{
  g_autoptr(GString) out = g_string_new ("{\"program\": \"libmp\", \"pid\": ");

  g_string_append_printf (out, "%d, \"results\": {", (int) getpid ());
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->samples);

      g_string_append_printf (out, "%s\n  \"%s\": {\"kind\": \"%s\", \"start_method\": \"%s\", "
                                   "\"unit\": \"%s\", \"size\": %" G_GUINT64_FORMAT ", "
                                   "\"iterations\": %u, \"mean\": %.6f, \"median\": %.6f, "
                                   "\"min\": %.6f, \"max\": %.6f, \"samples\": [",
                              i ? "," : "", m->name,
                              m->baseline ? "baseline" : "libmp",
                              m->start_method ? m->start_method : "", m->unit, m->size,
                              m->samples->len, s.mean, s.median, s.min, s.max);
      for (guint j = 0; j < m->samples->len; j++)
        g_string_append_printf (out, "%s%.4f", j ? ", " : "", g_array_index (m->samples, double, j));
      g_string_append (out, "]");
      if (m->phases[0] != NULL)
        {
          g_string_append (out, ", \"phases_ms\": {");
          for (guint p = 0; p < N_PHASES; p++)
            {
              g_string_append_printf (out, "%s\"%s\": [", p ? ", " : "", phase_names[p]);
              for (guint j = 0; j < m->phases[p]->len; j++)
                g_string_append_printf (out, "%s%.4f", j ? ", " : "", g_array_index (m->phases[p], double, j));
              g_string_append (out, "]");
            }
          g_string_append (out, "}");
        }
      g_string_append (out, "}");
    }
  g_string_append (out, "\n}}\n");
  fputs (out->str, stdout);
}

static void
print_table (Measure *measures,
             guint    n)
{
  g_print ("%-11s %-11s %7s %11s %11s %11s %11s\n", "what", "method", "n", "mean", "median", "min", "max");
  for (guint i = 0; i < n; i++)
    {
      Measure *m = &measures[i];
      Summary s = summarize (m->samples);

      g_print ("%-11s %-11s %7u %8.3f %s %8.3f %s %8.3f %s %8.3f %s", m->name,
               m->start_method ? m->start_method : "-",
               m->samples->len, s.mean, m->unit, s.median, m->unit, s.min, m->unit, s.max, m->unit);
      if (m->size > 0 && s.mean > 0)
        g_print ("   %.2f GB/s (2 x %.0f MiB / mean)", 2.0 * m->size / (s.mean / 1e3) / 1e9,
                 m->size / 1048576.0);
      g_print ("\n");
      if (m->phases[0] != NULL)
        {
          g_print ("%-11s   median ms:", "");
          for (guint p = 0; p < N_PHASES; p++)
            g_print (" %s %.1f", phase_names[p], summarize (m->phases[p]).median);
          g_print ("\n");
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *what = NULL, *start_method = NULL;
  g_auto(GStrv) wanted = NULL;
  g_autoptr(GArray) measures = NULL;
  int iterations = -1, warmup = -1, bytes_iterations = -1, bytes_warmup = -1, block = 0;
  g_autoptr(GArray) pps = NULL;
  int bytes_index = -1, floor_index = -1;
  double size_mib = -1;
  gboolean quick = FALSE, json = FALSE;
  MpStartMethod method = MP_START_METHOD_DEFAULT;
  GOptionEntry entries[] = {
    { "what", 'm', 0, G_OPTION_ARG_STRING, &what,
      "What to measure, comma-separated: pingpong, raw, raw_poll, bytes, memfd_floor "
      "(default: pingpong,raw,bytes,memfd_floor)", "LIST" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations,
      "Timed ping-pong round trips (default: 20000)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "Untimed ping-pong round trips first (default: 1000)", "N" },
    { "block", 'b', 0, G_OPTION_ARG_INT, &block,
      "Ping-pongs (pingpong, raw, raw_poll) take turns in blocks of N round trips, "
      "all their children alive (default: 0, one after the other)", "N" },
    { "bytes-iterations", 0, 0, G_OPTION_ARG_INT, &bytes_iterations,
      "Timed bytes round trips, and memfd_floor memfds (default: 20)", "N" },
    { "bytes-warmup", 0, 0, G_OPTION_ARG_INT, &bytes_warmup,
      "Untimed bytes round trips (memfd_floor memfds) first, at least 1 (default: 2)", "N" },
    { "size-mib", 's', 0, G_OPTION_ARG_DOUBLE, &size_mib,
      "Size of a bytes message in MiB (default: 100)", "MIB" },
    { "start-method", 0, 0, G_OPTION_ARG_STRING, &start_method,
      "default, fork, forkserver or spawn (default: default)", "METHOD" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
      "A few iterations only: checks that everything runs, measures nothing", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "Print the results as JSON (with every sample)", NULL },
    { NULL }
  };

  mp_register_task ("echo", task_echo, NULL, NULL);
  mp_register_task ("echo-bytes", task_echo_bytes, NULL, NULL);
  /* A spawn child never returns from here: it becomes the worker. */
  mp_init (argc, argv);

  context = g_option_context_new ("- time pipe round trips between two processes");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (quick)
    {
      if (iterations < 0)
        iterations = 200;
      if (warmup < 0)
        warmup = 20;
      if (bytes_iterations < 0)
        bytes_iterations = 2;
      if (bytes_warmup < 0)
        bytes_warmup = 1;
      if (size_mib < 0)
        size_mib = 8;
    }
  if (iterations < 0)
    iterations = 20000;
  if (warmup < 0)
    warmup = 1000;
  if (bytes_iterations < 0)
    bytes_iterations = 20;
  if (bytes_warmup < 0)
    bytes_warmup = 2;
  if (size_mib <= 0)
    size_mib = 100;

  if (start_method == NULL || g_str_equal (start_method, "default"))
    method = MP_START_METHOD_DEFAULT;
  else if (g_str_equal (start_method, "fork"))
    method = MP_START_METHOD_FORK;
  else if (g_str_equal (start_method, "forkserver"))
    method = MP_START_METHOD_FORKSERVER;
  else if (g_str_equal (start_method, "spawn"))
    method = MP_START_METHOD_SPAWN;
  else
    {
      g_printerr ("Unknown start method “%s” (default, fork, forkserver, spawn)\n", start_method);
      return 2;
    }

  wanted = g_strsplit (what ? what : "pingpong,raw,bytes,memfd_floor", ",", -1);
  /* Measures are listed in the order asked for; the ping-pongs run first,
   * together (see --block), then bytes and memfd_floor in that order. The
   * array is not resized once the ping-pongs point into it. */
  measures = g_array_sized_new (FALSE, TRUE, sizeof (Measure), g_strv_length (wanted));
  pps = g_array_new (FALSE, TRUE, sizeof (PingPong));
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      const char *w = g_strstrip (wanted[i]);
      Measure m = { 0 };
      PingPong pp = { 0 };

      if (*w == '\0')
        continue;
      m.samples = g_array_new (FALSE, FALSE, sizeof (double));
      m.unit = "us";
      if (g_str_equal (w, "pingpong"))
        pp.kind = PP_LIBMP, m.name = "pingpong";
      else if (g_str_equal (w, "raw"))
        pp.kind = PP_RAW, m.name = "raw", m.baseline = TRUE;
      else if (g_str_equal (w, "raw_poll"))
        pp.kind = PP_RAW_POLL, m.name = "raw_poll", m.baseline = TRUE;
      else if (g_str_equal (w, "bytes") && bytes_index < 0)
        {
          m.name = "bytes";
          m.unit = "ms";
          bytes_index = measures->len;
        }
      else if (g_str_equal (w, "memfd_floor") && floor_index < 0)
        {
          m.name = "memfd_floor";
          m.unit = "ms";
          m.baseline = TRUE;
          floor_index = measures->len;
        }
      else
        {
          g_printerr ("Unknown or repeated measurement “%s” (pingpong, raw, raw_poll, bytes, "
                      "memfd_floor)\n", w);
          return 2;
        }
      g_array_append_val (measures, m);
      if (bytes_index != (int) measures->len - 1 && floor_index != (int) measures->len - 1)
        {
          pp.m = &g_array_index (measures, Measure, measures->len - 1);
          g_array_append_val (pps, pp);
        }
    }

  if (pps->len > 0 &&
      !measure_pingpongs ((PingPong *) pps->data, pps->len, method, iterations, warmup,
                          MAX (block, 0), &error))
    {
      g_printerr ("bench-pipe: ping-pong: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = &g_array_index (measures, Measure, i);
      guint64 size = (guint64) (size_mib * 1048576.0);

      if ((int) i == bytes_index &&
          !measure_bytes (m, method, size, bytes_iterations, bytes_warmup, &error))
        {
          g_printerr ("bench-pipe: bytes: %s\n", error->message);
          return 1;
        }
      if ((int) i == floor_index &&
          !measure_memfd_floor (m, size, bytes_iterations, bytes_warmup, &error))
        {
          g_printerr ("bench-pipe: memfd_floor: %s\n", error->message);
          return 1;
        }
    }

  if (json)
    print_json ((Measure *) measures->data, measures->len);
  else
    print_table ((Measure *) measures->data, measures->len);

  for (guint i = 0; i < measures->len; i++)
    {
      Measure *m = &g_array_index (measures, Measure, i);

      g_array_unref (m->samples);
      for (guint p = 0; p < N_PHASES; p++)
        g_clear_pointer (&m->phases[p], g_array_unref);
    }
  return 0;
}
