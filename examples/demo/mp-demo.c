/* mp-demo.c: SHA-256 of every regular file under a directory, spread over
 * worker processes, then the same with one worker, and the speed-up.
 *
 *   mp-demo [--workers N] [--output FILE] [--limit-mb N] [--no-warm-up] [DIRECTORY]
 *
 * The parent walks the tree, splits the file list into chunks of about
 * the same number of bytes and runs up to N MpProcess children at a time,
 * each running the registered task "hash-chunk" on one chunk. Everything
 * is driven from a GMainLoop: each child's "exited" signal starts the next
 * chunk and updates the progress report.
 *
 * A chunk travels as two file names, not as data: the parent writes the
 * chunk's paths (NUL-separated) to a file in a private temporary folder,
 * and the child writes its `digest  path` lines (sha256sum's format) to
 * another one, followed by a `#end` trailer with its counts. The parent
 * concatenates the outputs in the original order.
 *
 * Before the two timed passes, N workers run "read-chunk" over the same
 * chunks to bring the files into the page cache (when they fit in half
 * the available memory), so that both passes measure hashing rather than
 * whichever of them happened to read the disk first.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <mp.h>

#define READ_BUFFER_SIZE   (256 * 1024)
#define CHUNKS_PER_WORKER  32          /* many small chunks: a balanced tail */
#define FILE_COST_BYTES    4096        /* opening a file costs about this much reading */
#define DEFAULT_DIRECTORY  "/usr/share"

/* ---- the child's side: the task ------------------------------------------ */

/* A name as sha256sum writes it: a line with a backslash, newline or
 * carriage return in the name starts with a backslash, and those three
 * are escaped. */
static void
append_name (GString    *out,
             const char *name)
{
  for (const char *c = name; *c != '\0'; c++)
    switch (*c)
      {
      case '\\': g_string_append (out, "\\\\"); break;
      case '\n': g_string_append (out, "\\n"); break;
      case '\r': g_string_append (out, "\\r"); break;
      default: g_string_append_c (out, *c); break;
      }
}

static gboolean
name_needs_escape (const char *name)
{
  return strpbrk (name, "\\\n\r") != NULL;
}

/* Hashes one file with a fixed buffer (only reads it when @checksum is
 * %NULL). On failure returns FALSE with errno-style *error_code. */
static gboolean
hash_file (const char  *path,
           GChecksum   *checksum,
           guint8      *buffer,
           guint64     *bytes,
           int         *error_code)
{
  struct stat st;
  int fd;

  *bytes = 0;
  /* O_NONBLOCK: if the file was replaced by a FIFO since the walk, do
   * not wait for a writer. It changes nothing for a regular file. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      *error_code = errno;
      return FALSE;
    }
  if (fstat (fd, &st) != 0)
    {
      *error_code = errno;
      close (fd);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      *error_code = EINVAL;  /* no longer a regular file */
      close (fd);
      return FALSE;
    }
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  if (checksum != NULL)
    g_checksum_reset (checksum);
  for (;;)
    {
      ssize_t n = read (fd, buffer, READ_BUFFER_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *error_code = errno;
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      if (checksum != NULL)
        g_checksum_update (checksum, buffer, n);
      *bytes += n;
    }
  close (fd);
  return TRUE;
}

/* "hash-chunk" (s list_file, s out_file): hashes the NUL-separated paths
 * of list_file and writes sha256sum lines, `#skip ERRNO NAME` lines for
 * the files it could not read and a final `#end FILES BYTES SKIPPED`. */
static GVariant *
hash_chunk_task (GVariant      *args,
                 GCancellable  *cancellable,
                 gpointer       user_data,
                 GError       **error)
{
  const char *list_file, *out_file;
  g_autofree char *list = NULL;
  g_autofree guint8 *buffer = g_malloc (READ_BUFFER_SIZE);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GString) out = g_string_new (NULL);
  guint64 total_bytes = 0;
  guint n_files = 0, n_skipped = 0;
  gsize length;

  g_variant_get (args, "(&s&s)", &list_file, &out_file);
  if (!g_file_get_contents (list_file, &list, &length, error))
    return NULL;

  for (const char *path = list; path < list + length; path += strlen (path) + 1)
    {
      guint64 bytes;
      int error_code;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      if (!hash_file (path, checksum, buffer, &bytes, &error_code))
        {
          g_string_append_printf (out, "#skip %d ", error_code);
          append_name (out, path);
          g_string_append_c (out, '\n');
          n_skipped++;
          continue;
        }

      if (name_needs_escape (path))
        g_string_append_c (out, '\\');
      g_string_append (out, g_checksum_get_string (checksum));
      g_string_append (out, "  ");
      append_name (out, path);
      g_string_append_c (out, '\n');
      total_bytes += bytes;
      n_files++;
    }

  g_string_append_printf (out, "#end %u %" G_GUINT64_FORMAT " %u\n",
                          n_files, total_bytes, n_skipped);
  if (!g_file_set_contents_full (out_file, out->str, out->len,
                                 G_FILE_SET_CONTENTS_NONE, 0600, error))
    return NULL;
  return NULL;
}

/* "read-chunk" (s list_file): reads the files and nothing else, to bring
 * them into the page cache before the timed passes. */
static GVariant *
read_chunk_task (GVariant      *args,
                 GCancellable  *cancellable,
                 gpointer       user_data,
                 GError       **error)
{
  const char *list_file;
  g_autofree char *list = NULL;
  g_autofree guint8 *buffer = g_malloc (READ_BUFFER_SIZE);
  gsize length;

  g_variant_get (args, "(&s)", &list_file);
  if (!g_file_get_contents (list_file, &list, &length, error))
    return NULL;
  for (const char *path = list; path < list + length; path += strlen (path) + 1)
    {
      guint64 bytes;
      int error_code;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      hash_file (path, NULL, buffer, &bytes, &error_code);
    }
  return NULL;
}

/* ---- the parent: the file list -------------------------------------------- */

typedef struct
{
  GPtrArray *paths;           /* char *, in walk order */
  GArray    *sizes;           /* guint64, as the walk saw them */
  guint64    total_bytes;
  guint64    limit_bytes;     /* G_MAXUINT64: no cap */
  gboolean   limited;         /* the cap stopped the walk */
  guint      n_walk_errors;   /* folders or entries the walk could not read */
} FileList;

static void
file_list_clear (FileList *list)
{
  g_clear_pointer (&list->paths, g_ptr_array_unref);
  g_clear_pointer (&list->sizes, g_array_unref);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Adds a regular file; FALSE once the cap is reached. */
static gboolean
file_list_add (FileList   *list,
               const char *path,
               guint64     size)
{
  if (list->total_bytes + size > list->limit_bytes)
    {
      list->limited = TRUE;
      return FALSE;
    }
  g_ptr_array_add (list->paths, g_strdup (path));
  g_array_append_val (list->sizes, size);
  list->total_bytes += size;
  return TRUE;
}

/* Depth first, names sorted, symbolic links not followed: the order of
 * the final list. Returns FALSE once the cap is reached. */
static gboolean
walk (FileList   *list,
      const char *dir_path)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  DIR *dir;
  int dir_fd;
  gboolean go_on = TRUE;

  dir = opendir (dir_path);
  if (dir == NULL)
    {
      list->n_walk_errors++;
      return TRUE;
    }
  while ((entry = readdir (dir)) != NULL)
    if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (entry->d_name));
  g_ptr_array_sort (names, compare_names);
  dir_fd = dirfd (dir);

  for (guint i = 0; i < names->len && go_on; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      struct stat st;

      if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        list->n_walk_errors++;
      else if (S_ISDIR (st.st_mode))
        go_on = walk (list, path);
      else if (S_ISREG (st.st_mode))
        go_on = file_list_add (list, path, st.st_size);
    }
  closedir (dir);
  return go_on;
}

/* ---- the parent: chunks and runs ------------------------------------------- */

typedef struct
{
  guint    first;        /* in the file list */
  guint    n_files;
  guint64  bytes;        /* as the walk saw them */
  char    *list_path;    /* the chunk's paths, NUL-separated */
} Chunk;

/* What one run (N workers, or 1) learned. */
typedef struct
{
  guint    workers;
  double   seconds;
  guint    n_chunks_failed;
  guint    n_files;      /* hashed */
  guint64  bytes;        /* hashed */
  guint    n_skipped;    /* unreadable */
  GPtrArray *skipped;    /* char *: a few of them, for the report */
  char     digest_of_sums[65];  /* of the concatenated lines, to compare runs */
} RunResult;

typedef struct
{
  /* set up by the caller */
  guint        workers;
  Chunk       *chunks;
  guint        n_chunks;
  guint        n_files;
  guint64      total_bytes;
  const char  *tmp_dir;
  guint        run_id;
  const char  *task;          /* "hash-chunk" or "read-chunk" */
  GPtrArray   *file_paths;    /* the whole list, for messages */
  char        *label;

  /* the schedule */
  guint       *order;         /* chunk indexes, largest first */
  guint        next;          /* in order */
  guint        running;
  gboolean     pumping;
  gboolean    *failed;        /* per chunk */
  GPtrArray   *live;          /* MpProcess, started, not yet exited */
  GMainLoop   *loop;

  /* progress */
  guint64      bytes_done;
  guint        files_done;
  guint        chunks_done;
  guint        chunks_failed;
  gint64       start_us;
  gint64       end_us;
  gboolean     is_tty;
  guint        next_decile;   /* non-TTY: print at 10%, 20%, ... */
  guint        timer_id;
} Run;

typedef struct
{
  Run   *run;
  guint  chunk;
} Launch;

static gboolean interrupted;
static Run *current_run;

static char *
out_path_for (Run   *run,
              guint  chunk)
{
  g_autofree char *name = g_strdup_printf ("out-%u-%05u", run->run_id, chunk);
  return g_build_filename (run->tmp_dir, name, NULL);
}

static const char *
workers_label (guint workers)
{
  static char label[32];
  g_snprintf (label, sizeof label, "%u worker%s", workers, workers == 1 ? "" : "s");
  return label;
}

static char *
format_duration (double seconds)
{
  guint s = (guint) (seconds + 0.5);
  if (s >= 3600)
    return g_strdup_printf ("%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  return g_strdup_printf ("%u:%02u", s / 60, s % 60);
}

static double
rate_mb_s (guint64 bytes,
           double  seconds)
{
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

static guint
terminal_width (void)
{
  struct winsize ws;
  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

static void
clear_progress_line (Run *run)
{
  if (run->is_tty)
    {
      fputs ("\r\033[K", stdout);
      fflush (stdout);
    }
}

static void
draw_progress (Run      *run,
               gboolean  final)
{
  gint64 now = final ? run->end_us : g_get_monotonic_time ();
  double elapsed = (now - run->start_us) / 1e6;
  double fraction = run->total_bytes > 0 ? (double) run->bytes_done / run->total_bytes
                                         : (double) run->chunks_done / MAX (run->n_chunks, 1);
  double rate = rate_mb_s (run->bytes_done, elapsed);
  g_autofree char *done = g_format_size (run->bytes_done);
  g_autofree char *total = g_format_size (run->total_bytes);
  g_autofree char *clock = NULL;
  g_autoptr(GString) line = g_string_new (NULL);

  if (final)
    clock = g_strdup_printf ("in %.2f s", elapsed);
  else if (run->bytes_done > 0 && rate > 0)
    {
      g_autofree char *eta = format_duration ((run->total_bytes - run->bytes_done) / 1e6 / rate);
      clock = g_strdup_printf ("ETA %s", eta);
    }
  else
    clock = g_strdup ("ETA --:--");

  g_string_printf (line, "%s %5.1f%% %s/%s %u/%u files %.1f MB/s %s",
                   run->label, 100 * fraction, done, total,
                   run->files_done, run->n_files, rate, clock);
  if (run->chunks_failed > 0 && !interrupted)
    g_string_append_printf (line, "  %u chunk%s failed", run->chunks_failed,
                            run->chunks_failed == 1 ? "" : "s");

  if (run->is_tty)
    {
      guint width = terminal_width ();
      /* Never wrap: \r only returns to the start of the last row. */
      if (g_utf8_strlen (line->str, -1) >= width)
        g_string_truncate (line, g_utf8_offset_to_pointer (line->str, width - 1) - line->str);
      printf ("\r\033[K%s%s", line->str, final ? "\n" : "");
      fflush (stdout);
    }
  else
    {
      /* One line per 10%, and the last one. */
      guint decile = (guint) (fraction * 10 + 1e-9);
      /* 100% is the final line's, with the run's time. */
      if (final || (decile >= run->next_decile && decile < 10))
        {
          printf ("%s\n", line->str);
          fflush (stdout);
          run->next_decile = decile + 1;
        }
    }
}

static gboolean
progress_timer_cb (gpointer data)
{
  draw_progress (data, FALSE);
  return G_SOURCE_CONTINUE;
}

static void pump (Run *run);

static void
chunk_finished (Run      *run,
                guint     chunk,
                gboolean  ok)
{
  run->running--;
  run->chunks_done++;
  run->bytes_done += run->chunks[chunk].bytes;
  run->files_done += run->chunks[chunk].n_files;
  if (!ok)
    {
      run->failed[chunk] = TRUE;
      run->chunks_failed++;
    }
}

/* The child ended: count its chunk, start the next one. Emitted from the
 * main loop, or synchronously when mp_process_start() collects an exit on
 * its way; pump() is therefore reentrancy-safe. */
static void
on_exited (MpProcess *process,
           int        exitcode,
           gpointer   user_data)
{
  Launch *launch = user_data;
  Run *run = launch->run;
  guint chunk = launch->chunk;

  if (exitcode != 0 && !interrupted)
    {
      clear_progress_line (run);
      g_printerr ("mp-demo: chunk %u (%u files from %s) failed: %s exited with %d; not retried\n",
                  chunk, run->chunks[chunk].n_files,
                  (const char *) run->file_paths->pdata[run->chunks[chunk].first],
                  mp_process_get_name (process), exitcode);
    }
  chunk_finished (run, chunk, exitcode == 0);

  /* The emission holds its own reference: dropping ours is safe here. */
  g_ptr_array_remove_fast (run->live, process);

  if (run->is_tty)
    ; /* the timer redraws; an exit alone would redraw hundreds of times a second */
  else
    draw_progress (run, FALSE);
  pump (run);
}

static void
start_chunk (Run   *run,
             guint  chunk)
{
  g_autoptr(MpProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out_path = out_path_for (run, chunk);
  g_autofree char *name = g_strdup_printf ("%s-%u", run->task, chunk);
  Launch *launch = g_new0 (Launch, 1);

  launch->run = run;
  launch->chunk = chunk;
  if (g_str_equal (run->task, "hash-chunk"))
    process = mp_process_new (run->task,
                              g_variant_new ("(ss)", run->chunks[chunk].list_path, out_path));
  else
    process = mp_process_new (run->task, g_variant_new ("(s)", run->chunks[chunk].list_path));
  mp_process_set_name (process, name);
  /* Daemonic: if we stop early they are terminated, not waited for. */
  mp_process_set_daemon (process, TRUE);
  g_signal_connect_data (process, "exited", G_CALLBACK (on_exited), launch,
                         (GClosureNotify) (void (*) (void)) g_free, 0);

  run->running++;
  g_ptr_array_add (run->live, g_object_ref (process));
  if (!mp_process_start (process, &error))
    {
      clear_progress_line (run);
      g_printerr ("mp-demo: could not start chunk %u: %s\n", chunk, error->message);
      /* A child that exists despite the error is killed and its exit
       * arrives as usual; otherwise nothing will come. */
      if (mp_process_get_pid (process) <= 0)
        {
          g_signal_handlers_disconnect_by_func (process, on_exited, launch);
          g_ptr_array_remove_fast (run->live, process);
          chunk_finished (run, chunk, FALSE);
        }
    }
}

static void
pump (Run *run)
{
  if (run->pumping)
    return;  /* the outer call's loop sees the freed slot */
  run->pumping = TRUE;
  while (!interrupted && run->running < run->workers && run->next < run->n_chunks)
    start_chunk (run, run->order[run->next++]);
  run->pumping = FALSE;

  if (run->running == 0 && (run->next == run->n_chunks || interrupted))
    g_main_loop_quit (run->loop);
}

/* SIGINT, SIGTERM: stop the workers (terminate, then kill on a second
 * signal), so that main() can remove the temporary folder. Installed for
 * the whole life of that folder; between runs it only sets the flag. */
static gboolean
on_interrupt (gpointer data)
{
  Run *run = current_run;
  gboolean first = !interrupted;

  interrupted = TRUE;
  if (run == NULL)
    return G_SOURCE_CONTINUE;
  if (first)
    {
      clear_progress_line (run);
      g_printerr ("mp-demo: interrupted; stopping the workers\n");
    }
  for (guint i = 0; i < run->live->len; i++)
    {
      if (first)
        mp_process_terminate (run->live->pdata[i], NULL);
      else
        mp_process_kill (run->live->pdata[i], NULL);
    }
  if (run->running == 0)
    g_main_loop_quit (run->loop);
  return G_SOURCE_CONTINUE;
}

static int
compare_chunk_bytes_desc (gconstpointer a,
                          gconstpointer b,
                          gpointer      user_data)
{
  const Chunk *chunks = user_data;
  guint64 x = chunks[*(const guint *) a].bytes, y = chunks[*(const guint *) b].bytes;
  if (x != y)
    return x > y ? -1 : 1;
  return (int) *(const guint *) a - (int) *(const guint *) b;
}

/* Reads the chunks' outputs in order: the lines go to @sums (if given)
 * and into the run's digest; the counts come from the trailers. */
static gboolean
collect_outputs (Run        *run,
                 FILE       *sums,
                 RunResult  *result,
                 GError    **error)
{
  g_autoptr(GChecksum) all = g_checksum_new (G_CHECKSUM_SHA256);

  for (guint c = 0; c < run->n_chunks; c++)
    {
      g_autofree char *out_path = out_path_for (run, c);
      g_autofree char *contents = NULL;
      gboolean has_end = FALSE;
      gsize length;
      char *line, *next;

      if (run->failed[c])
        continue;
      if (!g_file_get_contents (out_path, &contents, &length, error))
        return FALSE;

      for (line = contents; line < contents + length; line = next)
        {
          char *eol = memchr (line, '\n', contents + length - line);
          gsize line_length;

          if (eol == NULL)
            break;
          next = eol + 1;
          line_length = next - line;

          if (g_str_has_prefix (line, "#end "))
            {
              guint files, skipped;
              guint64 bytes;

              if (sscanf (line, "#end %u %" G_GUINT64_FORMAT " %u", &files, &bytes, &skipped) == 3)
                {
                  result->n_files += files;
                  result->bytes += bytes;
                  result->n_skipped += skipped;
                  has_end = TRUE;
                }
            }
          else if (g_str_has_prefix (line, "#skip "))
            {
              int code = 0;
              char *name = strchr (line + 6, ' ');

              *eol = '\0';
              code = atoi (line + 6);
              if (name != NULL && result->skipped->len < 5)
                g_ptr_array_add (result->skipped,
                                 g_strdup_printf ("%s: %s", name + 1, g_strerror (code)));
            }
          else
            {
              g_checksum_update (all, (const guchar *) line, line_length);
              if (sums != NULL && fwrite (line, 1, line_length, sums) != line_length)
                {
                  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                               "Could not write the checksums: %s", g_strerror (errno));
                  return FALSE;
                }
            }
        }

      if (!has_end)
        {
          /* Exit code 0 but no trailer: treat the chunk as failed. */
          g_printerr ("mp-demo: chunk %u: incomplete output %s\n", c, out_path);
          result->n_chunks_failed++;
        }
      g_unlink (out_path);
    }
  g_strlcpy (result->digest_of_sums, g_checksum_get_string (all), sizeof result->digest_of_sums);
  return TRUE;
}

/* One run over all the chunks with up to @workers children at a time. */
static gboolean
run_chunks (FileList    *list,
            Chunk       *chunks,
            guint        n_chunks,
            guint        workers,
            const char  *task,
            const char  *tmp_dir,
            guint        run_id,
            const char  *output,
            RunResult   *result,
            GError     **error)
{
  Run run = { 0 };
  gboolean ok = TRUE;

  run.workers = workers;
  run.chunks = chunks;
  run.n_chunks = n_chunks;
  run.n_files = list->paths->len;
  run.total_bytes = list->total_bytes;
  run.file_paths = list->paths;
  run.tmp_dir = tmp_dir;
  run.run_id = run_id;
  run.task = task;
  run.label = g_str_equal (task, "hash-chunk") ? g_strdup (workers_label (workers))
                                               : g_strdup ("warm-up");
  run.failed = g_new0 (gboolean, n_chunks);
  run.live = g_ptr_array_new_with_free_func (g_object_unref);
  run.loop = g_main_loop_new (NULL, FALSE);
  run.is_tty = isatty (STDOUT_FILENO);
  run.next_decile = 1;

  /* Largest chunks first, so that the last ones to finish are small. */
  run.order = g_new (guint, n_chunks);
  for (guint i = 0; i < n_chunks; i++)
    run.order[i] = i;
  g_qsort_with_data (run.order, n_chunks, sizeof (guint), compare_chunk_bytes_desc, chunks);

  /* A signal that came while no loop ran is dispatched now. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  current_run = &run;
  if (run.is_tty)
    run.timer_id = g_timeout_add (200, progress_timer_cb, &run);

  run.start_us = g_get_monotonic_time ();
  draw_progress (&run, FALSE);
  pump (&run);
  if (run.running > 0 || (run.next < run.n_chunks && !interrupted))
    g_main_loop_run (run.loop);
  run.end_us = g_get_monotonic_time ();
  current_run = NULL;

  g_clear_handle_id (&run.timer_id, g_source_remove);

  if (interrupted)
    {
      clear_progress_line (&run);
      ok = FALSE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Interrupted");
    }
  else
    {
      FILE *sums = NULL;

      draw_progress (&run, TRUE);
      result->workers = workers;
      result->seconds = (run.end_us - run.start_us) / 1e6;
      result->n_chunks_failed = run.chunks_failed;
      if (!g_str_equal (task, "hash-chunk"))
        ;  /* a warm-up has no outputs */
      else if (output != NULL)
        {
          sums = fopen (output, "we");
          if (sums == NULL)
            {
              int errsv = errno;
              g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                           "Could not open %s: %s", output, g_strerror (errsv));
              ok = FALSE;
            }
        }
      if (ok && g_str_equal (task, "hash-chunk"))
        ok = collect_outputs (&run, sums, result, error);
      if (sums != NULL && fclose (sums) != 0 && ok)
        {
          int errsv = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                       "Could not write %s: %s", output, g_strerror (errsv));
          ok = FALSE;
        }
    }

  g_main_loop_unref (run.loop);
  g_ptr_array_unref (run.live);
  g_free (run.label);
  g_free (run.order);
  g_free (run.failed);
  return ok;
}

/* Splits the list into contiguous chunks of about the same cost, so that
 * concatenating the outputs in chunk order gives the walk's order. */
static Chunk *
make_chunks (FileList *list,
             guint     wanted,
             guint    *n_chunks_out)
{
  guint n_files = list->paths->len;
  guint64 total_cost = list->total_bytes + (guint64) n_files * FILE_COST_BYTES;
  GArray *chunks = g_array_new (FALSE, TRUE, sizeof (Chunk));
  guint first = 0;
  guint64 cost = 0, bytes = 0;

  wanted = CLAMP (wanted, 1, MAX (n_files, 1));
  for (guint i = 0; i < n_files; i++)
    {
      guint64 size = g_array_index (list->sizes, guint64, i);

      cost += size + FILE_COST_BYTES;
      bytes += size;
      /* Close the chunk when the running cost passes the next boundary. */
      if (i + 1 == n_files ||
          cost >= total_cost * (chunks->len + 1) / wanted)
        {
          Chunk chunk = { first, i + 1 - first, bytes, NULL };
          g_array_append_val (chunks, chunk);
          first = i + 1;
          bytes = 0;
        }
    }
  *n_chunks_out = chunks->len;
  return (Chunk *) g_array_free (chunks, FALSE);
}

static gboolean
write_chunk_lists (FileList    *list,
                   Chunk       *chunks,
                   guint        n_chunks,
                   const char  *tmp_dir,
                   GError     **error)
{
  for (guint c = 0; c < n_chunks; c++)
    {
      g_autoptr(GString) data = g_string_new (NULL);
      g_autofree char *name = g_strdup_printf ("list-%05u", c);

      for (guint i = chunks[c].first; i < chunks[c].first + chunks[c].n_files; i++)
        g_string_append_len (data, list->paths->pdata[i], strlen (list->paths->pdata[i]) + 1);
      chunks[c].list_path = g_build_filename (tmp_dir, name, NULL);
      if (!g_file_set_contents_full (chunks[c].list_path, data->str, data->len,
                                     G_FILE_SET_CONTENTS_NONE, 0600, error))
        return FALSE;
    }
  return TRUE;
}

/* Removes the temporary folder and whatever is left in it. */
static void
remove_tmp_dir (const char *tmp_dir)
{
  g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (tmp_dir, name, NULL);
        g_unlink (path);
      }
  if (g_rmdir (tmp_dir) != 0)
    g_printerr ("mp-demo: could not remove %s: %s\n", tmp_dir, g_strerror (errno));
}

/* MemAvailable from /proc/meminfo, in bytes; 0 if unknown. */
static guint64
mem_available (void)
{
  g_autofree char *meminfo = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL))
    return 0;
  line = strstr (meminfo, "MemAvailable:");
  if (line == NULL)
    return 0;
  return g_ascii_strtoull (line + strlen ("MemAvailable:"), NULL, 10) * 1024;
}

static const char *
start_method_name (MpStartMethod method)
{
  switch (method)
    {
    case MP_START_METHOD_FORK: return "fork";
    case MP_START_METHOD_SPAWN: return "spawn";
    case MP_START_METHOD_FORKSERVER: return "forkserver";
    case MP_START_METHOD_DEFAULT:
    default: return "default";
    }
}

static void
print_run_line (const RunResult *r,
                guint            n_chunks)
{
  g_print ("  %-12s %8.2f s  %8.1f MB/s   (%u chunks, %u failed)\n",
           workers_label (r->workers), r->seconds, rate_mb_s (r->bytes, r->seconds),
           n_chunks, r->n_chunks_failed);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp_dir = NULL;
  g_auto(GStrv) rest = NULL;
  FileList list = { 0 };
  Chunk *chunks = NULL;
  guint n_chunks = 0;
  RunResult many = { 0 }, one = { 0 };
  const char *root;
  int workers = 0;
  gint64 limit_mb = -1;
  char *output = NULL;
  gint64 walk_start;
  double walk_seconds;
  g_autofree char *total_size = NULL;
  g_autofree char *walk_errors = NULL;
  int status = 0;
  guint sigint_id = 0, sigterm_id = 0;
  gboolean warm_up = TRUE;
  RunResult warm = { 0 };
  guint64 available = 0;
  GOptionEntry entries[] = {
    { "workers", 'w', 0, G_OPTION_ARG_INT, &workers, "Worker processes (default: the CPU count)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write a SHA256SUMS-style list to FILE", "FILE" },
    { "limit-mb", 0, 0, G_OPTION_ARG_INT64, &limit_mb, "Hash at most N MB (10^6 bytes) of files", "N" },
    { "no-warm-up", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &warm_up,
      "Do not read the files into the page cache before the timed passes", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "[DIRECTORY]" },
    G_OPTION_ENTRY_NULL
  };

  /* Tasks first, then mp_init: a worker is this program up to mp_init(). */
  mp_register_task ("hash-chunk", hash_chunk_task, NULL, NULL);
  mp_register_task ("read-chunk", read_chunk_task, NULL, NULL);
  mp_init (argc, argv);

  setlocale (LC_ALL, "");
  context = g_option_context_new ("— SHA-256 of every regular file, over worker processes");
  g_option_context_set_summary (context,
    "Hashes every regular file under DIRECTORY (default " DEFAULT_DIRECTORY ") with N worker\n"
    "processes, then with one, and prints the speed-up.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mp-demo: %s\n", error->message);
      return 2;
    }
  if (rest != NULL && g_strv_length (rest) > 1)
    {
      g_printerr ("mp-demo: one directory at most\n");
      return 2;
    }
  root = rest != NULL && rest[0] != NULL ? rest[0] : DEFAULT_DIRECTORY;
  if (workers == 0)
    workers = mp_cpu_count ();
  if (workers < 1)
    {
      g_printerr ("mp-demo: --workers must be at least 1\n");
      return 2;
    }
  if (limit_mb < -1)
    {
      g_printerr ("mp-demo: --limit-mb must not be negative\n");
      return 2;
    }

  /* The file list. */
  list.paths = g_ptr_array_new_with_free_func (g_free);
  list.sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  list.limit_bytes = limit_mb >= 0 ? (guint64) limit_mb * 1000000 : G_MAXUINT64;
  walk_start = g_get_monotonic_time ();
  {
    struct stat st;

    if (lstat (root, &st) != 0)
      {
        g_printerr ("mp-demo: %s: %s\n", root, g_strerror (errno));
        return 1;
      }
    if (S_ISREG (st.st_mode))
      file_list_add (&list, root, st.st_size);
    else if (S_ISDIR (st.st_mode))
      walk (&list, root);
    else
      {
        g_printerr ("mp-demo: %s: not a directory or regular file\n", root);
        return 1;
      }
  }
  walk_seconds = (g_get_monotonic_time () - walk_start) / 1e6;
  total_size = g_format_size (list.total_bytes);

  g_print ("mp-demo: SHA-256 of %u files (%s) under %s%s\n",
           list.paths->len, total_size, root,
           list.limited ? ", capped by --limit-mb" : "");
  if (list.n_walk_errors > 0)
    walk_errors = g_strdup_printf (" (%u unreadable entr%s skipped)", list.n_walk_errors,
                                   list.n_walk_errors == 1 ? "y" : "ies");
  g_print ("  walk %.2f s%s; %d worker%s, %u CPUs, start method %s\n",
           walk_seconds, walk_errors ? walk_errors : "",
           workers, workers == 1 ? "" : "s", mp_cpu_count (),
           start_method_name (mp_get_start_method ()));
  if (list.paths->len == 0)
    {
      g_print ("Nothing to hash.\n");
      if (output != NULL && !g_file_set_contents (output, "", 0, &error))
        {
          g_printerr ("mp-demo: %s\n", error->message);
          status = 1;
        }
      file_list_clear (&list);
      g_free (output);
      return status;
    }

  /* Chunks, and their path lists in a private folder. */
  tmp_dir = g_dir_make_tmp ("mp-demo-XXXXXX", &error);
  if (tmp_dir == NULL)
    {
      g_printerr ("mp-demo: %s\n", error->message);
      return 1;
    }
  sigint_id = g_unix_signal_add (SIGINT, on_interrupt, NULL);
  sigterm_id = g_unix_signal_add (SIGTERM, on_interrupt, NULL);
  chunks = make_chunks (&list, (guint) workers * CHUNKS_PER_WORKER, &n_chunks);
  if (!write_chunk_lists (&list, chunks, n_chunks, tmp_dir, &error))
    {
      g_printerr ("mp-demo: %s\n", error->message);
      status = 1;
      goto out;
    }

  /* Both timed passes should find the files where the other found them:
   * read them into the page cache first, if they fit with room to spare.
   * Otherwise the first pass would pay for the disk and the second not. */
  available = mem_available ();
  if (warm_up && list.total_bytes > available / 2)
    {
      g_autofree char *avail = g_format_size (available);
      g_print ("  no warm-up: %s is more than half the available memory (%s)\n", total_size, avail);
      warm_up = FALSE;
    }
  if (warm_up &&
      !run_chunks (&list, chunks, n_chunks, workers,
                   "read-chunk", tmp_dir, 0, NULL, &warm, &error))
    {
      g_printerr ("mp-demo: %s\n", error->message);
      status = interrupted ? 130 : 1;
      goto out;
    }

  /* N workers, then one. */
  many.skipped = g_ptr_array_new_with_free_func (g_free);
  one.skipped = g_ptr_array_new_with_free_func (g_free);
  if (!run_chunks (&list, chunks, n_chunks, workers,
                   "hash-chunk", tmp_dir, 1, output, &many, &error) ||
      !run_chunks (&list, chunks, n_chunks, 1,
                   "hash-chunk", tmp_dir, 2, NULL, &one, &error))
    {
      g_printerr ("mp-demo: %s\n", error->message);
      status = interrupted ? 130 : 1;
      goto out;
    }

  {
    g_autofree char *hashed = g_format_size_full (many.bytes, G_FORMAT_SIZE_LONG_FORMAT);
    guint n_failed = many.n_chunks_failed + one.n_chunks_failed;
    gboolean agree = strcmp (many.digest_of_sums, one.digest_of_sums) == 0;

    g_print ("\nSummary: %s\n", root);
    g_print ("  files        %u hashed, %u unreadable", many.n_files, many.n_skipped);
    if (list.n_walk_errors > 0)
      g_print (" (and %u entr%s the walk could not read)", list.n_walk_errors,
               list.n_walk_errors == 1 ? "y" : "ies");
    g_print ("\n");
    for (guint i = 0; i < many.skipped->len; i++)
      g_print ("               skipped %s\n", (char *) many.skipped->pdata[i]);
    if (many.n_skipped > many.skipped->len)
      g_print ("               ...\n");
    g_print ("  bytes        %s\n", hashed);
    if (warm_up)
      g_print ("  warm-up      %8.2f s  (%d workers read the files into the page cache)\n",
               warm.seconds, workers);
    else
      g_print ("  note         no warm-up: the %d-worker pass ran first, so a cold page\n"
               "               cache, if any, slowed it and not the 1-worker pass\n", workers);
    print_run_line (&many, n_chunks);
    print_run_line (&one, n_chunks);
    /* Rates, not times: they stay comparable if a chunk failed. */
    g_print ("  speed-up     %.2fx with %d workers\n",
             rate_mb_s (one.bytes, one.seconds) > 0
               ? rate_mb_s (many.bytes, many.seconds) / rate_mb_s (one.bytes, one.seconds) : 0.0,
             workers);
    if (n_failed > 0)
      g_print ("  results      INCOMPLETE: %u chunk%s failed (see above); their files are missing\n",
               n_failed, n_failed == 1 ? "" : "s");
    else
      g_print ("  results      %s\n",
               agree ? "identical in both runs" : "DIFFER between the runs");
    if (output != NULL)
      g_print ("  output       %s\n", output);
    if (n_failed > 0 || !agree)
      status = 1;
  }

out:
  for (guint c = 0; c < n_chunks; c++)
    g_free (chunks[c].list_path);
  g_free (chunks);
  if (tmp_dir != NULL)
    remove_tmp_dir (tmp_dir);
  g_clear_handle_id (&sigint_id, g_source_remove);
  g_clear_handle_id (&sigterm_id, g_source_remove);
  g_clear_pointer (&many.skipped, g_ptr_array_unref);
  g_clear_pointer (&one.skipped, g_ptr_array_unref);
  file_list_clear (&list);
  g_free (output);
  return status;
}
