/* mp-pool-arena-private.h: memory a pool shares with its workers, for maps
 *
 * A map over an array of numbers copies its items once into a region of
 * the pool's arena, next to room for the results; its workers read their
 * chunks there and write their results there, and the map's result is a
 * view of that room: no chunk is serialized into a message, and no
 * result is copied back. The arena's segments (memfds) are mapped once
 * by the pool and once by each worker, the first time a job names them,
 * and kept: a segment whose regions are all released is used again from
 * its start, so that a pool that maps again and again touches no fresh
 * page. A map that finds no room (the arena is capped) goes through
 * messages as before.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MP_POOL_ARENA_MAX_SEGMENTS 16
#define MP_POOL_ARENA_SEGMENT_SIZE (16 * 1024 * 1024)
#define MP_POOL_ARENA_MAX_BYTES    (128 * 1024 * 1024)

typedef struct _MpPoolArena   MpPoolArena;
typedef struct _MpPoolSegment MpPoolSegment;
typedef struct _MpPoolRegion  MpPoolRegion;

/* The pool's side. */
MpPoolArena   *mp_pool_arena_new        (void);
void           mp_pool_arena_free       (MpPoolArena  *arena);
/* @size bytes in one segment, or NULL when the arena has no room. */
MpPoolRegion  *mp_pool_arena_alloc      (MpPoolArena  *arena,
                                         gsize         size);

MpPoolRegion  *mp_pool_region_ref       (MpPoolRegion *region);
void           mp_pool_region_unref     (MpPoolRegion *region);
guint8        *mp_pool_region_get_data  (MpPoolRegion *region);
/* Where the region is: its segment's id, descriptor and size, and its
 * offset there. */
guint          mp_pool_region_get_segment (MpPoolRegion *region,
                                         int          *fd,
                                         gsize        *segment_size,
                                         gsize        *offset);
/* @size bytes at @offset in @region, kept alive with it. */
GBytes        *mp_pool_region_to_bytes  (MpPoolRegion *region,
                                         gsize         offset,
                                         gsize         size);

/* A worker's side: the segments it was given, mapped for good. */
typedef struct
{
  guint8 *data[MP_POOL_ARENA_MAX_SEGMENTS];
  gsize   size[MP_POOL_ARENA_MAX_SEGMENTS];
} MpPoolArenaView;

gboolean       mp_pool_arena_view_add   (MpPoolArenaView *view,
                                         guint            id,
                                         int              fd,
                                         gsize            size,
                                         GError         **error);
/* @size bytes at @offset of segment @id; NULL if that is not inside a
 * segment the worker has. */
guint8        *mp_pool_arena_view_get   (MpPoolArenaView *view,
                                         guint            id,
                                         guint64          offset,
                                         guint64          size);
void           mp_pool_arena_view_clear (MpPoolArenaView *view);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MpPoolRegion, mp_pool_region_unref)

G_END_DECLS
