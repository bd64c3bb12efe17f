/* One version, always (issue 13): whatever a writer does while the real
 * daemon reads, no body and no digest is of a mix of two versions, and
 * once the writer is done both are of exactly what it wrote. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#define SIZE (1024 * 1024)

/* A file of version A, cached by one GET, then half overwritten with
 * version B by @start_writer, which keeps the writer alive. */
typedef struct {
  TuDaemon *d;
  int fd;
  char *path;          /* (owned) */
  guint8 *a;           /* (owned) */
  guint8 *b;           /* (owned) */
  int writer_fd;       /* -1 once closed */
  guint8 *map;         /* (nullable): a shared writable mapping */
} Rewrite;

static void
rewrite_begin (Rewrite  *r,
               gboolean  through_mmap)
{
  r->d = tu_daemon_start (NULL);
  r->fd = tu_connect (r->d->port);
  r->a = tu_put_seeded (r->d, "f", 1, SIZE);
  r->b = tu_make_content (2, SIZE);
  r->path = tu_daemon_path (r->d, "f");
  tu_assert_get (r->fd, "f", r->a, SIZE);

  r->writer_fd = open (r->path, O_RDWR);
  g_assert_cmpint (r->writer_fd, >=, 0);
  if (through_mmap)
    {
      r->map = mmap (NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->writer_fd, 0);
      g_assert_true (r->map != MAP_FAILED);
      /* The mapping alone keeps the file open for writing. */
      close (r->writer_fd);
      r->writer_fd = -1;
      memcpy (r->map, r->b, SIZE / 2);
    }
  else
    g_assert_cmpint (pwrite (r->writer_fd, r->b, SIZE / 2, 0), ==, SIZE / 2);
}

static void
rewrite_end (Rewrite *r)
{
  if (r->map != NULL)
    {
      memcpy (r->map + SIZE / 2, r->b + SIZE / 2, SIZE / 2);
      g_assert_cmpint (munmap (r->map, SIZE), ==, 0);
    }
  else
    {
      g_assert_cmpint (pwrite (r->writer_fd, r->b + SIZE / 2, SIZE / 2, SIZE / 2), ==, SIZE / 2);
      g_assert_cmpint (close (r->writer_fd), ==, 0);
    }
}

static void
rewrite_free (Rewrite *r)
{
  close (r->fd);
  tu_daemon_stop (r->d);
  g_free (r->path);
  g_free (r->a);
  g_free (r->b);
}

static char *
stat_line (int         fd,
           const char *name)
{
  g_autofree char *request = g_strdup_printf ("STAT %s\n", name);

  tu_send_str (fd, request);
  return tu_read_line (fd);
}

/* While the writer is under way, GET and STAT are refused (ERR 500, the
 * server cannot read one version), never answered with a mix; after it
 * ends, they give exactly the new version and its SHA-256. */
static void
one_version (gboolean through_mmap)
{
  Rewrite r = { .writer_fd = -1 };
  g_autofree char *err = NULL;
  g_autofree char *stat_err = NULL;
  g_autofree char *stat_ok = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *expected = NULL;

  rewrite_begin (&r, through_mmap);

  err = tu_get_err (r.fd, "f");
  tu_assert_err (err, "500");
  stat_err = stat_line (r.fd, "f");
  tu_assert_err (stat_err, "500");
  tu_assert_ping (r.fd);

  rewrite_end (&r);

  tu_assert_get (r.fd, "f", r.b, SIZE);
  digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, r.b, SIZE);
  expected = g_strdup_printf ("OK %d %s\n", SIZE, digest);
  stat_ok = stat_line (r.fd, "f");
  g_assert_cmpstr (stat_ok, ==, expected);
  /* Once more, from whatever the daemon kept. */
  tu_assert_get (r.fd, "f", r.b, SIZE);
  rewrite_free (&r);
}

static void
test_writer_open (void)
{
  one_version (FALSE);
}

static void
test_writer_mmap (void)
{
  one_version (TRUE);
}

typedef struct {
  const char *path;
  const guint8 *data;
  gsize size;
} Rewriter;

/* One pwrite() of the whole new version over the old, as a copy tool
 * rewriting in place does: mtime and ctime are stamped when it begins. */
static gpointer
rewrite_in_place (gpointer data)
{
  Rewriter *rewriter = data;
  int fd = open (rewriter->path, O_WRONLY);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, rewriter->data, rewriter->size, 0), ==, (gssize) rewriter->size);
  close (fd);
  return NULL;
}

/* Reads one reply to GET or STAT: an ERR 500 (no version could be read
 * now), or exactly one of the two versions, or its digest. */
static void
assert_one_of (int            fd,
               const char    *command,
               const guint8  *a,
               const guint8  *b,
               gsize          size)
{
  g_autofree char *line = NULL;
  g_autofree char *request = g_strdup_printf ("%s big\n", command);

  tu_send_str (fd, request);
  line = tu_read_line (fd);
  g_assert_nonnull (line);
  if (g_str_has_prefix (line, "ERR "))
    tu_assert_err (line, "500");
  else if (g_str_equal (command, "GET"))
    {
      g_autofree guint8 *body = tu_read_exact (fd, size);

      g_assert_true (memcmp (body, a, size) == 0 || memcmp (body, b, size) == 0);
    }
  else
    {
      g_autofree char *digest_a = g_compute_checksum_for_data (G_CHECKSUM_SHA256, a, size);
      g_autofree char *digest_b = g_compute_checksum_for_data (G_CHECKSUM_SHA256, b, size);
      g_autofree char *ok_a = g_strdup_printf ("OK %" G_GSIZE_FORMAT " %s\n", size, digest_a);
      g_autofree char *ok_b = g_strdup_printf ("OK %" G_GSIZE_FORMAT " %s\n", size, digest_b);

      g_assert_true (g_str_equal (line, ok_a) || g_str_equal (line, ok_b));
    }
}

/* GET and STAT of a file while one long pwrite() rewrites it in place:
 * each is one version or refused, never a mix; after, the new one. */
static void
test_long_pwrite (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", NULL);
  gsize size = 64 * SIZE;
  g_autofree guint8 *first = tu_put_seeded (d, "big", 4, size);
  g_autofree guint8 *second = tu_make_content (5, size);
  const guint8 *versions[2] = { first, second };
  g_autofree char *path = tu_daemon_path (d, "big");
  int get_fd = tu_connect (d->port), stat_fd = tu_connect (d->port);

  for (guint round = 0; round < 3; round++)
    {
      const guint8 *old = versions[round % 2], *new = versions[(round + 1) % 2];
      Rewriter rewriter = { path, new, size };
      GThread *thread = g_thread_new ("rewriter", rewrite_in_place, &rewriter);

      assert_one_of (stat_fd, "STAT", old, new, size);
      assert_one_of (get_fd, "GET", old, new, size);
      g_thread_join (thread);
      assert_one_of (stat_fd, "STAT", new, new, size);
      tu_assert_get (get_fd, "big", new, size);
    }
  close (get_fd);
  close (stat_fd);
  tu_daemon_stop (d);
}

typedef struct {
  const char *path;
  gint stop;            /* (atomic) */
  guint opens;
} Opener;

/* Opens the file for writing again and again, writing nothing: each
 * open() that meets a read's lease breaks it. */
static gpointer
open_for_writing (gpointer data)
{
  Opener *opener = data;

  while (!g_atomic_int_get (&opener->stop))
    {
      int fd = open (opener->path, O_WRONLY);

      g_assert_cmpint (fd, >=, 0);
      close (fd);
      opener->opens++;
      g_usleep (100);
    }
  return NULL;
}

/* A writer opening a file while the daemon streams it breaks the read's
 * lease; the break's signal (SIGIO, which ends a process by default) must
 * cost the daemon nothing. The stream ends whole or is cut, and what
 * came is always the file's bytes. */
static void
test_lease_break_mid_stream (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", NULL);
  gsize size = 64 * SIZE;
  g_autofree guint8 *content = tu_put_seeded (d, "big", 3, size);
  g_autofree char *path = tu_daemon_path (d, "big");
  g_autofree guint8 *got = g_malloc (size + 7);
  Opener opener = { path, 0, 0 };
  GThread *thread;
  guint cut = 0;

  thread = g_thread_new ("opener", open_for_writing, &opener);
  for (guint round = 0; round < 4; round++)
    {
      int fd = tu_connect (d->port);
      g_autofree char *line = NULL;
      gsize n;

      tu_send_str (fd, "GET big\nQUIT\n");
      line = tu_read_line (fd);
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "ERR "))
        {
          tu_assert_err (line, "500");
          close (fd);
          continue;
        }
      n = tu_recv_until_closed (fd, got, size + 7);
      if (n == size + 7)
        g_assert_cmpmem (got + size, 7, "OK BYE\n", 7);
      else
        cut++;
      g_assert_cmpmem (got, MIN (n, size), content, MIN (n, size));
      close (fd);
    }
  g_atomic_int_set (&opener.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u opens, %u of 4 streams cut", opener.opens, cut);

  {
    int fd = tu_connect (d->port);

    tu_assert_ping (fd);
    tu_assert_get (fd, "big", content, size);
    close (fd);
  }
  tu_daemon_stop (d);
}

int
main (int argc, char **argv)
{
  tu_init (&argc, &argv);
  g_test_add_func ("/versions/writer-open-mid-write", test_writer_open);
  g_test_add_func ("/versions/writer-mmap-mid-write", test_writer_mmap);
  g_test_add_func ("/versions/long-pwrite", test_long_pwrite);
  g_test_add_func ("/versions/lease-break-mid-stream", test_lease_break_mid_stream);
  return g_test_run ();
}
