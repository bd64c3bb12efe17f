/* No request holds a worker: the real daemon with one worker thread,
 * while a client has a large file hashed, loaded or streamed as fast as
 * it can read, still answers another client. Nothing here is timed: each
 * test checks which reply comes first. The files are sparse, so hashing
 * or loading them costs the daemon processor time (seconds) but no disk. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "dir-index.h"
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

  close (tu_connect_when_free (d->port, 120));
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

/* Large listings (--index): a directory whose st_size is above
 * FC_DIR_INDEX_INLINE_MAX is read and rendered in the pool, its request
 * parked. The daemon runs with tests/dir-stall-preload.c, which holds or
 * slows every readdir() of the directory "held" and logs what the
 * listing did; nothing is timed. */

/* 2025-11-30T19:49:30Z, every entry's mtime. */
#define HELD_MTIME 1764532170

typedef struct {
  TuDaemon *d;
  char *release;                /* (owned): held readdir()s go on once it exists */
  char *log;                    /* (owned): `o`, `r`, `c` per open, readdir(), close */
} Held;

static void
held_free (Held *h)
{
  g_free (h->release);
  g_free (h->log);
  g_free (h);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Held, held_free)

/* A daemon (--threads 1 --index, and @opt @value if not NULL) whose
 * readdir() of "held" waits for h->release (@hold) and sleeps @delay_us
 * (if not 0); "held" gets @n empty files f00000... */
static Held *
held_start (gboolean    hold,
            guint       delay_us,
            guint       n,
            const char *opt,
            const char *value)
{
  Held *h = g_new0 (Held, 1);
  g_autofree char *dir = g_dir_make_tmp ("filecached-held-XXXXXX", NULL);
  g_autofree char *delay = g_strdup_printf ("%u", delay_us);
  char *saved_asan = NULL;
  g_autofree char *held = NULL;
  struct stat st;
  int dfd;

  g_assert_nonnull (dir);
  h->release = g_build_filename (dir, "release", NULL);
  h->log = g_build_filename (dir, "log", NULL);
  g_assert_true (g_file_set_contents (h->log, "", 0, NULL));
  /* Only the daemon gets these (tu_preload_begin()). */
  saved_asan = tu_preload_begin ("DIR_STALL_PRELOAD");
  g_setenv ("FC_STALL_DIR", "held", TRUE);
  g_setenv ("FC_STALL_LOG", h->log, TRUE);
  if (hold)
    g_setenv ("FC_STALL_RELEASE", h->release, TRUE);
  if (delay_us > 0)
    g_setenv ("FC_STALL_DELAY_US", delay, TRUE);
  h->d = tu_daemon_start ("--threads", "1", "--index", opt, value, NULL);
  tu_preload_end (saved_asan);
  g_unsetenv ("FC_STALL_DIR");
  g_unsetenv ("FC_STALL_LOG");
  g_unsetenv ("FC_STALL_RELEASE");
  g_unsetenv ("FC_STALL_DELAY_US");

  held = tu_daemon_path (h->d, "held");
  g_assert_cmpint (mkdir (held, 0755), ==, 0);
  dfd = open (held, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dfd, >=, 0);
  for (guint i = 0; i < n; i++)
    {
      char name[16];
      const struct timespec times[2] = { { HELD_MTIME, 0 }, { HELD_MTIME, 0 } };
      int fd;

      g_snprintf (name, sizeof name, "f%05u", i);
      fd = openat (dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (futimens (fd, times), ==, 0);
      close (fd);
    }
  g_assert_cmpint (fstat (dfd, &st), ==, 0);
  close (dfd);
  /* Large enough for the pool on this file system. */
  g_assert_cmpint (st.st_size, >, FC_DIR_INDEX_INLINE_MAX);
  tu_write_file_str (h->d->root, "a.txt", "alpha\n");
  g_free (g_steal_pointer (&dir));
  return h;
}

/* Removes the scratch directory beside the daemon's. */
static void
held_cleanup (Held *h)
{
  g_autofree char *dir = g_path_get_dirname (h->log);

  tu_rm_rf (dir);
}

static void
held_release (Held *h)
{
  g_assert_true (g_file_set_contents (h->release, "", 0, NULL));
}

/* How many times @event is in the log. */
static guint
held_count (Held *h,
            char  event)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  guint n = 0;

  g_assert_true (g_file_get_contents (h->log, &text, &len, NULL));
  for (gsize i = 0; i < len; i++)
    n += text[i] == event;
  return n;
}

/* Waits until @event is in the log (a hang guard only). */
static void
held_await (Held *h,
            char  event)
{
  gint64 guard = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  while (held_count (h, event) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, guard);
      g_usleep (1000);
    }
}

/* The JSON listing of "held" with @n entries, as HTTP.md shapes it. */
static char *
held_json (guint n)
{
  GString *json = g_string_new ("[");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (json, "%s{\"name\": \"f%05u\", \"type\": \"file\", \"size\": 0, "
                                  "\"mtime\": \"2025-11-30T19:49:30Z\"}",
                            i > 0 ? ", " : "", i);
  g_string_append_c (json, ']');
  return g_string_free (json, FALSE);
}

#define HTTP_JSON(method, path) \
  method " " path " HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"
#define HTTP_GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

static void
assert_alpha (TuHttpResponse *r)
{
  g_assert_cmpstr (r->status_line, ==, "HTTP/1.1 200 OK");
  g_assert_cmpstr (r->body, ==, "alpha\n");
}

/* While a large listing is held in the pool, the one worker answers a
 * PING and a cached GET on other connections; then the listing comes,
 * exact. */
static void
test_listing_held (void)
{
  const guint n = 2000;
  g_autoptr(Held) h = held_start (TRUE, 0, n, NULL, NULL);
  g_autofree char *expected = held_json (n);
  g_autoptr(TuHttpResponse) first = NULL;
  g_autoptr(TuHttpResponse) cached = NULL;
  g_autoptr(TuHttpResponse) listing = NULL;
  int a = tu_connect (h->d->port);
  int c = tu_connect (h->d->port);
  int p = tu_connect (h->d->port);

  tu_send_str (c, HTTP_GET ("/a.txt"));
  first = tu_http_read_response (c, FALSE);
  assert_alpha (first);

  tu_send_str (a, HTTP_JSON ("GET", "/held/"));
  held_await (h, 'r');
  tu_assert_ping (p);
  tu_send_str (c, HTTP_GET ("/a.txt"));
  cached = tu_http_read_response (c, FALSE);
  assert_alpha (cached);
  g_assert_false (reply_arrived (a));

  held_release (h);
  listing = tu_http_read_response (a, FALSE);
  g_assert_cmpstr (listing->status_line, ==, "HTTP/1.1 200 OK");
  g_assert_cmpstr (tu_http_field (listing, "content-type"), ==, "application/json");
  g_assert_cmpstr (listing->body, ==, expected);

  close (a);
  close (c);
  close (p);
  tu_daemon_stop (h->d);
  held_cleanup (h);
}

/* A GET and a HEAD of a large listing, in both forms, pipelined with a
 * GET behind them: answered in order, the JSON exact, the HTML as a
 * listing made on the worker would be, HEAD's length that of the GET. */
static void
test_listing_pipelined (void)
{
  const guint n = 2000;
  g_autoptr(Held) h = held_start (TRUE, 0, n, NULL, NULL);
  g_autofree char *expected = held_json (n);
  g_autofree char *held = tu_daemon_path (h->d, "held");
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GString) html = NULL;
  atomic_size_t listing_held = 0;
  g_autoptr(TuHttpResponse) json_get = NULL;
  g_autoptr(TuHttpResponse) json_head = NULL;
  g_autoptr(TuHttpResponse) html_get = NULL;
  g_autoptr(TuHttpResponse) html_head = NULL;
  g_autoptr(TuHttpResponse) after = NULL;
  int root_fd = open (h->d->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int a = tu_connect (h->d->port);
  int p = tu_connect (h->d->port);

  entries = fc_dir_index_read (root_fd, "held", FC_DIR_INDEX_MAX_ENTRIES, NULL);
  g_assert_nonnull (entries);
  html = fc_dir_index_html ("held", entries, &listing_held, NULL);
  close (root_fd);

  tu_send_str (a, HTTP_JSON ("GET", "/held/") HTTP_JSON ("HEAD", "/held/")
                  HTTP_GET ("/held/") "HEAD /held/ HTTP/1.1\r\nHost: x\r\n\r\n"
                  HTTP_GET ("/a.txt"));
  held_await (h, 'r');
  tu_assert_ping (p);
  g_assert_false (reply_arrived (a));
  held_release (h);

  json_get = tu_http_read_response (a, FALSE);
  g_assert_cmpstr (json_get->status_line, ==, "HTTP/1.1 200 OK");
  g_assert_cmpstr (tu_http_field (json_get, "content-type"), ==, "application/json");
  g_assert_cmpstr (json_get->body, ==, expected);
  json_head = tu_http_read_response (a, TRUE);
  g_assert_cmpstr (json_head->status_line, ==, "HTTP/1.1 200 OK");
  g_assert_cmpstr (tu_http_field (json_head, "content-type"), ==, "application/json");
  g_assert_cmpuint (g_ascii_strtoull (tu_http_field (json_head, "content-length"), NULL, 10), ==, strlen (expected));
  html_get = tu_http_read_response (a, FALSE);
  g_assert_cmpstr (tu_http_field (html_get, "content-type"), ==, "text/html; charset=utf-8");
  g_assert_cmpstr (html_get->body, ==, html->str);
  html_head = tu_http_read_response (a, TRUE);
  g_assert_cmpuint (g_ascii_strtoull (tu_http_field (html_head, "content-length"), NULL, 10), ==, html->len);
  after = tu_http_read_response (a, FALSE);
  assert_alpha (after);
  /* Each listing read the directory once, to its end. */
  g_assert_cmpuint (held_count (h, 'o'), ==, 4);
  g_assert_cmpuint (held_count (h, 'c'), ==, 4);

  close (a);
  close (p);
  tu_daemon_stop (h->d);
  held_cleanup (h);
}

/* A stop while large listings run and are queued in the pool (each
 * readdir() slowed, so that one would take many seconds): each gives up
 * at its next slice, so the daemon exits within the drain timeout + 1 s
 * by its own way out, every directory it began to read closed again, not
 * cut by the exit's guard; none was read to its end. */
static void
test_listing_stop (void)
{
  const guint n = 20000;
  guint clients = pool_overfill ();
  g_autoptr(Held) h = held_start (FALSE, 500, n, "--drain-timeout", "1");
  g_autofree int *fds = g_new (int, clients);

  for (guint i = 0; i < clients; i++)
    {
      fds[i] = tu_connect (h->d->port);
      tu_send_str (fds[i], HTTP_JSON ("GET", "/held/"));
    }
  held_await (h, 'r');
  g_assert_cmpint (tu_daemon_finish (h->d, SIGTERM, 1 + 1, NULL), ==, 0);
  g_assert_cmpuint (held_count (h, 'o'), >=, 1);
  g_assert_cmpuint (held_count (h, 'c'), ==, held_count (h, 'o'));
  g_assert_cmpuint (held_count (h, 'r'), <, n);
  for (guint i = 0; i < clients; i++)
    close (fds[i]);
  held_cleanup (h);
}

/* With --max-clients 1, a client whose large listing is under way resets
 * its connection: its slot is free again at once (the listing is held
 * meanwhile, so it cannot have ended), and once it may go on, the listing
 * nobody waits for is given up within a slice. */
static void
test_listing_reset (void)
{
  const guint n = 4 * FC_DIR_INDEX_SLICE;
  g_autoptr(Held) h = held_start (TRUE, 0, n, "--max-clients", "1");
  struct linger abort_on_close = { 1, 0 };
  int a = tu_connect (h->d->port);

  tu_send_str (a, HTTP_JSON ("GET", "/held/"));
  held_await (h, 'r');
  g_assert_cmpint (setsockopt (a, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close), ==, 0);
  close (a);

  close (tu_connect_when_free (h->d->port, 2 * TU_IO_TIMEOUT_S));

  held_release (h);
  held_await (h, 'c');
  /* Not to its end: n entries, "." and "..", and the end. */
  g_assert_cmpuint (held_count (h, 'r'), <, 2 * FC_DIR_INDEX_SLICE);
  tu_daemon_stop (h->d);
  held_cleanup (h);
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
  g_test_add_func ("/long-work/listing-held", test_listing_held);
  g_test_add_func ("/long-work/listing-pipelined", test_listing_pipelined);
  g_test_add_func ("/long-work/listing-stop", test_listing_stop);
  g_test_add_func ("/long-work/listing-reset", test_listing_reset);
  return g_test_run ();
}
