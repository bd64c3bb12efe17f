#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "file-read.h"

typedef struct {
  char *dir;                    /* (owned) */
  char *path;                   /* (owned) */
  int fd;
  FcFileId id;
} Fixture;

static void
open_id (Fixture    *f,
         const char *path)
{
  struct stat st;

  f->fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (f->fd, >=, 0);
  g_assert_cmpint (fstat (f->fd, &st), ==, 0);
  fc_file_id_from_stat (&f->id, &st);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("file-read-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "f", NULL);
  g_assert_true (g_file_set_contents (f->path, "0123456789", 10, NULL));
  open_id (f, f->path);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  close (f->fd);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_read_unchanged (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) whole = fc_file_read_whole (f->fd, &f->id, NULL, &error);
  char buf[11];

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (whole, NULL), g_bytes_get_size (whole), "0123456789", 10);
  g_assert_true (fc_file_read_at (f->fd, &f->id, 3, buf, 7, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 7, "3456789", 7);
}

/* A chmod, a new link or a rename over the name changes ctime, not the
 * bytes of the open file: reading goes on (issue 8, fault 5). */
static void
test_metadata_change_is_no_change (Fixture *f, gconstpointer data)
{
  g_autofree char *other = g_build_filename (f->dir, "g", NULL);
  g_autoptr(GError) error = NULL;
  char buf[11];

  g_assert_cmpint (chmod (f->path, 0600), ==, 0);
  g_assert_true (g_file_set_contents (other, "abcdefghij", 10, NULL));
  g_assert_cmpint (rename (other, f->path), ==, 0);
  g_assert_true (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 10, "0123456789", 10);
}

/* A rewrite of the open file, same length, new mtime: nothing read can
 * be trusted. */
static void
test_content_change (Fixture *f, gconstpointer data)
{
  struct timespec times[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };
  g_autoptr(GError) error = NULL;
  char buf[11];
  int w = open (f->path, O_WRONLY);

  g_assert_cmpint (pwrite (w, "X", 1, 0), ==, 1);
  /* Make the change visible whatever the clock's granularity. */
  g_assert_cmpint (futimens (w, times), ==, 0);
  close (w);
  g_assert_false (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_null (fc_file_read_whole (f->fd, &f->id, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
}

/* Pages of @fd's first @len bytes in the page cache. */
static gsize
resident_bytes (int fd, gsize len)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  g_autofree unsigned char *vec = g_malloc ((len + page - 1) / page);
  void *map = mmap (NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  gsize resident = 0;

  g_assert_true (map != MAP_FAILED);
  g_assert_cmpint (mincore (map, len, vec), ==, 0);
  for (gsize i = 0; i < (len + page - 1) / page; i++)
    resident += (vec[i] & 1) * page;
  munmap (map, len);
  return resident;
}

/* A large read brings in what it reads and the next piece as large,
 * never the kernel's whole readahead (read_ahead_kb, 8 MiB here): no
 * system call of the pool or a bulk sender holds a processor for that
 * long (bench/pressure). Skipped where the page cache cannot be emptied
 * first (tmpfs). */
static void
test_bounded_readahead (Fixture *f, gconstpointer data)
{
  enum { SIZE = 32 * 1024 * 1024, PIECE = 1024 * 1024 };
  g_autofree char *path = g_build_filename (f->dir, "large", NULL);
  g_autofree char *content = g_malloc (SIZE);
  g_autofree char *buf = g_malloc (PIECE);
  g_autoptr(GError) error = NULL;
  Fixture large = *f;
  int w;

  for (gsize i = 0; i < SIZE; i++)
    content[i] = (char) (i * 7 + i / 4096);
  w = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (w, >=, 0);
  g_assert_cmpint (write (w, content, SIZE), ==, SIZE);
  g_assert_cmpint (fsync (w), ==, 0);
  close (w);
  open_id (&large, path);
  posix_fadvise (large.fd, 0, 0, POSIX_FADV_DONTNEED);
  if (resident_bytes (large.fd, SIZE) != 0)
    {
      close (large.fd);
      g_unlink (path);
      g_test_skip ("the page cache of a written file cannot be emptied here");
      return;
    }

  /* In order, as a load or a stream reads: the kernel's window would
   * grow with each read. */
  for (gsize offset = 0; offset < 8 * PIECE; offset += PIECE)
    {
      g_assert_true (fc_file_read_at (large.fd, &large.id, offset, buf, PIECE, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (buf, PIECE, content + offset, PIECE);
    }
  g_test_message ("resident after reading 8 MiB: %" G_GSIZE_FORMAT " bytes",
                  resident_bytes (large.fd, SIZE));
  g_assert_cmpuint (resident_bytes (large.fd, SIZE), <=, 9 * PIECE);
  close (large.fd);
  g_unlink (path);
}

/* A pseudo-file whose stat size (0) says nothing of its content: refused
 * the same way whether it would be loaded or streamed (fault 7). */
static void
test_pseudo_file (void)
{
  Fixture f = { 0 };
  g_autoptr(GError) error = NULL;
  char buf[16];

  if (!g_file_test ("/proc/sys/kernel/ostype", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /proc/sys/kernel/ostype");
      return;
    }
  open_id (&f, "/proc/sys/kernel/ostype");
  g_assert_cmpuint (f.id.size, ==, 0);
  /* procfs has no leases: its inode, made when first looked up (just now
   * under a fresh mount), is read only once settled (two seconds at most
   * for whole-second stamps). */
  for (gint64 guard = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
       !fc_file_read_at (f.fd, &f.id, 0, buf, 0, &error) &&
       g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY);
       g_clear_error (&error))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, guard);
      g_usleep (20 * 1000);
    }
  g_clear_error (&error);
  g_assert_null (fc_file_read_whole (f.fd, &f.id, NULL, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_SIZE_MISMATCH);
  g_clear_error (&error);
  g_assert_false (fc_file_read_at (f.fd, &f.id, 0, buf, 0, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_SIZE_MISMATCH);
  close (f.fd);
}

/* A file too large for memory is an error the caller can stream
 * around, never an abort (fault 2). */
static void
test_too_large_for_memory (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  FcFileId huge = f->id;

  huge.size = G_GUINT64_CONSTANT (1) << 62;
  g_assert_null (fc_file_read_whole (f->fd, &huge, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
}

/* A same-length rewrite of the open file with its mtime put back moves
 * only ctime: nothing read can be trusted (found by a black-box test). */
static void
test_mtime_put_back (Fixture *f, gconstpointer data)
{
  struct timespec times[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
  g_autoptr(GError) error = NULL;
  char buf[11];
  int w = open (f->path, O_WRONLY);

  times[1].tv_sec = (time_t) (f->id.mtime_ns / 1000000000);
  times[1].tv_nsec = (long) (f->id.mtime_ns % 1000000000);
  /* ctime is stamped from the coarse clock: let it move on. */
  g_usleep (20 * 1000);
  g_assert_cmpint (pwrite (w, "X", 1, 5), ==, 1);
  g_assert_cmpint (futimens (w, times), ==, 0);
  close (w);
  g_assert_false (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
}

static void
assert_busy (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) whole_error = NULL;
  char buf[11];

  g_assert_false (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_null (fc_file_read_whole (f->fd, &f->id, NULL, &whole_error));
  g_assert_error (whole_error, G_IO_ERROR, G_IO_ERROR_BUSY);
}

static void
assert_readable (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  char buf[11];

  g_assert_true (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 10, "0123456789", 10);
}

/* A writer that has the file open may be in the middle of a write()
 * whose stamps came first: nothing read now is proved to be a version,
 * even if it has written nothing yet. Once it closes, reads are. */
static void
test_writer_open (Fixture *f, gconstpointer data)
{
  int w = open (f->path, O_WRONLY);

  g_assert_cmpint (w, >=, 0);
  assert_busy (f);
  close (w);
  assert_readable (f);
}

/* A shared writable mapping keeps the file open for writing after its
 * descriptor is gone, and its stores stamp nothing once a page is dirty. */
static void
test_writer_mapped (Fixture *f, gconstpointer data)
{
  int w = open (f->path, O_RDWR);
  char *map = mmap (NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0);

  g_assert_true (map != MAP_FAILED);
  close (w);
  assert_busy (f);
  g_assert_cmpint (munmap (map, 10), ==, 0);
  assert_readable (f);
}

/* Where a lease proves nothing (a network or FUSE filesystem), a version
 * just changed is read only once it has held for a while. */
static void
test_foreign_settles (Fixture *f, gconstpointer data)
{
  f->id.foreign = TRUE;
  assert_busy (f);
  /* Two ticks of the slowest coarse clock, 10 ms each. */
  g_usleep (20 * 1000);
  assert_readable (f);
}

/* A process that may not take leases (not the file's owner, no
 * CAP_LEASE: the daemon as its own user over root's files) reads a
 * settled file all the same, and an admin is told once, naming the file,
 * that the weaker rule holds. Run as another user in a subprocess. */
static void
test_no_lease_told (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  char buf[11];

  if (getuid () != 0)
    {
      g_test_skip ("needs root, to read a file of root's as another user");
      return;
    }
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  /* The fixture ran again in this process: its folder is root's, 0700. */
  g_assert_cmpint (chmod (f->dir, 0755), ==, 0);
  /* A uid of its own: no other process's leases or limits. */
  g_assert_cmpint (setresgid (3100000, 3100000, 3100000), ==, 0);
  g_assert_cmpint (setresuid (3100000, 3100000, 3100000), ==, 0);
  close (f->fd);
  open_id (f, f->path);
  /* Older than any settle period of a 10-byte file. */
  g_usleep (200 * 1000);
  g_test_expect_message ("filecached", G_LOG_LEVEL_WARNING, "*Cannot take a read lease on*");
  g_assert_true (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_assert_no_error (error);
  g_assert_true (fc_file_read_at (f->fd, &f->id, 0, buf, 10, &error));
  g_test_assert_expected_messages ();
  g_assert_cmpmem (buf, 10, "0123456789", 10);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  fc_file_read_init ();
  g_test_add ("/file-read/writer-open", Fixture, NULL, setup, test_writer_open, teardown);
  g_test_add ("/file-read/writer-mapped", Fixture, NULL, setup, test_writer_mapped, teardown);
  g_test_add ("/file-read/foreign-settles", Fixture, NULL, setup, test_foreign_settles, teardown);
  g_test_add ("/file-read/no-lease-told", Fixture, NULL, setup, test_no_lease_told, teardown);
  g_test_add ("/file-read/unchanged", Fixture, NULL, setup, test_read_unchanged, teardown);
  g_test_add ("/file-read/bounded-readahead", Fixture, NULL, setup, test_bounded_readahead, teardown);
  g_test_add ("/file-read/metadata-change-is-no-change", Fixture, NULL, setup,
              test_metadata_change_is_no_change, teardown);
  g_test_add ("/file-read/content-change", Fixture, NULL, setup, test_content_change, teardown);
  g_test_add ("/file-read/mtime-put-back", Fixture, NULL, setup, test_mtime_put_back, teardown);
  g_test_add_func ("/file-read/pseudo-file", test_pseudo_file);
  g_test_add ("/file-read/too-large-for-memory", Fixture, NULL, setup,
              test_too_large_for_memory, teardown);
  return g_test_run ();
}
