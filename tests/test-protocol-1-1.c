/* PROTOCOL.md version 1.1 against the real daemon: STAT and GETFROM. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <utime.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define MiB (1024 * 1024)

static char *
sha256_hex (const void *data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

static void
assert_line (int fd, const char *expected)
{
  g_autofree char *line = tu_read_line (fd);

  g_assert_cmpstr (line, ==, expected);
}

static void
assert_stat (int fd, const char *name, const void *data, gsize len)
{
  g_autofree char *hex = sha256_hex (data, len);
  g_autofree char *request = g_strdup_printf ("STAT %s\n", name);
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT " %s\n", len, hex);

  tu_send_str (fd, request);
  assert_line (fd, expected);
}

static void
send_getfrom (int fd, guint64 offset, const char *hex, const char *name)
{
  g_autofree char *request = g_strdup_printf ("GETFROM %" G_GUINT64_FORMAT " %s %s\n",
                                              offset, hex, name);

  tu_send_str (fd, request);
}

/* The digest is sha256sum's, for cached and for streamed files. */
static void
stat_digests (const char *cache_size)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", cache_size, NULL);
  g_autofree guint8 *big = tu_make_content (1, 3 * MiB + 7);
  int fd = tu_connect (d->port);

  tu_write_file_str (d->root, "docs/readme.txt", "hello world\n");
  tu_write_file (d->root, "big", big, 3 * MiB + 7);
  tu_write_file (d->root, "empty", "", 0);
  tu_send_str (fd, "STAT docs/readme.txt\n");
  assert_line (fd, "OK 12 a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447\n");
  assert_stat (fd, "big", big, 3 * MiB + 7);
  assert_stat (fd, "big", big, 3 * MiB + 7);
  assert_stat (fd, "empty", "", 0);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_stat_cached (void)
{
  stat_digests ("64M");
}

static void
test_stat_streamed (void)
{
  stat_digests ("1M");
}

/* GETFROM at 0, in the middle, at the size and past it. */
static void
getfrom_offsets (const char *cache_size)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", cache_size, NULL);
  gsize size = 2 * MiB + 3;
  g_autofree guint8 *data = tu_make_content (2, size);
  g_autofree char *hex = sha256_hex (data, size);
  g_autofree char *wrong = sha256_hex ("x", 1);
  int fd = tu_connect (d->port);

  tu_write_file (d->root, "f", data, size);
  send_getfrom (fd, 0, hex, "f");
  tu_assert_get_reply (fd, data, size);
  send_getfrom (fd, 1000001, hex, "f");
  tu_assert_get_reply (fd, data + 1000001, size - 1000001);
  send_getfrom (fd, size, hex, "f");
  assert_line (fd, "OK 0\n");
  send_getfrom (fd, size + 1, hex, "f");
  assert_line (fd, "ERR 416 offset beyond end of file\n");
  /* 412 before 416, 404 before 412. */
  send_getfrom (fd, size + 1, wrong, "f");
  assert_line (fd, "ERR 412 file changed\n");
  send_getfrom (fd, 0, wrong, "nope");
  assert_line (fd, "ERR 404 no such file\n");
  tu_send_str (fd, "GETFROM 99999999999999999999999999 ");
  tu_send_str (fd, hex);
  tu_send_str (fd, " f\n");
  assert_line (fd, "ERR 416 offset beyond end of file\n");
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_getfrom_cached (void)
{
  getfrom_offsets ("64M");
}

static void
test_getfrom_streamed (void)
{
  getfrom_offsets ("1M");
}

/* After an in-place rewrite and after an atomic rename, the old digest
 * is refused and STAT gives the new one. */
static void
test_getfrom_changed (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *old_hex = sha256_hex ("version one\n", 12);
  g_autofree char *path = tu_daemon_path (d, "f");
  g_autofree char *tmp = tu_daemon_path (d, "f.tmp");
  int fd = tu_connect (d->port);
  FILE *file;

  tu_write_file_str (d->root, "f", "version one\n");
  send_getfrom (fd, 8, old_hex, "f");
  tu_assert_get_reply (fd, "one\n", 4);

  /* In place, same length, a later mtime. */
  file = fopen (path, "r+");
  g_assert_nonnull (file);
  fputs ("version two\n", file);
  fclose (file);
  g_assert_cmpint (utime (path, NULL), ==, 0);
  {
    struct timespec times[2] = { { 0, UTIME_OMIT }, { 4000000000, 0 } };

    g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
  }
  send_getfrom (fd, 8, old_hex, "f");
  assert_line (fd, "ERR 412 file changed\n");
  assert_stat (fd, "f", "version two\n", 12);

  /* Atomically replaced. */
  g_assert_true (g_file_set_contents (tmp, "version three\n", 14, NULL));
  g_assert_cmpint (rename (tmp, path), ==, 0);
  {
    g_autofree char *two_hex = sha256_hex ("version two\n", 12);

    send_getfrom (fd, 0, two_hex, "f");
  }
  assert_line (fd, "ERR 412 file changed\n");
  assert_stat (fd, "f", "version three\n", 14);
  close (fd);
  tu_daemon_stop (d);
}

/* Malformed GETFROM and STAT lines are 400, and the connection stays. */
static void
test_malformed (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *hex = sha256_hex ("x", 1);
  g_autofree char *upper = g_ascii_strup (hex, -1);
  g_autofree char *short_hex = g_strndup (hex, 63);
  const char *const lines[] = {
    "GETFROM",
    "GETFROM ",
    "GETFROM 0",
    "GETFROM 0 ",
    "GETFROM 01 %s f",
    "GETFROM -1 %s f",
    "GETFROM +1 %s f",
    "GETFROM 1x %s f",
    "GETFROM  0 %s f",
    "GETFROM 0  %s f",
    "GETFROM 0 %s",
    "GETFROM 0 %s ",
    "GETFROM 0 %s /f",
    "GETFROM 0 %s f/../g",
    "STAT",
    "STAT ",
    "STAT /f",
    "STAT a//b",
    "stat f",
    "getfrom 0 %s f",
  };
  int fd = tu_connect (d->port);

  tu_write_file_str (d->root, "f", "x");
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_auto(GStrv) parts = g_strsplit (lines[i], "%s", -1);
      g_autofree char *line = g_strjoinv (hex, parts);
      g_autofree char *request = g_strconcat (line, "\n", NULL);
      g_autofree char *reply = NULL;

      g_test_message ("%s", line);
      tu_send_str (fd, request);
      reply = tu_read_line (fd);
      tu_assert_err (reply, "400");
    }
  {
    const char *const bad_digests[] = { upper, short_hex };

    for (guint i = 0; i < G_N_ELEMENTS (bad_digests); i++)
      {
        g_autofree char *request = g_strdup_printf ("GETFROM 0 %s f\n", bad_digests[i]);
        g_autofree char *reply = NULL;

        tu_send_str (fd, request);
        reply = tu_read_line (fd);
        tu_assert_err (reply, "400");
      }
  }
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

/* STAT and GETFROM are counted like GET: LIST's hits count all three. */
static void
test_counted_like_get (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *hex = sha256_hex ("hello\n", 6);
  g_autoptr(GPtrArray) entries = NULL;
  int fd = tu_connect (d->port);

  tu_write_file_str (d->root, "f", "hello\n");
  g_usleep (20 * 1000);
  tu_send_str (fd, "STAT f\n");
  g_free (tu_read_line (fd));
  send_getfrom (fd, 1, hex, "f");
  tu_assert_get_reply (fd, "ello\n", 5);
  tu_assert_get (fd, "f", "hello\n", 6);
  entries = tu_list (fd);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_cmpuint (tu_list_find (entries, "f")->hits, ==, 3);
  close (fd);
  tu_daemon_stop (d);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);

  g_test_add_func ("/protocol-1.1/stat/cached", test_stat_cached);
  g_test_add_func ("/protocol-1.1/stat/streamed", test_stat_streamed);
  g_test_add_func ("/protocol-1.1/getfrom/cached", test_getfrom_cached);
  g_test_add_func ("/protocol-1.1/getfrom/streamed", test_getfrom_streamed);
  g_test_add_func ("/protocol-1.1/getfrom/changed", test_getfrom_changed);
  g_test_add_func ("/protocol-1.1/malformed", test_malformed);
  g_test_add_func ("/protocol-1.1/counted-like-get", test_counted_like_get);
  return g_test_run ();
}
