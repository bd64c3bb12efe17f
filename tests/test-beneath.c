#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <sched.h>
#include <sys/mount.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "beneath.h"
#include "errors.h"
#include "testutil.h"

typedef int (*Opener) (int, const char *, struct stat *, GError **);

typedef struct {
  char *outside;   /* a directory beside the root, holding a secret */
  char *root;
  int root_fd;
} Fixture;

static void
write_file (const char *path,
            const char *content)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, content, -1, &error);
  g_assert_no_error (error);
}

static void
make_link (const char *target,
           const char *dir,
           const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("fc-beneath-XXXXXX", &error);
  g_autofree char *path = NULL;

  g_assert_no_error (error);
  fixture->outside = g_build_filename (base, "outside", NULL);
  fixture->root = g_build_filename (base, "root", NULL);
  g_assert_cmpint (g_mkdir (fixture->outside, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (fixture->root, 0755), ==, 0);

  path = g_build_filename (fixture->outside, "secret", NULL);
  write_file (path, "secret\n");
  g_clear_pointer (&path, g_free);

  path = g_build_filename (fixture->root, "sub", "deep", NULL);
  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  g_clear_pointer (&path, g_free);

  path = g_build_filename (fixture->root, "a.txt", NULL);
  write_file (path, "a\n");
  g_clear_pointer (&path, g_free);
  path = g_build_filename (fixture->root, "sub", "b.txt", NULL);
  write_file (path, "b\n");
  g_clear_pointer (&path, g_free);
  path = g_build_filename (fixture->root, "fifo", NULL);
  g_assert_cmpint (mkfifo (path, 0644), ==, 0);
  g_clear_pointer (&path, g_free);

  /* Links that stay inside. */
  make_link ("a.txt", fixture->root, "to-a");
  make_link ("sub/b.txt", fixture->root, "to-b");
  make_link ("../a.txt", fixture->root, "sub/up-a");
  make_link ("deep/../b.txt", fixture->root, "sub/via-deep");
  make_link ("sub", fixture->root, "subdir-link");
  make_link ("to-a", fixture->root, "chain");
  /* Links that leave the root on the way but end inside it. */
  path = g_build_filename (fixture->root, "a.txt", NULL);
  make_link (path, fixture->root, "abs-in");
  g_clear_pointer (&path, g_free);
  make_link ("../root/sub/b.txt", fixture->root, "out-and-back");
  make_link ("../../root/a.txt", fixture->root, "sub/out-and-back");
  /* Links that escape. */
  make_link ("/etc/passwd", fixture->root, "abs");
  make_link ("../outside/secret", fixture->root, "rel-escape");
  make_link ("../../outside/secret", fixture->root, "sub/rel-escape");
  make_link ("..", fixture->root, "parent");
  make_link ("/", fixture->root, "slash");
  make_link ("loop-b", fixture->root, "loop-a");
  make_link ("loop-a", fixture->root, "loop-b");
  make_link ("missing", fixture->root, "dangling");
  make_link (".", fixture->root, "self");

  fixture->root_fd = open (fixture->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fixture->root_fd, >=, 0);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *base = g_path_get_dirname (fixture->root);

  g_close (fixture->root_fd, NULL);
  remove_tree (base);
  g_free (fixture->outside);
  g_free (fixture->root);
}

static const struct {
  const char *name;
  const char *content;   /* NULL: refused with code */
  FcError code;
} cases[] = {
  { "a.txt", "a\n" },
  { "sub/b.txt", "b\n" },
  { "to-a", "a\n" },
  { "to-b", "b\n" },
  { "sub/up-a", "a\n" },
  { "sub/via-deep", "b\n" },
  { "subdir-link/b.txt", "b\n" },
  { "subdir-link/up-a", "a\n" },
  { "chain", "a\n" },
  { "self/a.txt", "a\n" },
  { "abs-in", "a\n" },
  { "out-and-back", "b\n" },
  { "sub/out-and-back", "a\n" },
  { "parent/root/a.txt", "a\n" },
  { "parent/root/fifo", NULL, FC_ERROR_NOT_REGULAR },
  { "parent/root", NULL, FC_ERROR_NOT_REGULAR },
  { "missing", NULL, FC_ERROR_NOT_FOUND },
  { "sub/missing", NULL, FC_ERROR_NOT_FOUND },
  { "a.txt/x", NULL, FC_ERROR_NOT_FOUND },
  { "dangling", NULL, FC_ERROR_NOT_FOUND },
  { "sub", NULL, FC_ERROR_NOT_REGULAR },
  { "subdir-link", NULL, FC_ERROR_NOT_REGULAR },
  { "fifo", NULL, FC_ERROR_NOT_REGULAR },
  { "self", NULL, FC_ERROR_NOT_REGULAR },
  { "abs", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "rel-escape", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "sub/rel-escape", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "parent/outside/secret", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "parent", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "slash/etc/passwd", NULL, FC_ERROR_OUTSIDE_ROOT },
  { "loop-a", NULL, FC_ERROR_LINK_LOOP },
};

static void
check_opener (Fixture *fixture,
              Opener   opener)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      struct stat st;
      int fd;

      g_test_message ("name: %s", cases[i].name);
      fd = opener (fixture->root_fd, cases[i].name, &st, &error);
      if (cases[i].content != NULL)
        {
          char buf[64];
          ssize_t n;

          g_assert_no_error (error);
          g_assert_cmpint (fd, >=, 0);
          g_assert_true (S_ISREG (st.st_mode));
          n = read (fd, buf, sizeof buf);
          g_assert_cmpmem (buf, n, cases[i].content, strlen (cases[i].content));
          g_close (fd, NULL);
        }
      else
        {
          g_assert_cmpint (fd, ==, -1);
          g_assert_error (error, FC_ERROR, (gint) cases[i].code);
          g_assert_nonnull (strstr (error->message, cases[i].name));
        }
    }
}

static void
test_openat2 (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd = fc_open_beneath_openat2 (fixture->root_fd, "a.txt", &st, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      g_test_skip ("the kernel has no openat2()");
      return;
    }
  g_assert_no_error (error);
  g_close (fd, NULL);
  check_opener (fixture, fc_open_beneath_openat2);
}

static void
test_walk (Fixture       *fixture,
           gconstpointer  data)
{
  check_opener (fixture, fc_open_beneath_walk);
}

static gboolean
have_openat2 (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd = fc_open_beneath_openat2 (fixture->root_fd, "a.txt", &st, &error);

  if (fd >= 0)
    g_close (fd, NULL);
  return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* Refusing a FIFO leaves it untouched: a writer blocked in open() waiting
 * for a reader stays blocked, where opening it to look would release it
 * and lose its message. @data: the Opener. */
static void
test_fifo_writer_waits (Fixture       *fixture,
                        gconstpointer  data)
{
  Opener opener = (Opener) data;
  g_autofree char *path = g_build_filename (fixture->root, "fifo", NULL);
  g_autoptr(GError) error = NULL;
  TuFifoWriter *writer;
  struct stat st;

  if (opener == fc_open_beneath_openat2 && !have_openat2 (fixture))
    {
      g_test_skip ("the kernel has no openat2()");
      return;
    }
  writer = tu_fifo_writer_start (path);
  g_assert_cmpint (opener (fixture->root_fd, "fifo", &st, &error), ==, -1);
  g_assert_error (error, FC_ERROR, FC_ERROR_NOT_REGULAR);
  g_clear_error (&error);
  /* Reached through a link, and through one that leaves and comes back. */
  g_assert_cmpint (opener (fixture->root_fd, "parent/root/fifo", &st, &error), ==, -1);
  g_assert_error (error, FC_ERROR, FC_ERROR_NOT_REGULAR);
  tu_fifo_writer_finish (writer);
}

/* Hides /proc from this process alone: a private mount namespace with an
 * empty tmpfs over it. */
static gboolean
hide_proc (void)
{
  return unshare (CLONE_NEWNS) == 0 &&
         mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
         mount ("tmpfs", "/proc", "tmpfs", 0, "size=4k") == 0;
}

/* Whether hide_proc() works here (not, say, in a chroot, whose / is no
 * mount point): asked in a child, since it changes the process for good;
 * a skip inside a trapped subprocess would read as its failure. */
static gboolean
can_hide_proc (void)
{
  int status = 0;
  pid_t pid = fork ();

  if (pid == 0)
    _exit (hide_proc () ? 0 : 1);
  return pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status) &&
         WEXITSTATUS (status) == 0;
}

/* Without /proc, files are still served (reopened by name) and the rest
 * still refused; only links that leave the root and come back are no
 * longer told from escapes. */
static void
test_no_proc (Fixture       *fixture,
              gconstpointer  data)
{
  static const struct {
    const char *name;
    const char *content;
    FcError code;
  } no_proc_cases[] = {
    { "a.txt", "a\n" },
    { "sub/b.txt", "b\n" },
    { "to-a", "a\n" },
    { "sub/up-a", "a\n" },
    { "fifo", NULL, FC_ERROR_NOT_REGULAR },
    { "sub", NULL, FC_ERROR_NOT_REGULAR },
    { "rel-escape", NULL, FC_ERROR_OUTSIDE_ROOT },
    { "abs-in", NULL, FC_ERROR_OUTSIDE_ROOT },
    { "missing", NULL, FC_ERROR_NOT_FOUND },
  };
  const Opener openers[] = { fc_open_beneath_openat2, fc_open_beneath_walk };

  if (!g_test_subprocess ())
    {
      if (!can_hide_proc ())
        {
          g_test_skip ("cannot hide /proc (needs CAP_SYS_ADMIN and / a mount point)");
          return;
        }
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  if (!hide_proc ())
    {
      g_test_skip ("cannot hide /proc (needs CAP_SYS_ADMIN)");
      return;
    }
  g_assert_false (g_file_test ("/proc/self", G_FILE_TEST_EXISTS));

  for (gsize o = 0; o < G_N_ELEMENTS (openers); o++)
    {
      if (openers[o] == fc_open_beneath_openat2 && !have_openat2 (fixture))
        continue;
      for (gsize i = 0; i < G_N_ELEMENTS (no_proc_cases); i++)
        {
          g_autoptr(GError) error = NULL;
          struct stat st;
          int fd;

          g_test_message ("opener %" G_GSIZE_FORMAT ", name: %s", o, no_proc_cases[i].name);
          fd = openers[o] (fixture->root_fd, no_proc_cases[i].name, &st, &error);
          if (no_proc_cases[i].content != NULL)
            {
              char buf[64];
              ssize_t n;

              g_assert_no_error (error);
              n = read (fd, buf, sizeof buf);
              g_assert_cmpmem (buf, n, no_proc_cases[i].content, strlen (no_proc_cases[i].content));
              g_close (fd, NULL);
            }
          else
            {
              g_assert_cmpint (fd, ==, -1);
              g_assert_error (error, FC_ERROR, (gint) no_proc_cases[i].code);
            }
        }
    }
  /* LeakSanitizer reads /proc at exit. */
  g_assert_cmpint (umount2 ("/proc", MNT_DETACH), ==, 0);
}

static void
test_default (Fixture       *fixture,
              gconstpointer  data)
{
  check_opener (fixture, fc_open_beneath);
}

/* The cached hit's check: plain directories down to a regular file, no
 * link anywhere, not even one that stays inside (the full path's to judge). */
static void
test_stat_plain (Fixture       *fixture,
                 gconstpointer  data)
{
  static const struct {
    const char *name;
    gboolean plain;
  } plain_cases[] = {
    { "a.txt", TRUE },
    { "sub/b.txt", TRUE },
    { "to-a", FALSE },
    { "sub/up-a", FALSE },
    { "subdir-link/b.txt", FALSE },
    { "self/a.txt", FALSE },
    { "parent/root/a.txt", FALSE },
    { "abs", FALSE },
    { "sub", FALSE },
    { "fifo", FALSE },
    { "missing", FALSE },
    { "sub/missing", FALSE },
    { "a.txt/x", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (plain_cases); i++)
    {
      struct stat st;
      gboolean plain;

      g_test_message ("name: %s", plain_cases[i].name);
      plain = fc_stat_beneath_plain (fixture->root_fd, plain_cases[i].name, &st);
      g_assert_cmpint (plain, ==, plain_cases[i].plain);
      if (plain)
        g_assert_true (S_ISREG (st.st_mode));
    }
}

/* The directory opener: the same confinement, directories only. */
static void
test_open_dir (Fixture       *fixture,
               gconstpointer  data)
{
  static const struct {
    const char *name;
    const char *child;   /* a file it holds; NULL: refused with code */
    FcError code;
  } dir_cases[] = {
    { "", "a.txt" },
    { "sub", "b.txt" },
    { "subdir-link", "b.txt" },
    { "self", "a.txt" },
    { "parent/root", "a.txt" },
    { "sub/deep", "." },
    { "a.txt", NULL, FC_ERROR_NOT_FOUND },
    { "fifo", NULL, FC_ERROR_NOT_FOUND },
    { "missing", NULL, FC_ERROR_NOT_FOUND },
    { "dangling", NULL, FC_ERROR_NOT_FOUND },
    { "parent", NULL, FC_ERROR_OUTSIDE_ROOT },
    { "slash", NULL, FC_ERROR_OUTSIDE_ROOT },
    { "parent/outside", NULL, FC_ERROR_OUTSIDE_ROOT },
    { "loop-a", NULL, FC_ERROR_LINK_LOOP },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (dir_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      struct stat st;
      struct stat child;
      int fd;

      g_test_message ("name: %s", dir_cases[i].name);
      fd = fc_open_dir_beneath (fixture->root_fd, dir_cases[i].name, &st, &error);
      if (dir_cases[i].child == NULL)
        {
          g_assert_cmpint (fd, ==, -1);
          g_assert_error (error, FC_ERROR, (gint) dir_cases[i].code);
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (S_ISDIR (st.st_mode));
      /* Readable, not merely O_PATH. */
      g_assert_cmpint (fcntl (fd, F_GETFL) & O_ACCMODE, ==, O_RDONLY);
      g_assert_cmpint (fstatat (fd, dir_cases[i].child, &child, 0), ==, 0);
      g_close (fd, NULL);
    }
}

/* A link shown as what it resolves to, and only beneath the root. */
static void
test_stat (Fixture       *fixture,
           gconstpointer  data)
{
  static const struct {
    const char *name;
    mode_t type;         /* 0: refused with code */
    FcError code;
  } stat_cases[] = {
    { "a.txt", S_IFREG },
    { "to-a", S_IFREG },
    { "abs-in", S_IFREG },
    { "sub", S_IFDIR },
    { "subdir-link", S_IFDIR },
    { "fifo", S_IFIFO },
    { "dangling", 0, FC_ERROR_NOT_FOUND },
    { "rel-escape", 0, FC_ERROR_OUTSIDE_ROOT },
    { "parent", 0, FC_ERROR_OUTSIDE_ROOT },
    { "loop-a", 0, FC_ERROR_LINK_LOOP },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (stat_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      struct stat st;
      gboolean ok;

      g_test_message ("name: %s", stat_cases[i].name);
      ok = fc_stat_beneath (fixture->root_fd, stat_cases[i].name, &st, &error);
      if (stat_cases[i].type != 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (st.st_mode & S_IFMT, ==, stat_cases[i].type);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, FC_ERROR, (gint) stat_cases[i].code);
        }
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/beneath/openat2", Fixture, NULL, fixture_set_up, test_openat2, fixture_tear_down);
  g_test_add ("/beneath/walk", Fixture, NULL, fixture_set_up, test_walk, fixture_tear_down);
  g_test_add ("/beneath/default", Fixture, NULL, fixture_set_up, test_default, fixture_tear_down);
  g_test_add ("/beneath/openat2/fifo-writer-waits", Fixture, fc_open_beneath_openat2,
              fixture_set_up, test_fifo_writer_waits, fixture_tear_down);
  g_test_add ("/beneath/walk/fifo-writer-waits", Fixture, fc_open_beneath_walk,
              fixture_set_up, test_fifo_writer_waits, fixture_tear_down);
  g_test_add ("/beneath/stat-plain", Fixture, NULL, fixture_set_up, test_stat_plain, fixture_tear_down);
  g_test_add ("/beneath/open-dir", Fixture, NULL, fixture_set_up, test_open_dir, fixture_tear_down);
  g_test_add ("/beneath/stat", Fixture, NULL, fixture_set_up, test_stat, fixture_tear_down);
  g_test_add ("/beneath/no-proc", Fixture, NULL, fixture_set_up, test_no_proc, fixture_tear_down);
  return g_test_run ();
}
