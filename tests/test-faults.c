/* Faults found from outside (issue 8), each as a kind: the real daemon
 * against what an unlucky admin or a hostile client does. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define MiB (1024 * 1024)


/* Publishing by atomic rename, or a chmod, while a large file streams:
 * the open file is intact, so the transfer ends whole (fault 5). */
static void
metadata_change_mid_stream (gboolean rename_over)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", NULL);
  gsize size = 48 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 11, size);
  g_autofree char *path = tu_daemon_path (d, "big");
  g_autofree char *line = NULL;
  g_autofree guint8 *head = NULL;
  g_autofree guint8 *rest = NULL;
  int fd = tu_connect_full ("127.0.0.1", d->port, 64 * 1024);
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);

  tu_send_str (fd, "GET big\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
  head = tu_read_exact (fd, 4 * MiB);
  g_assert_cmpmem (head, 4 * MiB, big, 4 * MiB);

  if (rename_over)
    {
      g_autofree char *new_path = tu_daemon_path (d, "big.new");

      g_free (tu_put_seeded (d, "big.new", 12, size));
      g_assert_cmpint (rename (new_path, path), ==, 0);
    }
  else
    g_assert_cmpint (chmod (path, 0600), ==, 0);

  rest = tu_read_exact (fd, size - 4 * MiB);
  g_assert_cmpmem (rest, size - 4 * MiB, big + 4 * MiB, size - 4 * MiB);
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_rename_over_mid_stream (void)
{
  metadata_change_mid_stream (TRUE);
}

static void
test_chmod_mid_stream (void)
{
  metadata_change_mid_stream (FALSE);
}

/* A capacity far beyond memory and a 64 GiB sparse file: the GET is
 * served (streamed), the daemon does not abort (fault 2). */
static void
test_capacity_beyond_memory (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "100G", NULL);
  g_autofree char *path = tu_daemon_path (d, "sparse");
  guint64 size = G_GUINT64_CONSTANT (64) << 30;
  g_autofree char *expected = g_strdup_printf ("OK %" G_GUINT64_FORMAT "\n", size);
  g_autofree char *line = NULL;
  g_autofree guint8 *head = NULL;
  int file = open (path, O_WRONLY | O_CREAT, 0644);
  int fd;

  g_assert_cmpint (file, >=, 0);
  if (ftruncate (file, (off_t) size) != 0)
    {
      g_test_skip ("no sparse 64 GiB file on this file system");
      close (file);
      tu_daemon_stop (d);
      return;
    }
  close (file);

  fd = tu_connect (d->port);
  tu_send_str (fd, "GET sparse\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
  head = tu_read_exact (fd, MiB);
  for (gsize i = 0; i < MiB; i++)
    g_assert_cmpuint (head[i], ==, 0);
  close (fd);

  /* Still serving. */
  fd = tu_connect (d->port);
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

/* A file truncated while it streams: the reply ends short with a close,
 * every byte that did arrive is the old version's, and the admin hears
 * of the cut without --verbose, the file named. */
static void
test_shrink_mid_stream (void)
{
  TuDaemon *d = tu_daemon_start_logged ("--cache-size", "1M", NULL);
  gsize size = 32 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 13, size);
  g_autofree char *path = tu_daemon_path (d, "big");
  g_autofree char *line = NULL;
  g_autofree guint8 *head = NULL;
  g_autofree guint8 *rest = g_malloc (size);
  g_autofree char *warning = NULL;
  int fd = tu_connect_full ("127.0.0.1", d->port, 64 * 1024);
  gsize got;

  tu_send_str (fd, "GET big\n");
  line = tu_read_line (fd);
  head = tu_read_exact (fd, MiB);
  g_assert_cmpint (truncate (path, 2 * MiB), ==, 0);
  got = tu_recv_until_closed (fd, rest, size);
  g_assert_cmpuint (MiB + got, <, size);
  g_assert_cmpmem (rest, got, big + MiB, got);
  close (fd);
  warning = tu_daemon_await_stderr (d, "WARNING");
  g_assert_nonnull (strstr (warning, path));
  g_assert_nonnull (strstr (warning, "of its 33554432 bytes"));
  tu_daemon_stop (d);
}

/* Starts a daemon whose pread() fails with EIO on any file named `eio`
 * (tests/eio-preload.c), logging to a pipe. */
static TuDaemon *
start_with_eio (void)
{
  char *saved_asan = tu_preload_begin ("EIO_PRELOAD");
  TuDaemon *d = tu_daemon_start_logged (NULL);

  tu_preload_end (saved_asan);
  return d;
}

/* A read error (EIO) is answered ERR 500 and logged without --verbose,
 * the file and the cause named; the same failure again and again is
 * logged at most five times a minute. */
static void
test_read_error_logged (void)
{
  g_autofree char *warning = NULL;
  g_autofree char *rest = NULL;
  g_auto(GStrv) lines = NULL;
  guint logged = 1;
  TuDaemon *d = start_with_eio ();
  int fd;

  tu_write_file_str (d->root, "eio", "on a failing disk\n");
  fd = tu_connect (d->port);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *line = tu_get_err (fd, "eio");

      tu_assert_err (line, "500");
    }
  tu_assert_ping (fd);
  close (fd);

  warning = tu_daemon_await_stderr (d, "WARNING");
  g_assert_nonnull (strstr (warning, "eio"));
  g_assert_nonnull (strstr (warning, "(status 500)"));
  g_assert_nonnull (strstr (warning, g_strerror (EIO)));
  g_assert_cmpint (tu_daemon_finish (d, SIGTERM, 10, &rest), ==, 0);
  lines = g_strsplit (rest, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "(status 500)") != NULL)
      logged++;
  g_assert_cmpuint (logged, ==, 5);
}

/* A read error while a large version is hashed in the pool is the
 * server's failure too: the STAT that waited for it is answered ERR 500,
 * and the admin is told, naming the file. */
static void
test_read_error_in_pool_logged (void)
{
  TuDaemon *d = start_with_eio ();
  g_autofree char *warning = NULL;
  g_autofree char *line = NULL;
  g_autofree guint8 *big = tu_make_content (31, 3 * MiB);
  int fd;

  tu_write_file (d->root, "big/eio", big, 3 * MiB);
  fd = tu_connect (d->port);
  tu_send_str (fd, "STAT big/eio\n");
  line = tu_read_line (fd);
  tu_assert_err (line, "500");
  tu_assert_ping (fd);
  close (fd);

  warning = tu_daemon_await_stderr (d, "WARNING");
  g_assert_nonnull (strstr (warning, "big/eio"));
  g_assert_nonnull (strstr (warning, "(status 500)"));
  tu_daemon_stop (d);
}

/* Sends a GET and reads its status line: the request has been received. */
static int
begin_get (TuDaemon   *d,
           const char *name,
           gsize       size,
           int         rcvbuf)
{
  int fd = tu_connect_full ("127.0.0.1", d->port, rcvbuf);
  g_autofree char *request = g_strdup_printf ("GET %s\n", name);
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  g_autofree char *line = NULL;

  tu_send_str (fd, request);
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
  return fd;
}

/* Asserts that the rest of the body on @fd is @data, then that the
 * daemon closes the connection. */
static void
assert_rest_then_close (int            fd,
                        const guint8  *data,
                        gsize          size)
{
  g_autofree guint8 *body = tu_read_exact (fd, size);

  g_assert_cmpmem (body, size, data, size);
  tu_expect_eof (fd);
  close (fd);
}

/* Waits until the daemon refuses connections: it has begun to stop. */
static void
await_refused (guint16 port)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  for (;;)
    {
      int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int result = connect (fd, (struct sockaddr *) &address, sizeof address);
      int saved_errno = errno;

      close (fd);
      if (result != 0 && saved_errno == ECONNREFUSED)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

/* SIGTERM with 16 transfers under way, cached and streamed, none read
 * yet: each ends whole, with the right bytes, then the daemon exits 0
 * (issue 13: a stop drains, as nginx's graceful quit does). */
static void
test_sigterm_drains_transfers (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "16M", "--drain-timeout", "60", NULL);
  gsize cached_size = 12 * MiB;
  gsize streamed_size = 24 * MiB;
  g_autofree guint8 *cached = tu_put_seeded (d, "cached", 14, cached_size);
  g_autofree guint8 *streamed = tu_put_seeded (d, "streamed", 15, streamed_size);
  int fds[16];

  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = i % 2 == 0 ? begin_get (d, "cached", cached_size, 8192)
                        : begin_get (d, "streamed", streamed_size, 8192);
  g_subprocess_send_signal (d->proc, SIGTERM);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      if (i % 2 == 0)
        assert_rest_then_close (fds[i], cached, cached_size);
      else
        assert_rest_then_close (fds[i], streamed, streamed_size);
    }
  g_assert_cmpint (tu_daemon_finish (d, 0, TU_IO_TIMEOUT_S, NULL), ==, 0);
}

/* After SIGTERM, while a transfer drains: an idle keep-alive connection
 * and one with half a request line are closed at once, unanswered, and
 * a new connection is refused. */
static void
test_sigterm_closes_idle (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", "--drain-timeout", "60", NULL);
  gsize size = 16 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 19, size);
  int idle = tu_connect (d->port);
  int partial = tu_connect (d->port);
  int transfer;

  tu_assert_ping (idle);
  tu_assert_ping (partial);
  tu_send_str (partial, "GET bi");
  transfer = begin_get (d, "big", size, 8192);

  g_subprocess_send_signal (d->proc, SIGTERM);
  tu_expect_eof (idle);
  tu_expect_eof (partial);
  await_refused (d->port);
  assert_rest_then_close (transfer, big, size);
  close (idle);
  close (partial);
  g_assert_cmpint (tu_daemon_finish (d, 0, TU_IO_TIMEOUT_S, NULL), ==, 0);
}

/* A request pipelined behind a transfer, received before SIGTERM, is
 * answered after it; then the connection closes. */
static void
test_sigterm_answers_pipelined (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", "--drain-timeout", "60", NULL);
  gsize size = 16 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 25, size);
  g_autofree guint8 *body = NULL;
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  g_autofree char *line = NULL;
  int fd = tu_connect_full ("127.0.0.1", d->port, 8192);

  tu_send_str (fd, "GET big\nPING\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
  g_subprocess_send_signal (d->proc, SIGTERM);
  body = tu_read_exact (fd, size);
  g_assert_cmpmem (body, size, big, size);
  g_clear_pointer (&line, g_free);
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, "OK PONG\n");
  tu_expect_eof (fd);
  close (fd);
  g_assert_cmpint (tu_daemon_finish (d, 0, TU_IO_TIMEOUT_S, NULL), ==, 0);
}

/* A client that stops reading does not hold the stop past the drain
 * timeout, while another one's transfer ends whole within it. The
 * bounds are hang guards only. */
static void
test_sigterm_stalled_client_bounded (void)
{
  /* Time enough for 24 MiB on a slow, loaded machine under ASan. */
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", "--drain-timeout", "8", NULL);
  gsize big_size = 32 * MiB;
  /* More than the socket buffers hold, so that only a drain sends it all. */
  gsize small_size = 24 * MiB;
  g_autofree guint8 *small = tu_put_seeded (d, "small", 21, small_size);
  int stalled;
  int reader;

  g_free (tu_put_seeded (d, "big", 20, big_size));
  stalled = begin_get (d, "big", big_size, 4096);
  reader = begin_get (d, "small", small_size, 65536);

  g_subprocess_send_signal (d->proc, SIGTERM);
  assert_rest_then_close (reader, small, small_size);
  g_assert_cmpint (tu_daemon_finish (d, 0, TU_IO_TIMEOUT_S, NULL), ==, 0);
  g_assert_true (tu_wait_closed (stalled, TU_IO_TIMEOUT_S * 1000, NULL));
  close (stalled);
}

/* A second SIGTERM stops at once, though a transfer still drains and the
 * drain timeout is an hour away. */
static void
test_second_sigterm_at_once (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", "--drain-timeout", "3600", NULL);
  gsize size = 32 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 22, size);
  g_autofree guint8 *some = NULL;
  int transfer = begin_get (d, "big", size, 4096);

  g_subprocess_send_signal (d->proc, SIGTERM);
  await_refused (d->port);
  /* More than any socket buffers hold: the transfer goes on. */
  some = tu_read_exact (transfer, 12 * MiB);
  g_assert_cmpmem (some, 12 * MiB, big, 12 * MiB);
  g_assert_cmpint (tu_daemon_finish (d, SIGTERM, TU_IO_TIMEOUT_S, NULL), ==, 0);
  g_assert_true (tu_wait_closed (transfer, TU_IO_TIMEOUT_S * 1000, NULL));
  close (transfer);
}

static guint
daemon_fds (TuDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (d->proc));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* 2000 connections cut at every stage (mid-line, mid-reply of a cached
 * and of a streamed file, reset): the daemon's descriptors come back to
 * their baseline. */
static void
test_connect_cut_cycles (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", NULL);
  g_autofree guint8 *cached = tu_put_seeded (d, "cached", 16, 256 * 1024);
  static const char *const sends[] = { "GET cach", "GET cached\n", "GET streamed\n", "PING\nGET streamed\n" };
  guint baseline;
  gint64 deadline;

  g_free (tu_put_seeded (d, "streamed", 17, 4 * MiB));
  /* Load the cached file once, so the baseline has its descriptors. */
  {
    int fd = tu_connect (d->port);

    tu_assert_get (fd, "cached", cached, 256 * 1024);
    close (fd);
  }
  g_usleep (100 * 1000);
  baseline = daemon_fds (d);

  for (guint i = 0; i < 2000; i++)
    {
      int fd = tu_connect_full ("127.0.0.1", d->port, 4096);

      tu_send_str (fd, sends[i % G_N_ELEMENTS (sends)]);
      if (i % 5 == 0)
        {
          struct linger reset = { 1, 0 };

          setsockopt (fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        }
      close (fd);
    }

  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (daemon_fds (d) > baseline)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  {
    int fd = tu_connect (d->port);

    tu_assert_get (fd, "cached", cached, 256 * 1024);
    close (fd);
  }
  tu_daemon_stop (d);
}

/* Clients that send LIST and never read: the replies held for them are
 * bounded (64 MiB in all); past it LIST answers ERR 500 and the daemon
 * goes on serving; once they are gone LIST works again (fault 3c). Each
 * reply here is 8 MB, twice what the kernel's send buffer can take. */
static void
test_unread_listings (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "512M", NULL);
  GString *requests = g_string_new (NULL);
  g_autoptr(GString) dir = g_string_new (NULL);
  int fd = tu_connect (d->port);
  int stalled[40];
  guint refused = 0;

  for (guint level = 0; level < 15; level++)
    {
      if (level > 0)
        g_string_append_c (dir, '/');
      for (guint i = 0; i < 250; i++)
        g_string_append_c (dir, 'd');
    }
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/%08u%0200u", dir->str, i, 0);

      tu_write_file_str (d->root, name, "x");
      g_string_append_printf (requests, "GET %s\n", name);
    }
  tu_send (fd, requests->str, requests->len);
  g_string_free (requests, TRUE);
  for (guint i = 0; i < 2000; i++)
    tu_assert_get_reply (fd, "x", 1);

  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    {
      stalled[i] = tu_connect_full ("127.0.0.1", d->port, 4096);
      tu_send_str (stalled[i], "LIST\n");
    }
  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    {
      g_autofree char *line = tu_read_line (stalled[i]);

      if (g_str_has_prefix (line, "ERR 500 "))
        refused++;
      else
        g_assert_cmpstr (line, ==, "OK 2000\n");
    }
  tu_assert_ping (fd);
  g_assert_cmpuint (refused, >, 0);
  g_assert_cmpuint (refused, <, G_N_ELEMENTS (stalled));
  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    close (stalled[i]);

  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    for (;;)
      {
        g_autofree char *line = NULL;

        tu_send_str (fd, "LIST\n");
        line = tu_read_line (fd);
        if (g_str_equal (line, "OK 2000\n"))
          break;
        g_assert_true (g_str_has_prefix (line, "ERR 500 "));
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (50 * 1000);
      }
    for (guint i = 0; i < 2000; i++)
      g_free (tu_read_line (fd));
  }
  close (fd);
  tu_daemon_stop (d);
}

/* A pseudo-file whose stat size (0) says nothing of its content gets one
 * answer, cached or not, and never content silently dropped (fault 7).
 * The daemon serves /proc/sys/kernel itself. */
static void
pseudo_file (const char *cache_size)
{
  const char *argv[] = {
    g_getenv ("FILECACHED"), "--config=/dev/null", "--no-dbus", "--host", "127.0.0.1",
    "--port", "0", "--cache-size", cache_size, "/proc/sys/kernel", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *port_line = NULL;
  g_autofree char *line = NULL;
  int fd;

  if (!g_file_test ("/proc/sys/kernel/ostype", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /proc/sys/kernel/ostype");
      return;
    }
  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  port_line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (port_line);

  fd = tu_connect ((guint16) g_ascii_strtoull (port_line, NULL, 10));
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&line, g_free);
      tu_send_str (fd, "GET ostype\n");
      line = tu_read_line (fd);
      g_assert_cmpstr (line, ==, "ERR 403 size does not match content\n");
    }
  /* GETFROM refuses it as GET does, 403 before 412, whatever digest. */
  {
    static const char *const digests[] = {
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  /* "" */
      "4b6b5d8fdd2a9c9a35f3d85ab0ae7f4d7f6e5b4c3a2918f7e6d5c4b3a2918f7e",
    };

    for (guint i = 0; i < G_N_ELEMENTS (digests); i++)
      {
        g_autofree char *request = g_strdup_printf ("GETFROM 0 %s ostype\n", digests[i]);

        g_clear_pointer (&line, g_free);
        tu_send_str (fd, request);
        line = tu_read_line (fd);
        g_assert_cmpstr (line, ==, "ERR 403 size does not match content\n");
      }
  }
  tu_assert_ping (fd);
  close (fd);
  g_subprocess_send_signal (proc, SIGTERM);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
}

static void
test_pseudo_file_cached (void)
{
  pseudo_file ("64M");
}

static void
test_pseudo_file_uncached (void)
{
  pseudo_file ("0");
}

/* An in-place rewrite of a streamed file with its mtime put back, past
 * the part already sent: the reply is cut, never mixed (found by a
 * black-box test; fault 5's metadata changes still go on). */
static void
test_mtime_put_back_mid_stream (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "1M", NULL);
  gsize size = 48 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 18, size);
  g_autofree char *path = tu_daemon_path (d, "big");
  g_autofree char *line = NULL;
  g_autofree guint8 *head = NULL;
  g_autofree guint8 *rest = g_malloc (size);
  int fd = tu_connect_full ("127.0.0.1", d->port, 64 * 1024);
  struct stat st;
  struct timespec times[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
  gsize got;
  int w;

  tu_send_str (fd, "GET big\n");
  line = tu_read_line (fd);
  head = tu_read_exact (fd, 4 * MiB);
  g_assert_cmpint (stat (path, &st), ==, 0);
  times[1] = st.st_mtim;
  g_usleep (20 * 1000);
  w = open (path, O_WRONLY);
  g_assert_cmpint (w, >=, 0);
  g_assert_cmpint (pwrite (w, "QQQQ", 4, (off_t) (40 * MiB)), ==, 4);
  g_assert_cmpint (futimens (w, times), ==, 0);
  close (w);
  got = tu_recv_until_closed (fd, rest, size);
  g_assert_cmpuint (4 * MiB + got, <, size);
  g_assert_cmpmem (rest, got, big + 4 * MiB, got);
  close (fd);
  tu_daemon_stop (d);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);

  g_test_add_func ("/faults/stream/rename-over-mid-stream", test_rename_over_mid_stream);
  g_test_add_func ("/faults/stream/chmod-mid-stream", test_chmod_mid_stream);
  g_test_add_func ("/faults/stream/mtime-put-back-mid-stream", test_mtime_put_back_mid_stream);
  g_test_add_func ("/faults/memory/capacity-beyond-memory", test_capacity_beyond_memory);
  g_test_add_func ("/faults/stream/shrink-mid-stream", test_shrink_mid_stream);
  g_test_add_func ("/faults/read-error/logged", test_read_error_logged);
  g_test_add_func ("/faults/read-error/in-pool-logged", test_read_error_in_pool_logged);
  g_test_add_func ("/faults/signal/sigterm-drains-transfers", test_sigterm_drains_transfers);
  g_test_add_func ("/faults/signal/sigterm-closes-idle", test_sigterm_closes_idle);
  g_test_add_func ("/faults/signal/sigterm-answers-pipelined", test_sigterm_answers_pipelined);
  g_test_add_func ("/faults/signal/sigterm-stalled-client-bounded", test_sigterm_stalled_client_bounded);
  g_test_add_func ("/faults/signal/second-sigterm-at-once", test_second_sigterm_at_once);
  g_test_add_func ("/faults/descriptors/connect-cut-cycles", test_connect_cut_cycles);
  g_test_add_func ("/faults/memory/unread-listings", test_unread_listings);
  g_test_add_func ("/faults/pseudo-file/cached", test_pseudo_file_cached);
  g_test_add_func ("/faults/pseudo-file/uncached", test_pseudo_file_uncached);
  return g_test_run ();
}
