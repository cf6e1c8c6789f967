/* mp-shared-memory.c: a block of memory shared between processes
 *
 * An anonymous block is a memfd that travels by descriptor; a named one
 * is a POSIX shared memory object (/dev/shm), which unrelated processes
 * can open by name, as Python's SharedMemory does. Either way the block is
 * mapped once per object; views (GBytes) keep the mapping alive after
 * close.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <glib/gi18n-lib.h>

#include "mp.h"

/**
 * MpSharedMemory:
 *
 * Python's `multiprocessing.shared_memory.SharedMemory`: bytes that
 * several processes map. Without a name it is anonymous and reaches other
 * processes only through its reference (task arguments, pipes, queues,
 * process properties); with a name, any process may open it by that name
 * until somebody unlinks it.
 *
 * mp_shared_memory_get_bytes() gives the memory without a copy.
 */
typedef struct
{
  gatomicrefcount  ref_count;
  guint8          *data;
  gsize            size;
} Mapping;

struct _MpSharedMemory
{
  GObject    parent_instance;
  int        fd;
  char      *name;
  Mapping   *mapping;
};

static void mp_shared_memory_shareable_init (MpShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MpSharedMemory, mp_shared_memory, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MP_TYPE_SHAREABLE, mp_shared_memory_shareable_init))

static Mapping *
mapping_ref (Mapping *mapping)
{
  g_atomic_ref_count_inc (&mapping->ref_count);
  return mapping;
}

static void
mapping_unref (Mapping *mapping)
{
  if (!g_atomic_ref_count_dec (&mapping->ref_count))
    return;
  if (mapping->size > 0)
    munmap (mapping->data, mapping->size);
  g_free (mapping);
}

static gboolean
set_errno_error (GError     **error,
                 const char  *format,
                 const char  *name)
{
  int errsv = errno;
  g_autofree char *what = g_strdup_printf (format, name);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

static GVariant *
mp_shared_memory_to_variant (MpShareable *shareable)
{
  MpSharedMemory *self = MP_SHARED_MEMORY (shareable);

  g_return_val_if_fail (self->mapping != NULL, NULL);

  return g_variant_new ("(shtms)", "mp:shared-memory", self->fd, (guint64) self->mapping->size, self->name);
}

static void
mp_shared_memory_shareable_init (MpShareableInterface *iface)
{
  iface->to_variant = mp_shared_memory_to_variant;
}

static void
mp_shared_memory_finalize (GObject *object)
{
  MpSharedMemory *self = MP_SHARED_MEMORY (object);

  mp_shared_memory_close (self);
  g_clear_pointer (&self->name, g_free);
  G_OBJECT_CLASS (mp_shared_memory_parent_class)->finalize (object);
}

static void
mp_shared_memory_class_init (MpSharedMemoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mp_shared_memory_finalize;
}

static void
mp_shared_memory_init (MpSharedMemory *self)
{
  self->fd = -1;
}

/* Takes @fd. */
static MpSharedMemory *
shared_memory_map (int          fd,
                   const char  *name,
                   gsize        size,
                   GError     **error)
{
  MpSharedMemory *self = g_object_new (MP_TYPE_SHARED_MEMORY, NULL);
  Mapping *mapping = g_new0 (Mapping, 1);

  self->fd = fd;
  self->name = g_strdup (name);
  g_atomic_ref_count_init (&mapping->ref_count);
  mapping->size = size;
  if (size > 0)
    {
      void *data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (data == MAP_FAILED)
        {
          set_errno_error (error, _("Could not map the shared memory “%s”"), name ? name : "");
          g_free (mapping);
          g_object_unref (self);
          return NULL;
        }
      mapping->data = data;
    }
  self->mapping = mapping;
  return self;
}

static char *
object_name (const char  *name,
             GError     **error)
{
  if (name[0] == '\0' || strchr (name, '/') != NULL || strlen (name) > 200)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not a shared memory name: use up to 200 characters and no “/”"), name);
      return NULL;
    }
  return g_strconcat ("/", name, NULL);
}

/**
 * mp_shared_memory_new:
 * @name: (nullable): a name other processes can open it by, or %NULL for
 *   an anonymous block
 * @size: the size in bytes, above 0
 * @error: return location for a #GError
 *
 * Creates a zero-filled block of shared memory. A named block lives until
 * mp_shared_memory_unlink(), even after every process closed it, as in
 * Python.
 *
 * Returns: (transfer full): the block, or %NULL with @error set
 *   (%G_IO_ERROR_EXISTS when the name is taken)
 */
MpSharedMemory *
mp_shared_memory_new (const char  *name,
                      gsize        size,
                      GError     **error)
{
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (size == 0 || size > (gsize) G_MAXINT64)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Shared memory needs a size above 0"));
      return NULL;
    }
  if (name == NULL)
    fd = memfd_create ("mp-shared-memory", MFD_CLOEXEC);
  else
    {
      path = object_name (name, error);
      if (path == NULL)
        return NULL;
      fd = shm_open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    return set_errno_error (error, _("Could not create the shared memory “%s”"), name ? name : ""), NULL;
  if (ftruncate (fd, (off_t) size) < 0)
    {
      set_errno_error (error, _("Could not size the shared memory “%s”"), name ? name : "");
      if (path != NULL)
        shm_unlink (path);
      close (fd);
      return NULL;
    }
  return shared_memory_map (fd, name, size, error);
}

/**
 * mp_shared_memory_open:
 * @name: the name a block was created with
 * @error: return location for a #GError
 *
 * Opens a named block that some process created.
 *
 * Returns: (transfer full): the block, or %NULL with @error set
 *   (%G_IO_ERROR_NOT_FOUND when there is no such block)
 */
MpSharedMemory *
mp_shared_memory_open (const char  *name,
                       GError     **error)
{
  g_autofree char *path = NULL;
  struct stat st;
  int fd;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = object_name (name, error);
  if (path == NULL)
    return NULL;
  fd = shm_open (path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0)
    return set_errno_error (error, _("Could not open the shared memory “%s”"), name), NULL;
  if (fstat (fd, &st) < 0)
    {
      set_errno_error (error, _("Could not open the shared memory “%s”"), name);
      close (fd);
      return NULL;
    }
  return shared_memory_map (fd, name, (gsize) st.st_size, error);
}

/**
 * mp_shared_memory_new_from_variant:
 * @reference: a value made by mp_shareable_to_variant() for shared
 *   memory, as received
 * @error: return location for a #GError
 *
 * The block that @reference stands for, in this process.
 *
 * Returns: (transfer full): the block, or %NULL with @error set
 */
MpSharedMemory *
mp_shared_memory_new_from_variant (GVariant  *reference,
                                   GError   **error)
{
  const char *tag, *name = NULL;
  gint32 handle;
  guint64 size;
  struct stat st;
  int fd;

  g_return_val_if_fail (reference != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_variant_is_of_type (reference, G_VARIANT_TYPE ("(shtms)")))
    goto bad;
  g_variant_get (reference, "(&shtm&s)", &tag, &handle, &size, &name);
  if (!g_str_equal (tag, "mp:shared-memory"))
    goto bad;
  fd = fcntl (handle, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    goto bad;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size < size)
    {
      close (fd);
      goto bad;
    }
  return shared_memory_map (fd, name, (gsize) size, error);

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("The value “%s” does not stand for shared memory"),
               g_variant_get_type_string (reference));
  return NULL;
}

/**
 * mp_shared_memory_get_name:
 * @self: an #MpSharedMemory
 *
 * The name other processes can open the block by.
 *
 * Returns: (nullable): the name, or %NULL for an anonymous block
 */
const char *
mp_shared_memory_get_name (MpSharedMemory *self)
{
  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), NULL);

  return self->name;
}

/**
 * mp_shared_memory_get_size:
 * @self: an #MpSharedMemory
 *
 * The block's size in bytes.
 *
 * Returns: the size; 0 once closed
 */
gsize
mp_shared_memory_get_size (MpSharedMemory *self)
{
  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), 0);

  return self->mapping ? self->mapping->size : 0;
}

static gboolean
check_open (MpSharedMemory  *self,
            GError         **error)
{
  if (self->mapping != NULL)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("The shared memory is closed"));
  return FALSE;
}

static gboolean
check_range (MpSharedMemory  *self,
             gsize            offset,
             gsize            size,
             GError         **error)
{
  if (!check_open (self, error))
    return FALSE;
  if (offset <= self->mapping->size && size <= self->mapping->size - offset)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Bytes %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " are outside shared memory of %" G_GSIZE_FORMAT),
               offset, offset + size, self->mapping->size);
  return FALSE;
}

/**
 * mp_shared_memory_get_bytes:
 * @self: an #MpSharedMemory
 * @error: return location for a #GError
 *
 * The whole block, without a copy. The bytes keep the memory mapped after
 * mp_shared_memory_close(), and show what other processes write later.
 *
 * Returns: (transfer full): the block's bytes, or %NULL with
 *   %G_IO_ERROR_CLOSED
 */
GBytes *
mp_shared_memory_get_bytes (MpSharedMemory  *self,
                            GError         **error)
{
  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_open (self, error))
    return NULL;
  return g_bytes_new_with_free_func (self->mapping->data, self->mapping->size,
                                     (GDestroyNotify) mapping_unref, mapping_ref (self->mapping));
}

/**
 * mp_shared_memory_get_address:
 * @self: an #MpSharedMemory
 *
 * Where the block is mapped in this process, for bindings that wrap raw
 * memory (Python's override makes its `buf` memoryview from it). Valid
 * until mp_shared_memory_close().
 *
 * Returns: the address, or 0 once closed
 */
guint64
mp_shared_memory_get_address (MpSharedMemory *self)
{
  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), 0);

  return self->mapping ? (guint64) (guintptr) self->mapping->data : 0;
}

/**
 * mp_shared_memory_read:
 * @self: an #MpSharedMemory
 * @offset: where to start
 * @size: how many bytes
 * @error: return location for a #GError
 *
 * Copies bytes out of the block.
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 */
GBytes *
mp_shared_memory_read (MpSharedMemory  *self,
                       gsize            offset,
                       gsize            size,
                       GError         **error)
{
  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_range (self, offset, size, error))
    return NULL;
  return g_bytes_new (self->mapping->data + offset, size);
}

/**
 * mp_shared_memory_write:
 * @self: an #MpSharedMemory
 * @offset: where to start
 * @data: the bytes to copy in
 * @error: return location for a #GError
 *
 * Copies @data into the block at @offset.
 *
 * Returns: %TRUE, or %FALSE with @error set when @data does not fit
 */
gboolean
mp_shared_memory_write (MpSharedMemory  *self,
                        gsize            offset,
                        GBytes          *data,
                        GError         **error)
{
  gsize size;
  gconstpointer bytes;

  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  bytes = g_bytes_get_data (data, &size);
  if (!check_range (self, offset, size, error))
    return FALSE;
  if (size > 0)
    memcpy (self->mapping->data + offset, bytes, size);
  return TRUE;
}

/**
 * mp_shared_memory_close:
 * @self: an #MpSharedMemory
 *
 * Lets go of the block in this object (views made by
 * mp_shared_memory_get_bytes() keep it mapped). A named block stays until
 * mp_shared_memory_unlink(). Closing twice does nothing.
 */
void
mp_shared_memory_close (MpSharedMemory *self)
{
  g_return_if_fail (MP_IS_SHARED_MEMORY (self));

  g_clear_pointer (&self->mapping, mapping_unref);
  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
}

/**
 * mp_shared_memory_unlink:
 * @self: an #MpSharedMemory
 * @error: return location for a #GError
 *
 * Removes a named block's name: processes that have it keep it, nobody
 * else can open it. For an anonymous block this does nothing.
 *
 * Returns: %TRUE, or %FALSE with @error set (%G_IO_ERROR_NOT_FOUND when the
 *   name was removed already)
 */
gboolean
mp_shared_memory_unlink (MpSharedMemory  *self,
                         GError         **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (MP_IS_SHARED_MEMORY (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->name == NULL)
    return TRUE;
  path = g_strconcat ("/", self->name, NULL);
  if (shm_unlink (path) < 0)
    return set_errno_error (error, _("Could not unlink the shared memory “%s”"), self->name);
  return TRUE;
}
