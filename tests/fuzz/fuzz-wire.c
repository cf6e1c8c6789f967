/* fuzz-wire.c: the frame decoder under libFuzzer
 *
 * The first byte chooses how many pipe descriptors ride along, so the
 * descriptor-count checks are exercised too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include <mp.h>
#include "mp-wire-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  int fds[4];
  guint n_fds = 0;
  MpMessage *message;
  GError *error = NULL;

  if (size > 0)
    {
      n_fds = data[0] % 3;
      data++;
      size--;
    }
  for (guint i = 0; i < n_fds; i++)
    fds[i] = dup (STDERR_FILENO);

  message = mp_wire_decode (data, size, fds, n_fds, &error);
  if (message != NULL)
    {
      /* Whatever decodes must be a normal-form value we can print. */
      g_autofree char *text = g_variant_print (message->body, TRUE);
      g_assert (message->kind > MP_WIRE_KIND_INVALID && message->kind < MP_WIRE_N_KINDS);
      mp_message_free (message);
    }
  else
    g_assert (error != NULL && error->domain == MP_ERROR);
  g_clear_error (&error);
  return 0;
}
