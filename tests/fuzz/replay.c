/* replay.c: runs the fuzz target over a corpus folder without libFuzzer,
 * so every build checks the decoder on the saved inputs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
main (int argc, char *argv[])
{
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint n = 0;

  if (argc < 2 || (dir = g_dir_open (argv[1], 0, NULL)) == NULL)
    return 1;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (argv[1], name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      if (!g_file_get_contents (path, &contents, &len, NULL))
        return 1;
      LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
      n++;
    }
  g_print ("1..1\nok 1 - %u corpus inputs decoded without a crash\n", n);
  return n > 0 ? 0 : 1;
}
