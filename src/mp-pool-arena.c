/* mp-pool-arena.c: memory a pool shares with its workers, for maps
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include "mp-pool-arena-private.h"

#define REGION_ALIGN 64

/* A segment outlives the arena while a region in it lives (a map's
 * result the caller keeps). Regions are handed out from its start, and
 * it starts again once they are all released. */
struct _MpPoolSegment
{
  gint     ref_count;
  guint    id;
  int      fd;
  guint8  *data;
  gsize    size;
  GMutex   lock;
  gsize    used;   /* under lock */
  guint    live;   /* regions not released, under lock */
};

struct _MpPoolArena
{
  GMutex          lock;
  MpPoolSegment  *segments[MP_POOL_ARENA_MAX_SEGMENTS];
  guint           n_segments;
  gsize           total;
};

struct _MpPoolRegion
{
  gint            ref_count;
  MpPoolSegment  *segment;
  gsize           offset;
  gsize           size;
};

static void
segment_unref (MpPoolSegment *segment)
{
  if (!g_atomic_int_dec_and_test (&segment->ref_count))
    return;
  munmap (segment->data, segment->size);
  close (segment->fd);
  g_mutex_clear (&segment->lock);
  g_free (segment);
}

static MpPoolSegment *
segment_new (guint id,
             gsize size)
{
  MpPoolSegment *segment;
  int fd = memfd_create ("mp-pool-arena", MFD_CLOEXEC);
  void *data;

  if (fd < 0)
    return NULL;
  if (ftruncate (fd, (off_t) size) != 0 ||
      (data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
    {
      close (fd);
      return NULL;
    }
  segment = g_new0 (MpPoolSegment, 1);
  segment->ref_count = 1;
  segment->id = id;
  segment->fd = fd;
  segment->data = data;
  segment->size = size;
  g_mutex_init (&segment->lock);
  return segment;
}

/* Room for @size bytes at the segment's end, or none. */
static MpPoolRegion *
segment_alloc (MpPoolSegment *segment,
               gsize          size)
{
  MpPoolRegion *region = NULL;
  gsize at;

  g_mutex_lock (&segment->lock);
  at = (segment->used + REGION_ALIGN - 1) & ~(gsize) (REGION_ALIGN - 1);
  if (at <= segment->size && segment->size - at >= size)
    {
      region = g_new (MpPoolRegion, 1);
      region->ref_count = 1;
      region->segment = segment;
      region->offset = at;
      region->size = size;
      g_atomic_int_inc (&segment->ref_count);
      segment->used = at + size;
      segment->live++;
    }
  g_mutex_unlock (&segment->lock);
  return region;
}

MpPoolArena *
mp_pool_arena_new (void)
{
  MpPoolArena *arena = g_new0 (MpPoolArena, 1);

  g_mutex_init (&arena->lock);
  return arena;
}

void
mp_pool_arena_free (MpPoolArena *arena)
{
  for (guint i = 0; i < arena->n_segments; i++)
    segment_unref (arena->segments[i]);
  g_mutex_clear (&arena->lock);
  g_free (arena);
}

MpPoolRegion *
mp_pool_arena_alloc (MpPoolArena *arena,
                     gsize        size)
{
  MpPoolRegion *region = NULL;
  gsize segment_size;

  g_mutex_lock (&arena->lock);
  for (guint i = 0; i < arena->n_segments && region == NULL; i++)
    region = segment_alloc (arena->segments[i], size);
  if (region == NULL && arena->n_segments < MP_POOL_ARENA_MAX_SEGMENTS)
    {
      /* Whole megabytes, at least a segment's default size. */
      segment_size = MAX (MP_POOL_ARENA_SEGMENT_SIZE, (size + (1 << 20) - 1) & ~(gsize) ((1 << 20) - 1));
      if (arena->total + segment_size <= MP_POOL_ARENA_MAX_BYTES)
        {
          MpPoolSegment *segment = segment_new (arena->n_segments, segment_size);

          if (segment != NULL)
            {
              arena->segments[arena->n_segments++] = segment;
              arena->total += segment_size;
              region = segment_alloc (segment, size);
            }
        }
    }
  g_mutex_unlock (&arena->lock);
  return region;
}

MpPoolRegion *
mp_pool_region_ref (MpPoolRegion *region)
{
  g_atomic_int_inc (&region->ref_count);
  return region;
}

void
mp_pool_region_unref (MpPoolRegion *region)
{
  MpPoolSegment *segment;

  if (!g_atomic_int_dec_and_test (&region->ref_count))
    return;
  segment = region->segment;
  g_mutex_lock (&segment->lock);
  /* The last one out: the segment is used again from its start. */
  if (--segment->live == 0)
    segment->used = 0;
  g_mutex_unlock (&segment->lock);
  segment_unref (segment);
  g_free (region);
}

guint8 *
mp_pool_region_get_data (MpPoolRegion *region)
{
  return region->segment->data + region->offset;
}

guint
mp_pool_region_get_segment (MpPoolRegion *region,
                            int          *fd,
                            gsize        *segment_size,
                            gsize        *offset)
{
  *fd = region->segment->fd;
  *segment_size = region->segment->size;
  *offset = region->offset;
  return region->segment->id;
}

GBytes *
mp_pool_region_to_bytes (MpPoolRegion *region,
                         gsize         offset,
                         gsize         size)
{
  g_return_val_if_fail (offset <= region->size && size <= region->size - offset, NULL);
  return g_bytes_new_with_free_func (mp_pool_region_get_data (region) + offset, size,
                                     (GDestroyNotify) mp_pool_region_unref, mp_pool_region_ref (region));
}

/* ---- a worker's side --------------------------------------------------------- */

gboolean
mp_pool_arena_view_add (MpPoolArenaView *view,
                        guint            id,
                        int              fd,
                        gsize            size,
                        GError         **error)
{
  void *data;

  if (id >= MP_POOL_ARENA_MAX_SEGMENTS || view->data[id] != NULL || size == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("A pool worker was given a bad shared segment"));
      return FALSE;
    }
  data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "mmap: %s", g_strerror (errsv));
      return FALSE;
    }
  view->data[id] = data;
  view->size[id] = size;
  return TRUE;
}

guint8 *
mp_pool_arena_view_get (MpPoolArenaView *view,
                        guint            id,
                        guint64          offset,
                        guint64          size)
{
  if (id >= MP_POOL_ARENA_MAX_SEGMENTS || view->data[id] == NULL || offset > view->size[id] ||
      size > view->size[id] - offset)
    return NULL;
  return view->data[id] + offset;
}

void
mp_pool_arena_view_clear (MpPoolArenaView *view)
{
  for (guint i = 0; i < MP_POOL_ARENA_MAX_SEGMENTS; i++)
    if (view->data[i] != NULL)
      munmap (view->data[i], view->size[i]);
  memset (view, 0, sizeof *view);
}
