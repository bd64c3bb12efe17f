/* HTTP.md "Metrics" against the real daemon: `--metrics-port` serves
 * `GET /metrics` and nothing else, the main port does not, and a slow
 * client holds no other scrape back. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "testutil.h"

static TuDaemon *
start_with_metrics (guint16 *metrics_port)
{
  g_autofree char *port = NULL;

  close (tu_listen_loopback (metrics_port));
  port = g_strdup_printf ("%u", *metrics_port);
  return tu_daemon_start ("--metrics-port", port, NULL);
}

/* (transfer full): all the daemon sends in answer to @request on a new
 * connection to @port, until it closes. */
static char *
exchange (guint16     port,
          const char *request)
{
  gsize size = 64 * 1024;
  g_autofree guint8 *buf = g_malloc (size + 1);
  int fd = tu_connect (port);
  gsize len;

  tu_send_str (fd, request);
  len = tu_recv_until_closed (fd, buf, size);
  close (fd);
  buf[len] = '\0';
  return g_strdup ((char *) buf);
}

/* (transfer none): the body of @response, after its head. */
static const char *
body_of (const char *response)
{
  const char *end = g_strstr_len (response, -1, "\r\n\r\n");

  g_assert_nonnull (end);
  return end + 4;
}

static void
assert_sample (const char *body,
               const char *metric,
               guint64     value)
{
  g_autofree char *line = g_strdup_printf ("\n%s %" G_GUINT64_FORMAT "\n", metric, value);

  if (strstr (body, line) == NULL)
    g_error ("no “%s %" G_GUINT64_FORMAT "” in:\n%s", metric, value, body);
}

static void
test_counters (void)
{
  guint16 metrics_port;
  TuDaemon *d = start_with_metrics (&metrics_port);
  g_autofree char *response = NULL;
  guint64 error_bytes = 0;
  int fd;

  tu_write_file_str (d->root, "a.txt", "hello world\n");
  fd = tu_connect (d->port);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *status = NULL;
      g_autofree guint8 *rest = NULL;

      tu_send_str (fd, "GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
      status = tu_read_line (fd);
      g_assert_cmpstr (status, ==, "HTTP/1.1 200 OK\r\n");
      /* The head's other fields, then 12 bytes of body. */
      for (;;)
        {
          g_autofree char *field = tu_read_line (fd);

          g_assert_nonnull (field);
          if (strcmp (field, "\r\n") == 0)
            break;
        }
      rest = tu_read_exact (fd, 12);
    }
  close (fd);
  fd = tu_connect (d->port);
  tu_assert_ping (fd);
  close (fd);

  /* Every GET is a hit or a miss (DBUS.md), refused ones too, and an
   * error's text is body sent (HTTP.md "Counting and control"). */
  fd = tu_connect (d->port);
  {
    static const char *const refused[] = {
      "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /%2E%2E/x HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "HEAD /nope HTTP/1.1\r\nHost: h\r\n\r\n",
      /* Refused for a field, and closed: last. */
      "GET /a.txt HTTP/1.1\r\nHost: h\r\nX y: z\r\n\r\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
      {
        g_autoptr(TuHttpResponse) r = NULL;

        tu_send_str (fd, refused[i]);
        r = tu_http_read_response (fd, i == 3);
        g_assert_cmpuint (r->status, >=, 400);
        error_bytes += r->body_len;
      }
  }
  close (fd);

  response = exchange (metrics_port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  g_test_message ("%s", response);
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (response, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  g_assert_nonnull (strstr (response, "\r\nConnection: close\r\n"));
  assert_sample (body_of (response), "filecached_requests_total", 9);
  assert_sample (body_of (response), "filecached_requests_http_total", 8);
  g_assert_cmpuint (error_bytes, >, 0);
  assert_sample (body_of (response), "filecached_sent_bytes_total", 36 + error_bytes);
  assert_sample (body_of (response), "filecached_hits_total", 2);
  assert_sample (body_of (response), "filecached_misses_total", 5);
  assert_sample (body_of (response), "filecached_clients_accepted_total", 3);
  g_assert_nonnull (strstr (body_of (response), "# TYPE filecached_hits_total counter\n"));
  g_assert_nonnull (strstr (body_of (response), "# HELP filecached_requests_total "));
  tu_daemon_stop (d);
}

/* An HTTP 503 at accept (beyond --max-clients) sends its text as any
 * other error does: body bytes (DBUS.md bytes-sent). Was: not counted. */
static void
test_refused_body_counted (void)
{
  guint16 metrics_port;
  g_autofree char *port = NULL;
  g_autofree char *response = NULL;
  g_autoptr(TuHttpResponse) r = NULL;
  TuDaemon *d;
  int held;

  close (tu_listen_loopback (&metrics_port));
  port = g_strdup_printf ("%u", metrics_port);
  d = tu_daemon_start ("--metrics-port", port, "--max-clients", "1", NULL);
  held = tu_connect (d->port);
  tu_assert_ping (held);
  r = tu_http_refused_at_accept (d, "GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
  g_assert_cmpuint (r->status, ==, 503);
  g_assert_cmpuint (r->body_len, >, 0);
  close (held);

  response = exchange (metrics_port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  assert_sample (body_of (response), "filecached_sent_bytes_total", r->body_len);
  tu_daemon_stop (d);
}

static void
test_other_paths_and_methods (void)
{
  guint16 metrics_port;
  TuDaemon *d = start_with_metrics (&metrics_port);
  g_autofree char *get = exchange (metrics_port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  g_autofree char *head = exchange (metrics_port, "HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  const char *cases[][2] = {
    { "GET /other HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 " },
    { "GET /metrics/ HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 " },
    { "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 " },
    { "POST /metrics HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 405 " },
    { "BREW /metrics HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 501 " },
    { "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 " },
    { "GET /metrics HTTP/2.0\r\n\r\n", "HTTP/1.1 505 " },
  };

  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 200 OK\r\n"));
  g_assert_cmpstr (body_of (head), ==, "");
  /* The same head but for the Date, which may have ticked. */
  g_assert_cmpuint (body_of (head) - head, ==, body_of (get) - get);
  g_assert_cmpuint (strlen (body_of (get)), >, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *response = exchange (metrics_port, cases[i][0]);

      g_test_message ("%s-> %s", cases[i][0], response);
      g_assert_true (g_str_has_prefix (response, cases[i][1]));
      if (g_str_has_prefix (cases[i][0], "POST"))
        g_assert_nonnull (strstr (response, "\r\nAllow: GET, HEAD\r\n"));
    }
  tu_daemon_stop (d);
}

/* GET /metrics on the main port is a file named metrics like any other. */
static void
test_not_on_main_port (void)
{
  guint16 metrics_port;
  TuDaemon *d = start_with_metrics (&metrics_port);
  g_autofree char *missing = exchange (d->port, "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  g_autofree char *file = NULL;

  g_assert_true (g_str_has_prefix (missing, "HTTP/1.1 404 "));
  g_assert_null (strstr (missing, "filecached_"));
  tu_write_file_str (d->root, "metrics", "not metrics\n");
  file = exchange (d->port, "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  g_assert_true (g_str_has_prefix (file, "HTTP/1.1 200 OK\r\n"));
  g_assert_cmpstr (body_of (file), ==, "not metrics\n");
  tu_daemon_stop (d);
}

/* Clients that send half a head, or nothing, or do not read, hold no
 * scrape back, however many: at the cap a new connection closes the
 * oldest. */
static void
test_slow_clients (void)
{
  guint16 metrics_port;
  TuDaemon *d = start_with_metrics (&metrics_port);
  int slow[FC_METRICS_CONNECTIONS_MAX + 4];
  gint64 start;

  slow[0] = tu_connect (metrics_port);
  tu_send_str (slow[0], "GET /met");
  slow[1] = tu_connect_full ("127.0.0.1", metrics_port, 1024);
  tu_send_str (slow[1], "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  for (guint i = 2; i < G_N_ELEMENTS (slow); i++)
    slow[i] = tu_connect (metrics_port);

  start = g_get_monotonic_time ();
  {
    g_autofree char *response = exchange (metrics_port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");

    g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));
  }
  /* Far below the stalled clients' FC_METRICS_TIMEOUT_S. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, (FC_METRICS_TIMEOUT_S / 2) * G_USEC_PER_SEC);

  /* The half head, the oldest, made room for a newer one. */
  tu_expect_eof (slow[0]);

  for (guint i = 0; i < G_N_ELEMENTS (slow); i++)
    close (slow[i]);
  tu_daemon_stop (d);
}

static void
test_port_taken (void)
{
  guint16 taken;
  int fd = tu_listen_loopback (&taken);
  g_autofree char *port = g_strdup_printf ("%u", taken);
  g_autofree char *err = NULL;
  g_autofree char *root = g_dir_make_tmp ("test-metrics-XXXXXX", NULL);

  {
    const char *argv[] = { g_getenv ("FILECACHED"), "--config=/dev/null", "--no-dbus",
                           "--host", "127.0.0.1", "--port", "0", "--metrics-port", port, root, NULL };
    g_autofree char *needle = g_strdup_printf ("Metrics port %s: ", port);

    g_assert_cmpint (tu_run (argv, 10, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, needle));
    g_assert_nonnull (strstr (err, "in use"));
  }
  close (fd);
  tu_rm_rf (root);
}

int
main (int   argc,
      char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/metrics/scrape/counters-match", test_counters);
  g_test_add_func ("/metrics/scrape/other-paths-and-methods", test_other_paths_and_methods);
  g_test_add_func ("/metrics/main-port/not-served", test_not_on_main_port);
  g_test_add_func ("/metrics/slow-clients/block-no-scrape", test_slow_clients);
  g_test_add_func ("/metrics/refused/body-counted", test_refused_body_counted);
  g_test_add_func ("/metrics/start/port-taken", test_port_taken);
  return g_test_run ();
}
