/* mp-worker.c: what a spawn or forkserver child does
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <poll.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "mp-error.h"
#include "mp-process-private.h"
#include "mp-runtime-private.h"
#include "mp-wire-private.h"
#include "mp-worker-private.h"

void
mp_worker_main (int       fd,
                pid_t     os_parent,
                int       libmp_parent,
                gboolean  lifeline)
{
  g_autoptr(MpChannel) channel = NULL;
  g_autoptr(MpMessage) message = NULL;
  g_autoptr(MpProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  int parent_pid = libmp_parent;
  int code;

  mp_child_setup_parent_death (os_parent);
  /* A forkserver worker needs no lifeline: its server lives exactly as
   * long as the parent process. */
  if (lifeline)
    mp_child_start_lifeline (fd);

  channel = mp_channel_new (fd);
  message = mp_channel_receive (channel, -1, NULL, &error);
  if (message != NULL && message->kind != MP_WIRE_KIND_RUN)
    g_set_error (&error, MP_ERROR, MP_ERROR_PROTOCOL,
                 _("Expected a run message, got “%s”"),
                 mp_wire_kind_to_string (message->kind));
  if (error == NULL)
    process = mp_process_new_from_run_message (message, &parent_pid, &error);
  if (process == NULL)
    {
      /* Tell the parent why, so that mp_process_check_error() can. */
      g_autoptr(MpMessage) report =
        mp_message_new (MP_WIRE_KIND_ERROR,
                        g_variant_new ("(sis)", g_quark_to_string (error->domain),
                                       error->code, error->message));
      mp_channel_send (channel, report, NULL, NULL);
      g_printerr (_("libmp worker %d: %s\n"), (int) getpid (), error->message);
      mp_flush_stdio ();
      _exit (1);
    }

  mp_process_set_parent_channel (process, channel);
  mp_runtime_enter_child (parent_pid, process);
  code = mp_process_run_in_child (process);
  mp_runtime_flush ();
  _exit (code);
}
