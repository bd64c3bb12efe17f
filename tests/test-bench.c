/* filecache-bench's modes, end to end: against a small HTTP server in
 * this process whose replies each test chooses (good, cut short, not
 * 200), and against the real daemon for the slowloris probes. Runs are
 * short (0.3 s); nothing here asserts a speed. */

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "testutil.h"

#define RUN_TIMEOUT_S 60

typedef struct {
  const char *reply;          /* sent for each request head */
  gboolean close_after;       /* close after the first reply */
  guint replies_per_conn;     /* then half-close, as a draining daemon does, leaving
                               * further requests unanswered; 0: no limit */
  int listen_fd;
  guint16 port;
  GThread *acceptor;          /* (owned) */
  atomic_uint accepted;
  atomic_uint served;         /* replies sent */
  atomic_uint most_per_conn;  /* the most replies sent on one connection */
  atomic_uint active;
} FakeHttp;

typedef struct {
  FakeHttp *server;
  int fd;
} FakeConn;

static gpointer
fake_conn_run (gpointer data)
{
  FakeConn *fc = data;
  FakeHttp *server = fc->server;
  GString *in = g_string_new (NULL);
  guint replies = 0;
  char buf[4096];

  for (;;)
    {
      ssize_t n = recv (fc->fd, buf, sizeof buf, 0);
      char *end;

      if (n <= 0)
        break;
      g_string_append_len (in, buf, n);
      while ((end = strstr (in->str, "\r\n\r\n")) != NULL)
        {
          guint most;

          g_string_erase (in, 0, end + 4 - in->str);
          if (send (fc->fd, server->reply, strlen (server->reply), MSG_NOSIGNAL) < 0)
            goto done;
          replies++;
          atomic_fetch_add (&server->served, 1);
          most = atomic_load (&server->most_per_conn);
          while (replies > most && !atomic_compare_exchange_weak (&server->most_per_conn, &most, replies))
            ;
          if (server->close_after)
            goto done;
          if (replies == server->replies_per_conn)
            {
              /* Reads on, so that the close is in order, not a reset. */
              shutdown (fc->fd, SHUT_WR);
              while (recv (fc->fd, buf, sizeof buf, 0) > 0)
                ;
              goto done;
            }
        }
    }
done:
  close (fc->fd);
  g_string_free (in, TRUE);
  atomic_fetch_sub (&server->active, 1);
  g_free (fc);
  return NULL;
}

static gpointer
fake_accept_run (gpointer data)
{
  FakeHttp *server = data;

  for (;;)
    {
      FakeConn *fc;
      int fd = accept (server->listen_fd, NULL, NULL);

      if (fd < 0 && errno == EINTR)
        continue;
      if (fd < 0)
        break;
      atomic_fetch_add (&server->accepted, 1);
      atomic_fetch_add (&server->active, 1);
      fc = g_new0 (FakeConn, 1);
      fc->server = server;
      fc->fd = fd;
      g_thread_unref (g_thread_new ("fake-http-conn", fake_conn_run, fc));
    }
  return NULL;
}

static FakeHttp *
fake_http_start_full (const char *reply,
                      gboolean    close_after,
                      guint       replies_per_conn)
{
  FakeHttp *server = g_new0 (FakeHttp, 1);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;

  server->reply = reply;
  server->close_after = close_after;
  server->replies_per_conn = replies_per_conn;
  server->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (server->listen_fd, >=, 0);
  g_assert_cmpint (bind (server->listen_fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (server->listen_fd, 128), ==, 0);
  g_assert_cmpint (getsockname (server->listen_fd, (struct sockaddr *) &addr, &len), ==, 0);
  server->port = ntohs (addr.sin_port);
  server->acceptor = g_thread_new ("fake-http", fake_accept_run, server);
  return server;
}

static FakeHttp *
fake_http_start (const char *reply,
                 gboolean    close_after)
{
  return fake_http_start_full (reply, close_after, 0);
}

/* The generator has exited, so every connection thread ends soon. */
static void
fake_http_stop (FakeHttp *server)
{
  shutdown (server->listen_fd, SHUT_RDWR);
  g_thread_join (server->acceptor);
  close (server->listen_fd);
  for (guint i = 0; i < 200 && atomic_load (&server->active) > 0; i++)
    g_usleep (50000);
  g_assert_cmpuint (atomic_load (&server->active), ==, 0);
  g_free (server);
}

/* Runs filecache-bench with -p @port and the NULL-terminated options. */
static int
run_bench (guint16      port,
           char       **out,
           const char  *first,
           ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  va_list ap;

  g_ptr_array_add (argv, g_strdup (g_getenv ("FILECACHE_BENCH")));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", port));
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return tu_run ((const char *const *) argv->pdata, RUN_TIMEOUT_S, out, NULL);
}

/* KEY's value, as a number, on the key=value summary line. */
static guint64
field (const char *out,
       const char *key)
{
  g_autofree char *needle = g_strdup_printf (" %s=", key);
  const char *line = strstr (out, "filecache-bench: mode=");
  const char *at;

  g_assert_nonnull (line);
  at = strstr (line, needle);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (needle), NULL, 10);
}

static void
test_http_good (void)
{
  FakeHttp *server = fake_http_start ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", FALSE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "-c", "2", "-t", "1", "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (field (out, "errors"), ==, 0);
  g_assert_cmpuint (field (out, "requests"), >, 0);
  /* Keep-alive: two connections carried every request. */
  g_assert_cmpuint (atomic_load (&server->accepted), ==, 2);
  g_assert_cmpuint (atomic_load (&server->served), >=, field (out, "requests"));
  fake_http_stop (server);
}

/* A bad reply is counted as an error, never as a request. */
static void
assert_http_errors (const char *reply,
                    gboolean    close_after)
{
  FakeHttp *server = fake_http_start (reply, close_after);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "-c", "1", "-t", "1", "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "requests"), ==, 0);
  g_assert_cmpuint (field (out, "errors"), >, 0);
  /* A reply cut short is no reply not begun: it is not sent again. */
  g_assert_cmpuint (field (out, "retried"), ==, 0);
  fake_http_stop (server);
}

static void
test_http_short_body (void)
{
  assert_http_errors ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", TRUE);
}

static void
test_http_not_200 (void)
{
  assert_http_errors ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", FALSE);
}

/* A server that closes in order under requests it left unanswered, as a
 * draining daemon does: each is sent again, on a new connection, and
 * answered there; none fails. @pipeline requests in flight, as many
 * replies per connection. */
static void
assert_unanswered_retried (const char *pipeline)
{
  guint per_conn = (guint) g_ascii_strtoull (pipeline, NULL, 10);
  FakeHttp *server = fake_http_start_full ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FALSE,
                                           per_conn);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "-c", "2", "-t", "1", "--pipeline", pipeline,
                          "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (field (out, "errors"), ==, 0);
  g_assert_cmpuint (field (out, "requests"), >, 0);
  g_assert_cmpuint (field (out, "retried"), >, 0);
  g_assert_cmpuint (atomic_load (&server->accepted), >, 2);
  fake_http_stop (server);
}

static void
test_unanswered_retried (void)
{
  assert_unanswered_retried ("1");
}

static void
test_unanswered_retried_pipelined (void)
{
  assert_unanswered_retried ("3");
}

/* Once only: with one reply per connection and three requests in flight,
 * two of the three sent again are left unanswered again, and fail. */
static void
test_unanswered_twice_fails (void)
{
  FakeHttp *server = fake_http_start_full ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FALSE, 1);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "-c", "1", "-t", "1", "--pipeline", "3",
                          "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "errors"), >, 0);
  g_assert_cmpuint (field (out, "retried"), >, 0);
  fake_http_stop (server);
}

static void
test_new_connection (void)
{
  FakeHttp *server = fake_http_start ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FALSE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "--new-connection", "-c", "4", "-t", "1",
                          "-d", "0.3", "-n", "x", NULL);
  guint64 requests = field (out, "requests");

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (requests, >, 0);
  g_assert_cmpuint (atomic_load (&server->most_per_conn), ==, 1);
  g_assert_cmpuint (atomic_load (&server->accepted), >=, requests);
  fake_http_stop (server);
}

/* A refused connection is an error, not a silent retry. */
static void
test_new_connection_refused (void)
{
  FakeHttp *server = fake_http_start ("", FALSE);
  guint16 port = server->port;
  g_autofree char *out = NULL;
  int status;

  fake_http_stop (server);
  status = run_bench (port, &out, "--new-connection", "-c", "1", "-t", "1", "-d", "0.3", "-n", "x", NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "requests"), ==, 0);
  g_assert_cmpuint (field (out, "errors"), >, 0);
}

static void
test_idle (void)
{
  FakeHttp *server = fake_http_start ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FALSE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "--idle", "-c", "20", "-t", "2",
                          "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "filecache-bench: ready mode=idle connections=20 settled=all\n"));
  g_assert_cmpuint (field (out, "open"), ==, 20);
  g_assert_cmpuint (atomic_load (&server->accepted), ==, 20);
  g_assert_cmpuint (atomic_load (&server->served), ==, 20);
  fake_http_stop (server);
}

/* A server that drops idle connections shows as dropped, and fails the run. */
static void
test_idle_dropped (void)
{
  FakeHttp *server = fake_http_start ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", TRUE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "--idle", "-c", "5", "-t", "1",
                          "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "open"), ==, 0);
  g_assert_cmpuint (field (out, "dropped"), ==, 5);
  fake_http_stop (server);
}

/* Paced: a connection sends no faster than its interval, whatever the
 * server's speed (an upper bound only: a slow machine sends fewer). */
static void
test_interval_paced (void)
{
  FakeHttp *server = fake_http_start ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FALSE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "--interval", "0.1", "-c", "2", "-t", "1",
                          "-d", "0.5", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (field (out, "requests"), >, 0);
  /* Due at 0, 0.1 ... 0.4 s (and one more at the edge) on each connection. */
  g_assert_cmpuint (atomic_load (&server->served), <=, 2 * 6);
  g_assert_cmpuint (field (out, "interval_us"), ==, 100000);
  /* No connection's own p99 is below the p99 of all of them. */
  g_assert_cmpuint (field (out, "p99_us"), <=, field (out, "conn_p99_max_us"));
  fake_http_stop (server);
}

/* A server that never answers weighs in the percentiles: every request
 * due before the end counts, with its age at the end, instead of no
 * latency at all. The ages are computed from the deadline, not timed. */
static void
test_interval_unanswered (void)
{
  FakeHttp *server = fake_http_start ("", FALSE);
  g_autofree char *out = NULL;
  int status = run_bench (server->port, &out, "--http", "--interval", "0.05", "-c", "1", "-t", "1",
                          "-d", "0.3", "-n", "x", NULL);

  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "requests"), ==, 0);
  /* Due at 0, 0.05 ... 0.25 s: six, give or take the one at the edge. */
  g_assert_cmpuint (field (out, "unanswered"), >=, 5);
  g_assert_cmpuint (field (out, "unanswered"), <=, 7);
  /* The first was due once the run began, so its age is about the run's. */
  g_assert_cmpuint (field (out, "max_us"), >=, 200000);
  g_assert_cmpuint (field (out, "max_us"), <=, 300000);
  g_assert_cmpuint (field (out, "p50_us"), <, field (out, "max_us"));
  /* One connection: its own p99 is everyone's. */
  g_assert_cmpuint (field (out, "conn_p99_max_us"), ==, field (out, "p99_us"));
  fake_http_stop (server);
}

/* Against the daemon: PING and STAT replies are checked by their shape
 * (no body) and carry no body bytes. */
static void
test_commands (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *ping = NULL;
  g_autofree char *stat = NULL;
  int status;

  tu_write_file_str (d->root, "small", "hello\n");
  status = run_bench (d->port, &ping, "--command", "PING", "-c", "2", "-t", "1", "-d", "0.3", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (ping, " command=PING "));
  g_assert_cmpuint (field (ping, "requests"), >, 0);
  g_assert_cmpuint (field (ping, "errors"), ==, 0);
  g_assert_cmpuint (field (ping, "mbps"), ==, 0);
  g_assert_cmpuint (field (ping, "rx_bytes"), >=, strlen ("OK PONG\n") * field (ping, "requests"));

  status = run_bench (d->port, &stat, "--command", "STAT", "-c", "2", "-t", "1", "-d", "0.3", "-n", "small", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (stat, " command=STAT "));
  g_assert_cmpuint (field (stat, "requests"), >, 0);
  g_assert_cmpuint (field (stat, "errors"), ==, 0);
  /* `OK 6 <64 hex digits>` LF: no body, yet 70 bytes received each. */
  g_assert_cmpuint (field (stat, "rx_bytes"), >=, 70 * field (stat, "requests"));
  tu_daemon_stop (d);
}

/* Options that cannot go together are a usage error (status 2). */
static void
test_command_usage (void)
{
  static const char *const bad[][6] = {
    { "--command", "PING", "-n", "x", NULL },
    { "--command", "STAT", "--http", "-n", "x", NULL },
    { "--command", "HEAD", "-n", "x", NULL },
    { "--interval", "0.1", "--new-connection", "-n", "x", NULL },
    { "--interval", "0.1", "--pipeline", "2", "-n", "x" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *out = NULL;

      g_assert_cmpint (run_bench (1, &out, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5], NULL), ==, 2);
    }
}

/* Against the daemon: a few stalled connections, well within its
 * limits, leave every probe its file. */
static void
test_slowloris_probes (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *out = NULL;
  int status;

  tu_write_file_str (d->root, "small", "hello\n");
  status = run_bench (d->port, &out, "--slowloris", "4", "--reconnecting", "2", "--probes", "5",
                      "--probe-timeout", "10", "-t", "1", "-d", "0.3", "-n", "small", NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (field (out, "probe_ok"), ==, 5);
  g_assert_cmpuint (field (out, "open"), ==, 6);
  tu_daemon_stop (d);
}

/* A probe that cannot get its file counts as a failure. */
static void
test_slowloris_probe_fails (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  g_autofree char *out = NULL;
  int status;

  status = run_bench (d->port, &out, "--slowloris", "1", "--probes", "3",
                      "-t", "1", "-d", "0.3", "-n", "missing", NULL);
  g_assert_cmpint (status, ==, 1);
  g_assert_cmpuint (field (out, "probe_ok"), ==, 0);
  tu_daemon_stop (d);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/bench/http/keep-alive", test_http_good);
  g_test_add_func ("/bench/http/short-body-is-an-error", test_http_short_body);
  g_test_add_func ("/bench/http/not-200-is-an-error", test_http_not_200);
  g_test_add_func ("/bench/keep-alive/unanswered-retried", test_unanswered_retried);
  g_test_add_func ("/bench/keep-alive/unanswered-retried-pipelined", test_unanswered_retried_pipelined);
  g_test_add_func ("/bench/keep-alive/unanswered-twice-fails", test_unanswered_twice_fails);
  g_test_add_func ("/bench/new-connection/one-request-each", test_new_connection);
  g_test_add_func ("/bench/new-connection/refused-is-an-error", test_new_connection_refused);
  g_test_add_func ("/bench/idle/held", test_idle);
  g_test_add_func ("/bench/idle/dropped", test_idle_dropped);
  g_test_add_func ("/bench/interval/paced", test_interval_paced);
  g_test_add_func ("/bench/interval/unanswered-counted", test_interval_unanswered);
  g_test_add_func ("/bench/command/ping-and-stat", test_commands);
  g_test_add_func ("/bench/command/usage", test_command_usage);
  g_test_add_func ("/bench/slowloris/probes-served", test_slowloris_probes);
  g_test_add_func ("/bench/slowloris/probe-failure", test_slowloris_probe_fails);
  return g_test_run ();
}
