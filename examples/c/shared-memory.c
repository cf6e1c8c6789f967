/* shared-memory.c: Python's multiprocessing.shared_memory.SharedMemory in
 * C: the main process creates a block of shared memory, a child writes a
 * greeting into it (with its pid, which only the child knows), and the
 * main process, once the child is joined, prints what it finds there.
 *
 * The block here is anonymous (mp_shared_memory_new (NULL, ...)): it
 * reaches the child by reference in the task's arguments, as a lock or a
 * queue does. A named block could be opened by name instead
 * (mp_shared_memory_open()), as the Python example does.
 *
 *   MP_START_METHOD=fork|spawn|forkserver ./shared-memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "example-sync-helpers.h"

#define SIZE 64

static GVariant *
writer (GVariant      *args,
        GCancellable  *cancellable,
        gpointer       user_data,
        GError       **error)
{
  g_autoptr(MpSharedMemory) shm = shareable_arg (args, 0, MP_TYPE_SHARED_MEMORY, error);
  g_autofree char *text = g_strdup_printf ("Hello from process %d", (int) getpid ());
  g_autoptr(GBytes) data = g_bytes_new (text, strlen (text));

  if (shm == NULL || !mp_shared_memory_write (shm, 0, data, error))   /* shm.buf[:n] = text */
    return NULL;
  printf ("Child wrote %" G_GSIZE_FORMAT " bytes: %s\n", g_bytes_get_size (data), text);
  mp_shared_memory_close (shm);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(MpSharedMemory) shm = NULL;
  g_autoptr(MpProcess) p = NULL;
  g_autoptr(GBytes) block = NULL;
  g_autoptr(GError) error = NULL;
  const char *data;
  gsize size;

  mp_register_task ("writer", writer, NULL, NULL);   /* tasks first, then mp_init() */
  mp_init (argc, argv);

  printf ("Main process: %d\n", (int) getpid ());
  if (!(shm = mp_shared_memory_new (NULL, SIZE, &error)))   /* zero-filled */
    return print_error (argv[0], error);
  printf ("Created %" G_GSIZE_FORMAT " bytes of shared memory.\n", mp_shared_memory_get_size (shm));
  fflush (stdout);

  if (!(p = start_process ("writer", g_variant_new ("(@*)", shareable_ref (shm)), &error))
      || !join_exited_ok (p, &error))
    return print_error (argv[0], error);
  printf ("Child process was %d.\n", mp_process_get_pid (p));

  /* The whole block, without a copy: the text, then the zeros after it. */
  if (!(block = mp_shared_memory_get_bytes (shm, &error)))
    return print_error (argv[0], error);
  data = g_bytes_get_data (block, &size);
  printf ("Main process read: %.*s\n", (int) strnlen (data, size), data);

  mp_shared_memory_close (shm);
  mp_shared_memory_unlink (shm, NULL);   /* for a named block; nothing for this one */
  return 0;
}
