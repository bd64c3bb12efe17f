/* No request holds a worker: the real daemon with one worker thread,
 * while a client has a large file hashed, loaded or streamed as fast as
 * it can read, still answers another client. Nothing here is timed: each
 * test checks which reply comes first. The files are sparse, so hashing
 * or loading them costs the daemon processor time (seconds) but no disk. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutil.h"

#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

static void
put_sparse (TuDaemon   *d,
            const char *name,
            guint64     size)
{
  g_autofree char *path = tu_daemon_path (d, name);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) size), ==, 0);
  tu_note_written (fd);
  g_assert_cmpint (close (fd), ==, 0);
  /* Cached, not served from disk as a version of the current tick. */
  tu_wait_written ();
}

/* Whether a reply (any byte of it) has come on @fd, without waiting. */
static gboolean
reply_arrived (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };

  return poll (&p, 1, 0) == 1;
}

/* Bytes the daemon has read through read() and pread(), from its own
 * /proc/PID/io. */
static guint64
daemon_read_bytes (TuDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/io", g_subprocess_get_identifier (d->proc));
  g_autofree char *io = NULL;

  g_assert_true (g_file_get_contents (path, &io, NULL, NULL));
  g_assert_true (g_str_has_prefix (io, "rchar:"));
  return g_ascii_strtoull (io + strlen ("rchar:"), NULL, 10);
}

/* Two STATs of one large uncached file and a PING, one worker: the PING
 * is answered while the hash runs, and both STATs get the digest of the
 * one computation (the file is read once, not twice). */
static void
test_stat_while_hashing (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1M", NULL);
  guint64 size = 256 * MiB;
  guint64 read_before;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  int a, b, c;

  put_sparse (d, "big", size);
  a = tu_connect (d->port);
  b = tu_connect (d->port);
  c = tu_connect (d->port);
  tu_assert_ping (c);
  read_before = daemon_read_bytes (d);

  tu_send_str (a, "STAT big\n");
  tu_send_str (b, "STAT big\n");
  tu_assert_ping (c);
  g_assert_false (reply_arrived (a));
  g_assert_false (reply_arrived (b));

  first = tu_read_line (a);
  second = tu_read_line (b);
  g_assert_nonnull (first);
  g_assert_true (g_str_has_prefix (first, "OK 268435456 "));
  g_assert_cmpstr (first, ==, second);
  g_assert_cmpuint (daemon_read_bytes (d) - read_before, <, size + size / 2);

  /* Both connections go on as usual. */
  tu_assert_ping (a);
  tu_assert_ping (b);
  close (a);
  close (b);
  close (c);
  tu_daemon_stop (d);
}

/* A GET that misses a file worth caching, but large: the load runs
 * elsewhere, a PING is answered meanwhile, the GET's reply comes after,
 * and the next GET is a hit. */
static void
test_get_while_loading (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1G", NULL);
  g_autofree char *status = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  int a, c;

  put_sparse (d, "big", 512 * MiB);
  a = tu_connect (d->port);
  c = tu_connect (d->port);
  tu_assert_ping (c);

  tu_send_str (a, "GET big\n");
  tu_assert_ping (c);
  g_assert_false (reply_arrived (a));
  status = tu_read_line (a);
  g_assert_cmpstr (status, ==, "OK 536870912\n");
  close (a);

  entries = tu_list (c);
  g_assert_nonnull (tu_list_find (entries, "big"));
  g_assert_cmpuint (tu_list_find (entries, "big")->hits, ==, 1);
  close (c);
  tu_daemon_stop (d);
}

/* A connection whose receive window takes @window bytes: the daemon
 * never meets a full socket writing to it, as with a client that reads as
 * fast as the daemon writes. -1 without CAP_NET_ADMIN (needed above
 * net.core.rmem_max). */
static int
connect_wide (guint16 port,
              int     window)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  /* Before connect(): the window scale is chosen by the SYN. */
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &window, sizeof window) != 0)
    {
      close (fd);
      return -1;
    }
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  return fd;
}

/* Sends a PING on @c once @a has begun to receive, and returns how many
 * bytes of its replies @a had when the PONG came. */
static guint64
ping_while_busy (int a,
                 int c)
{
  g_autofree char *pong = NULL;
  int queued = 0;

  g_assert_cmpint (poll (&(struct pollfd) { .fd = a, .events = POLLIN }, 1, TU_IO_TIMEOUT_S * 1000), ==, 1);
  tu_send_str (c, "PING\n");
  pong = tu_read_line (c);
  g_assert_cmpstr (pong, ==, "OK PONG\n");
  g_assert_cmpint (ioctl (a, FIONREAD, &queued), ==, 0);
  return (guint64) queued;
}

/* A client asks for a large streamed file into a window that takes all
 * of it: a PING on another connection of the same worker, sent once the
 * stream has begun, is answered before the stream ends. */
static void
test_ping_while_streaming (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1M", NULL);
  guint64 size = 64 * MiB;
  /* The kernel advertises about a third of it (skb overheads). */
  int a = connect_wide (d->port, (int) (16 * size));
  int c;

  if (a < 0)
    {
      g_test_skip ("no CAP_NET_ADMIN for a receive window of the whole file");
      tu_daemon_stop (d);
      return;
    }
  put_sparse (d, "huge", size);
  c = tu_connect (d->port);
  tu_send_str (a, "GET huge\n");
  g_assert_cmpuint (ping_while_busy (a, c), <, strlen ("OK 67108864\n") + size);

  close (a);
  tu_assert_ping (c);
  close (c);
  tu_daemon_stop (d);
}

/* A stop while requests wait for long work (a hash of a 4 GiB file, a
 * load): the work is abandoned, the parked connections closed, and the
 * daemon exits at once and cleanly (under ASan: no leak, no use after
 * free). */
static void
test_stop_while_parked (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1G", NULL);
  int a, b, c;

  put_sparse (d, "huge", 4096 * MiB);
  put_sparse (d, "big", 512 * MiB);
  a = tu_connect (d->port);
  b = tu_connect (d->port);
  c = tu_connect (d->port);
  tu_send_str (a, "STAT huge\n");
  tu_send_str (b, "GET big\n");
  tu_assert_ping (c);
  g_assert_false (reply_arrived (a));
  tu_daemon_stop (d);
  close (a);
  close (b);
  close (c);
}

/* The daemon's pool runs one job per processor, at least 2: enough big
 * STATs to fill it twice over, and more queued behind. */
static guint
pool_overfill (void)
{
  return 2 * MAX (2, g_get_num_processors ()) + 2;
}

/* Sends "STAT big<i>" for @n sparse files of @size bytes, each from a
 * client of its own that closes at once; returns what the daemon had
 * read before. */
static guint64
stat_and_leave (TuDaemon *d,
                guint     n,
                guint64   size)
{
  g_autofree int *fds = g_new (int, n);
  guint64 before;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("big%u", i);

      put_sparse (d, name, size);
    }
  before = daemon_read_bytes (d);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *line = g_strdup_printf ("STAT big%u\n", i);

      fds[i] = tu_connect (d->port);
      tu_send_str (fds[i], line);
    }
  /* Gone for good: a reset, as a client that cancels, or one killed with
   * unread data, leaves (a FIN may be a half-close, still owed its answer). */
  for (guint i = 0; i < n; i++)
    {
      struct linger abort_on_close = { 1, 0 };

      g_assert_cmpint (setsockopt (fds[i], SOL_SOCKET, SO_LINGER, &abort_on_close,
                                   sizeof abort_on_close), ==, 0);
      close (fds[i]);
    }
  return before;
}

/* Clients have large files hashed and leave without their answers: the
 * work nobody waits for is given up, queued or running, and a GET that
 * needs a load in the pool (3 MiB) is answered before any of those
 * hashes could have ended: the daemon has read less than half a file. */
static void
test_small_after_abandoned (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "64M", NULL);
  guint n = pool_overfill ();
  guint64 size = 1024 * MiB;
  gsize small = 3 * MiB;
  g_autofree guint8 *content = tu_put_seeded (d, "three", 7, small);
  guint64 before = stat_and_leave (d, n, size);
  int c = tu_connect (d->port);

  tu_assert_get (c, "three", content, small);
  /* Less than one of the files: no hash ran to its end. */
  g_assert_cmpuint (daemon_read_bytes (d) - before, <, size / 2);
  close (c);
  tu_daemon_stop (d);
}

/* With --max-clients N, N clients park on long work and leave: their
 * slots are free again at once, not when the work ends: a new client is
 * served before the daemon has read half of any of their files. */
static void
test_parked_clients_leave (void)
{
  const guint n = 4;
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--max-clients", "4", NULL);
  guint64 size = 4096 * MiB;
  guint64 before = stat_and_leave (d, n, size);
  gint64 guard = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  gboolean accepted = FALSE;

  /* The daemon sees the closes on its own schedule: retry until served. */
  while (!accepted)
    {
      int c = tu_connect (d->port);
      g_autofree char *reply = NULL;

      g_assert_cmpint (g_get_monotonic_time (), <, guard);
      /* A refused connection may be reset before the 503 line is read. */
      (void) send (c, "PING\n", 5, MSG_NOSIGNAL);
      reply = tu_read_line (c);
      accepted = g_strcmp0 (reply, "OK PONG\n") == 0;
      if (!accepted && reply != NULL)
        tu_assert_err (reply, "503");
      close (c);
      if (!accepted)
        g_usleep (20 * 1000);
    }
  /* Less than one of the files: no slot waited for a hash to end. */
  g_assert_cmpuint (daemon_read_bytes (d) - before, <, size / 2);
  tu_daemon_stop (d);
}

/* A client that sends a request for long work, maybe pipelines more
 * behind it (@data: "PING" or NULL), and half-closes (as `nc -q1` does)
 * is owed every answer: a FIN does not say it is gone. */
static void
test_parked_half_closed (gconstpointer data)
{
  gboolean ping = data != NULL;
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1M", NULL);
  g_autofree char *stat = NULL;
  int a;

  put_sparse (d, "big", 64 * MiB);
  a = tu_connect (d->port);
  tu_send_str (a, ping ? "STAT big\nPING\n" : "STAT big\n");
  g_assert_cmpint (shutdown (a, SHUT_WR), ==, 0);
  stat = tu_read_line (a);
  g_assert_nonnull (stat);
  g_assert_true (g_str_has_prefix (stat, "OK 67108864 "));
  if (ping)
    {
      g_autofree char *pong = tu_read_line (a);

      g_assert_cmpstr (pong, ==, "OK PONG\n");
    }
  tu_expect_eof (a);
  close (a);
  tu_daemon_stop (d);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/long-work/stat-while-hashing", test_stat_while_hashing);
  g_test_add_func ("/long-work/get-while-loading", test_get_while_loading);
  g_test_add_func ("/long-work/ping-while-streaming", test_ping_while_streaming);
  g_test_add_func ("/long-work/stop-while-parked", test_stop_while_parked);
  g_test_add_func ("/long-work/small-after-abandoned", test_small_after_abandoned);
  g_test_add_func ("/long-work/parked-clients-leave", test_parked_clients_leave);
  g_test_add_data_func ("/long-work/parked-pipelined", "PING", test_parked_half_closed);
  g_test_add_data_func ("/long-work/parked-half-closed", NULL, test_parked_half_closed);
  return g_test_run ();
}
