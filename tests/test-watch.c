#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "watch.h"

/* What watch.c promises a cached hit: every change to a file or to the
 * directories its name goes through moves the generation before the
 * next fc_watch_quiet() answers; an open of the file, or a directory on
 * the way moved, breaks the mark for good; a file open for writing or
 * mapped writable cannot be armed. */

typedef struct {
  char *base;       /* holds the root and a directory beside it */
  char *root;
  int root_fd;
  FcWatch *watch;
} Fixture;

static void
write_at (const char *dir,
          const char *name,
          const char *content)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, content, -1, &error);
  g_assert_no_error (error);
}

/* The generation once every queued event is acted on. */
static guint
settled (FcWatch *watch)
{
  guint generation = 0;

  for (int i = 0; i < 10 && !fc_watch_quiet (watch, &generation); i++)
    ;
  g_assert_cmpuint (generation, !=, 0);
  return generation;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->base = g_dir_make_tmp ("test-watch-XXXXXX", &error);
  g_assert_no_error (error);
  f->root = g_build_filename (f->base, "root", NULL);
  write_at (f->root, "d/e/f", "content\n");
  write_at (f->root, "top", "top\n");
  write_at (f->root, "d/sibling", "sibling\n");
  f->root_fd = open (f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (f->root_fd, >=, 0);
  f->watch = fc_watch_new (&error);
  g_assert_no_error (error);
  /* This thread's first look breaks every mark (a change of the mount
   * table may have come before it): taken before any is armed. */
  settled (f->watch);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->base);

  fc_watch_unref (f->watch);
  close (f->root_fd);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->root);
  g_free (f->base);
}

static FcWatchMark *
arm (Fixture *f, const char *name)
{
  g_autoptr(GError) error = NULL;
  FcWatchMark *mark = fc_watch_arm (f->watch, f->root_fd, name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (mark);
  return mark;
}

static char *
path_of (Fixture *f, const char *name)
{
  return g_build_filename (f->root, name, NULL);
}

static void
test_quiet_without_change (Fixture *f, gconstpointer data)
{
  g_autoptr(FcWatchMark) mark = arm (f, "d/e/f");
  guint generation = settled (f->watch);
  guint again = 0;

  g_assert_true (fc_watch_quiet (f->watch, &again));
  g_assert_cmpuint (again, ==, generation);
  g_assert_true (fc_watch_mark_intact (mark));
}

typedef void (*ChangeFunc) (Fixture *f);

typedef struct {
  ChangeFunc change;
  int breaks;         /* the mark proves nothing after it; -1: either */
} Change;

/* In place: g_file_set_contents() would rename a new file over it. */
static void
change_write (Fixture *f)
{
  g_autofree char *path = path_of (f, "d/e/f");
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "C", 1), ==, 1);
  close (fd);
}

static void
change_truncate (Fixture *f)
{
  g_autofree char *path = path_of (f, "d/e/f");

  g_assert_cmpint (truncate (path, 2), ==, 0);
}

static void
change_times (Fixture *f)
{
  g_autofree char *path = path_of (f, "d/e/f");
  struct timespec times[2] = { { 1, 0 }, { 1, 0 } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

static void
change_read_open (Fixture *f)
{
  g_autofree char *path = path_of (f, "d/e/f");
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  close (fd);
}

static void
change_sibling_created (Fixture *f)
{
  write_at (f->root, "d/e/new", "new\n");
}

static void
change_unrelated_at_top (Fixture *f)
{
  g_autofree char *from = path_of (f, "top");
  g_autofree char *to = path_of (f, "top2");

  g_assert_cmpint (rename (from, to), ==, 0);
}

/* A directory on the way moved out of the root and linked back in. */
static void
change_dir_moved_linked (Fixture *f)
{
  g_autofree char *dir = path_of (f, "d");
  g_autofree char *moved = g_build_filename (f->base, "moved-d", NULL);

  g_assert_cmpint (rename (dir, moved), ==, 0);
  g_assert_cmpint (symlink (moved, dir), ==, 0);
}

static void
change_file_renamed_over (Fixture *f)
{
  g_autofree char *tmp = path_of (f, "d/e/f.tmp");
  g_autofree char *path = path_of (f, "d/e/f");

  write_at (f->root, "d/e/f.tmp", "replaced\n");
  g_assert_cmpint (rename (tmp, path), ==, 0);
}

static const Change write_change = { change_write, TRUE };
static const Change truncate_change = { change_truncate, FALSE };
static const Change times_change = { change_times, FALSE };
static const Change read_open_change = { change_read_open, TRUE };
static const Change sibling_change = { change_sibling_created, FALSE };
static const Change top_change = { change_unrelated_at_top, FALSE };
static const Change dir_moved_change = { change_dir_moved_linked, TRUE };
static const Change renamed_over_change = { change_file_renamed_over, -1 };

/* Each change moves the generation before the next quiet answer, so no
 * copy proved before it is trusted after it. */
static void
test_change_moves_generation (Fixture *f, gconstpointer data)
{
  const Change *change = data;
  g_autoptr(FcWatchMark) mark = arm (f, "d/e/f");
  guint before = settled (f->watch);
  guint after = 0;

  change->change (f);
  g_assert_false (fc_watch_quiet (f->watch, &after));
  after = settled (f->watch);
  g_assert_cmpuint (after, !=, before);
  if (change->breaks >= 0)
    g_assert_cmpint (fc_watch_mark_intact (mark), ==, !change->breaks);
}

/* A writer through a shared mapping queues nothing when it writes: the
 * open it needed first breaks the mark, even once its descriptor is
 * closed and the mapping alone is left. */
static void
test_mapped_writer (Fixture *f, gconstpointer data)
{
  g_autoptr(FcWatchMark) mark = arm (f, "d/e/f");
  g_autofree char *path = path_of (f, "d/e/f");
  g_autoptr(GError) error = NULL;
  g_autoptr(FcWatchMark) again = NULL;
  char *map;
  int fd;

  settled (f->watch);
  fd = open (path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  map = mmap (NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  close (fd);
  settled (f->watch);
  g_assert_false (fc_watch_mark_intact (mark));

  /* While the writable mapping lives no lease, so no arming. */
  again = fc_watch_arm (f->watch, f->root_fd, "d/e/f", &error);
  g_assert_null (again);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  map[0] = 'C';
  g_assert_cmpint (munmap (map, 8), ==, 0);
}

static void
test_open_for_writing_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *path = path_of (f, "d/e/f");
  g_autoptr(GError) error = NULL;
  g_autoptr(FcWatchMark) mark = NULL;
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  mark = fc_watch_arm (f->watch, f->root_fd, "d/e/f", &error);
  g_assert_null (mark);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  close (fd);
}

/* Armed again after a break, a new mark is intact and the old one stays
 * broken; a sibling through the same directories is not broken by the
 * file's open. */
static void
test_rearm (Fixture *f, gconstpointer data)
{
  g_autoptr(FcWatchMark) mark = arm (f, "d/e/f");
  g_autoptr(FcWatchMark) sibling = arm (f, "d/sibling");
  g_autoptr(FcWatchMark) again = NULL;

  change_read_open (f);
  settled (f->watch);
  g_assert_false (fc_watch_mark_intact (mark));
  g_assert_true (fc_watch_mark_intact (sibling));
  again = arm (f, "d/e/f");
  settled (f->watch);
  g_assert_true (fc_watch_mark_intact (again));
  g_assert_false (fc_watch_mark_intact (mark));
}

/* Freeing the last mark removes its watches without moving the
 * generation: an eviction does not cost every other copy its trust. */
static void
test_free_keeps_generation (Fixture *f, gconstpointer data)
{
  g_autoptr(FcWatchMark) kept = arm (f, "top");
  FcWatchMark *mark = arm (f, "d/e/f");
  guint before = settled (f->watch);
  guint after = 0;

  fc_watch_mark_free (mark);
  after = settled (f->watch);
  g_assert_cmpuint (after, ==, before);
  /* and the file's events no longer count */
  change_write (f);
  g_assert_cmpuint (settled (f->watch), ==, before);
}

static void
test_refused_shapes (Fixture *f, gconstpointer data)
{
  const char *names[] = { "d", "missing", "d/missing", "link/f" };
  g_autofree char *link = path_of (f, "link");

  g_assert_cmpint (symlink ("d/e", link), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(FcWatchMark) mark = fc_watch_arm (f->watch, f->root_fd, names[i], &error);

      g_test_message ("%s", names[i]);
      g_assert_null (mark);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, names[i]));
    }
}

/* A bind mount over the file, then its unmount, in a mount namespace of
 * the child's own: neither queues an inotify event, both break the mark.
 * The child answers 0, 77 where it may not mount, or fails. */
static int
mount_child (Fixture *f)
{
  g_autofree char *path = path_of (f, "d/e/f");
  g_autofree char *other = g_build_filename (f->base, "other", NULL);
  g_autoptr(FcWatch) watch = NULL;
  g_autoptr(FcWatchMark) mark = NULL;
  guint generation;

  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return 77;
  write_at (f->base, "other", "other\n");
  watch = fc_watch_new (NULL);
  settled (watch);
  mark = fc_watch_arm (watch, f->root_fd, "d/e/f", NULL);
  if (mark == NULL || !fc_watch_mark_intact (mark))
    return 1;
  settled (watch);
  if (mount (other, path, NULL, MS_BIND, NULL) != 0)
    return 77;
  if (fc_watch_quiet (watch, &generation) || fc_watch_mark_intact (mark))
    return 2;
  g_clear_pointer (&mark, fc_watch_mark_free);
  settled (watch);
  mark = fc_watch_arm (watch, f->root_fd, "d/e/f", NULL);
  settled (watch);
  if (mark == NULL || !fc_watch_mark_intact (mark) || umount (path) != 0)
    return 3;
  if (fc_watch_quiet (watch, &generation) || fc_watch_mark_intact (mark))
    return 4;
  return 0;
}

static void
test_mount_table (Fixture *f, gconstpointer data)
{
  int status;
  pid_t child = fork ();

  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    _exit (mount_child (f));
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 77)
    {
      g_test_skip ("mounting is not allowed here");
      return;
    }
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, data, func) \
  g_test_add (path, Fixture, data, setup, func, teardown)
  ADD ("/watch/quiet-without-change", NULL, test_quiet_without_change);
  ADD ("/watch/change/write", &write_change, test_change_moves_generation);
  ADD ("/watch/change/truncate", &truncate_change, test_change_moves_generation);
  ADD ("/watch/change/times", &times_change, test_change_moves_generation);
  ADD ("/watch/change/read-open", &read_open_change, test_change_moves_generation);
  ADD ("/watch/change/sibling-created", &sibling_change, test_change_moves_generation);
  ADD ("/watch/change/unrelated-at-top", &top_change, test_change_moves_generation);
  ADD ("/watch/change/dir-moved-linked-back", &dir_moved_change, test_change_moves_generation);
  ADD ("/watch/change/renamed-over", &renamed_over_change, test_change_moves_generation);
  ADD ("/watch/mapped-writer", NULL, test_mapped_writer);
  ADD ("/watch/open-for-writing-refused", NULL, test_open_for_writing_refused);
  ADD ("/watch/rearm", NULL, test_rearm);
  ADD ("/watch/free-keeps-generation", NULL, test_free_keeps_generation);
  ADD ("/watch/refused-shapes", NULL, test_refused_shapes);
  ADD ("/watch/mount-table", NULL, test_mount_table);
#undef ADD
  return g_test_run ();
}
