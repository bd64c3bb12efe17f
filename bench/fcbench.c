/* fcbench: a load generator for the filecached protocol (PROTOCOL.md).
 *
 * Each of -t threads owns a share of -c keep-alive connections, all
 * non-blocking in one epoll set per thread. A connection keeps --pipeline
 * `GET name` requests in flight, names taken round-robin, and checks every
 * reply: `OK <size>` LF and exactly <size> bytes, or it counts an error.
 * With one request in flight each reply is timed, from the send() that
 * carried the request to the last byte of the reply. */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

/* Longer than any status or error line the protocol allows a server. */
#define STATUS_LINE_MAX 256
#define RECV_SIZE_DEFAULT (256 * 1024)
#define EVENTS_MAX 64
/* Only the first few failures are described; all are counted. */
#define ERRORS_SHOWN 10

/* Latencies go into a log-linear histogram: exact below 128 ns, then 64
 * buckets per power of two (under 1.6 % error), in a fixed 30 KiB that
 * does not grow with the run's length. */
#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  char **requests;                /* (owned): "GET name\n", one per -n */
  gsize *request_lens;            /* (owned) */
  guint n_requests;
  gsize request_max;
  guint pipeline;
  gsize recv_size;                /* bytes asked of each recv() */
  gint64 deadline_ns;             /* CLOCK_MONOTONIC */
  atomic_uint errors_shown;
} Bench;

typedef struct {
  int fd;                         /* -1 once it could not reconnect */
  guint id;
  guint next_request;             /* round-robin index into Bench.requests */
  guint inflight;
  guint64 sent_ns;                /* when the one request in flight left */

  gboolean in_body;
  guint64 body_size;
  guint64 body_left;
  gsize line_len;
  char line[STATUS_LINE_MAX];

  char *out;                      /* (owned): requests not yet sent */
  gsize out_start;
  gsize out_end;
  gboolean watching_out;          /* EPOLLOUT is in the interest set */
} Conn;

typedef struct {
  Bench *bench;
  GThread *thread;                /* (owned) */
  int epfd;
  Conn **conns;                   /* (owned) (element-type Conn): the Conns themselves are owned by main */
  guint n_conns;
  guint live;
  char *recv_buffer;              /* (owned) */

  guint64 requests;               /* good replies completed before the deadline */
  guint64 body_bytes;
  guint64 errors;
  guint64 reconnects;
  guint64 latency_max_ns;
  guint64 latency_sum_ns;
  guint64 hist[HIST_BUCKETS];
} Worker;

static guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static guint
hist_index (guint64 ns)
{
  guint msb, shift;

  if (ns < 2 * HIST_SUB)
    return (guint) ns;
  msb = 63 - (guint) __builtin_clzll (ns);
  shift = msb - HIST_SUB_BITS;
  return (shift + 1) * HIST_SUB + (guint) ((ns >> shift) - HIST_SUB);
}

/* The middle of bucket @i, in nanoseconds. */
static double
hist_value (guint i)
{
  guint shift;
  guint64 low;

  if (i < 2 * HIST_SUB)
    return i;
  shift = i / HIST_SUB - 1;
  low = (guint64) (i % HIST_SUB + HIST_SUB) << shift;
  return (double) low + (double) (G_GUINT64_CONSTANT (1) << shift) / 2.0;
}

static double
hist_percentile (const guint64 *hist,
                 guint64        total,
                 double         fraction)
{
  guint64 rank = (guint64) (fraction * (double) total + 0.999999);
  guint64 seen = 0;

  if (rank == 0)
    rank = 1;
  for (guint i = 0; i < HIST_BUCKETS; i++)
    {
      seen += hist[i];
      if (seen >= rank)
        return hist_value (i);
    }
  return 0.0;
}

static void
report_failure (Bench      *bench,
                Conn       *conn,
                const char *what,
                const char *detail)
{
  g_autofree char *escaped = NULL;
  guint shown = atomic_fetch_add (&bench->errors_shown, 1);

  if (shown >= ERRORS_SHOWN)
    return;
  if (detail != NULL)
    escaped = g_strescape (detail, NULL);
  g_printerr ("fcbench: connection %u: %s%s%s%s\n", conn->id, what,
              escaped != NULL ? " \"" : "", escaped != NULL ? escaped : "",
              escaped != NULL ? "\"" : "");
  if (shown + 1 == ERRORS_SHOWN)
    g_printerr ("fcbench: further failures are counted, not shown\n");
}

/* Blocking connect, then non-blocking for the run: on loopback the
 * handshake is immediate, and it keeps the state machine to one state. */
static int
connect_to (const Bench *bench)
{
  int one = 1;
  int fd = socket (bench->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  if (connect (fd, (const struct sockaddr *) &bench->addr, bench->addr_len) != 0 ||
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      fcntl (fd, F_SETFL, O_NONBLOCK) != 0)
    {
      int saved_errno = errno;

      close (fd);
      errno = saved_errno;
      return -1;
    }
  return fd;
}

static gboolean
conn_watch (Worker *worker,
            Conn   *conn,
            int     op,
            gboolean want_out)
{
  struct epoll_event ev = {
    .events = EPOLLIN | (want_out ? EPOLLOUT : 0),
    .data.ptr = conn,
  };

  if (epoll_ctl (worker->epfd, op, conn->fd, &ev) != 0)
    return FALSE;
  conn->watching_out = want_out;
  return TRUE;
}

/* Sends what is queued; what the socket does not take waits for EPOLLOUT. */
static gboolean
conn_flush (Worker *worker,
            Conn   *conn)
{
  while (conn->out_start < conn->out_end)
    {
      ssize_t n = send (conn->fd, conn->out + conn->out_start,
                        conn->out_end - conn->out_start, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          report_failure (worker->bench, conn, g_strerror (errno), NULL);
          return FALSE;
        }
      conn->out_start += (gsize) n;
    }

  if (conn->out_start == conn->out_end)
    conn->out_start = conn->out_end = 0;

  if ((conn->out_end > 0) != conn->watching_out)
    return conn_watch (worker, conn, EPOLL_CTL_MOD, conn->out_end > 0);
  return TRUE;
}

/* Tops the connection up to the pipeline depth, in one send(). */
static gboolean
conn_fill (Worker *worker,
           Conn   *conn)
{
  Bench *bench = worker->bench;

  if (conn->inflight >= bench->pipeline)
    return TRUE;

  if (conn->out_start > 0)
    {
      memmove (conn->out, conn->out + conn->out_start, conn->out_end - conn->out_start);
      conn->out_end -= conn->out_start;
      conn->out_start = 0;
    }

  while (conn->inflight < bench->pipeline)
    {
      guint r = conn->next_request;

      memcpy (conn->out + conn->out_end, bench->requests[r], bench->request_lens[r]);
      conn->out_end += bench->request_lens[r];
      conn->next_request = (r + 1) % bench->n_requests;
      conn->inflight++;
    }

  conn->sent_ns = now_ns ();
  return conn_flush (worker, conn);
}

static void
conn_reply_done (Worker   *worker,
                 Conn     *conn,
                 gboolean  ok)
{
  Bench *bench = worker->bench;
  guint64 now = now_ns ();

  conn->inflight--;
  if (now >= (guint64) bench->deadline_ns)
    return;
  if (!ok)
    {
      worker->errors++;
      return;
    }

  worker->requests++;
  worker->body_bytes += conn->body_size;
  if (bench->pipeline == 1)
    {
      guint64 latency = now - conn->sent_ns;

      worker->hist[hist_index (latency)]++;
      worker->latency_sum_ns += latency;
      worker->latency_max_ns = MAX (worker->latency_max_ns, latency);
    }
}

/* Strict: "OK ", then a decimal without sign or leading zero, then LF
 * (a CR before it is tolerated, as the server tolerates it from us). */
static gboolean
parse_ok_line (const char *line,
               gsize       len,
               guint64    *size)
{
  guint64 value = 0;
  gsize i = 3;

  if (len < 5 || memcmp (line, "OK ", 3) != 0 || line[len - 1] != '\n')
    return FALSE;
  len--;
  if (line[len - 1] == '\r')
    len--;
  if (i == len || (line[i] == '0' && len - i > 1))
    return FALSE;
  for (; i < len; i++)
    {
      if (!g_ascii_isdigit (line[i]) || value > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      value = value * 10 + (guint64) (line[i] - '0');
    }
  *size = value;
  return TRUE;
}

/* Takes one complete status line. Returns FALSE on a protocol error. */
static gboolean
conn_status_line (Worker *worker,
                  Conn   *conn)
{
  guint64 size;

  if (conn->inflight == 0)
    {
      conn->line[conn->line_len - 1] = '\0';
      report_failure (worker->bench, conn, "reply with no request outstanding:", conn->line);
      return FALSE;
    }

  if (parse_ok_line (conn->line, conn->line_len, &size))
    {
      conn->line_len = 0;
      conn->body_size = size;
      if (size == 0)
        {
          conn_reply_done (worker, conn, TRUE);
          return TRUE;
        }
      conn->in_body = TRUE;
      conn->body_left = size;
      return TRUE;
    }

  conn->line[conn->line_len - 1] = '\0';
  if (g_str_has_prefix (conn->line, "ERR "))
    {
      /* A refused request; the connection goes on unless the server closes it. */
      report_failure (worker->bench, conn, "error reply:", conn->line);
      conn->line_len = 0;
      conn_reply_done (worker, conn, FALSE);
      return TRUE;
    }

  report_failure (worker->bench, conn, "malformed status line:", conn->line);
  return FALSE;
}

/* Consumes @len received bytes: bodies are counted and dropped, status
 * lines collected across reads. Returns FALSE on a protocol error. */
static gboolean
conn_consume (Worker     *worker,
              Conn       *conn,
              const char *p,
              gsize       len)
{
  while (len > 0)
    {
      const char *lf;
      gsize take;

      if (conn->in_body)
        {
          take = (gsize) MIN ((guint64) len, conn->body_left);
          conn->body_left -= take;
          p += take;
          len -= take;
          if (conn->body_left == 0)
            {
              conn->in_body = FALSE;
              conn_reply_done (worker, conn, TRUE);
            }
          continue;
        }

      lf = memchr (p, '\n', len);
      take = lf != NULL ? (gsize) (lf - p) + 1 : len;
      if (conn->line_len + take > STATUS_LINE_MAX - 1)
        {
          report_failure (worker->bench, conn, "status line too long", NULL);
          return FALSE;
        }
      memcpy (conn->line + conn->line_len, p, take);
      conn->line_len += take;
      p += take;
      len -= take;
      if (lf != NULL && !conn_status_line (worker, conn))
        return FALSE;
    }
  return TRUE;
}

/* One recv() per readiness: epoll is level-triggered, so a read that
 * leaves data behind is reported again, and no recv() ends in EAGAIN. */
static gboolean
conn_read (Worker *worker,
           Conn   *conn)
{
  ssize_t n = recv (conn->fd, worker->recv_buffer, worker->bench->recv_size, 0);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return TRUE;
  if (n < 0)
    {
      report_failure (worker->bench, conn, g_strerror (errno), NULL);
      return FALSE;
    }
  if (n == 0)
    {
      if (conn->inflight > 0)
        report_failure (worker->bench, conn, "server closed the connection with replies owed", NULL);
      return FALSE;
    }
  if (!conn_consume (worker, conn, worker->recv_buffer, (gsize) n))
    return FALSE;
  return conn_fill (worker, conn);
}

/* Every request in flight on a failed connection is a failed reply. A
 * connection that cannot be replaced in a few tries is given up. */
static void
conn_restart (Worker *worker,
              Conn   *conn)
{
  for (guint attempt = 0; attempt < 3; attempt++)
    {
      if (now_ns () < (guint64) worker->bench->deadline_ns)
        worker->errors += conn->inflight;

      close (conn->fd);
      conn->inflight = 0;
      conn->in_body = FALSE;
      conn->line_len = 0;
      conn->out_start = conn->out_end = 0;

      conn->fd = connect_to (worker->bench);
      if (conn->fd < 0)
        {
          report_failure (worker->bench, conn, "cannot reconnect:", g_strerror (errno));
          break;
        }
      worker->reconnects++;
      if (conn_watch (worker, conn, EPOLL_CTL_ADD, FALSE) && conn_fill (worker, conn))
        return;
    }

  if (conn->fd >= 0)
    close (conn->fd);
  conn->fd = -1;
  worker->errors++;
  worker->live--;
}

static gpointer
worker_run (gpointer data)
{
  Worker *worker = data;
  Bench *bench = worker->bench;
  struct epoll_event events[EVENTS_MAX];

  for (guint i = 0; i < worker->n_conns; i++)
    {
      Conn *conn = worker->conns[i];

      if (!conn_watch (worker, conn, EPOLL_CTL_ADD, FALSE))
        g_error ("epoll_ctl: %s", g_strerror (errno));
      if (!conn_fill (worker, conn))
        conn_restart (worker, conn);
    }

  while (worker->live > 0)
    {
      guint64 now = now_ns ();
      int n;

      if (now >= (guint64) bench->deadline_ns)
        break;

      n = epoll_wait (worker->epfd, events, EVENTS_MAX,
                      (int) ((bench->deadline_ns - (gint64) now + 999999) / 1000000));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("epoll_wait: %s", g_strerror (errno));

      for (int i = 0; i < n; i++)
        {
          Conn *conn = events[i].data.ptr;
          gboolean ok = TRUE;

          if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            ok = conn_read (worker, conn);
          if (ok && (events[i].events & EPOLLOUT))
            ok = conn_flush (worker, conn);
          if (!ok)
            conn_restart (worker, conn);
        }
    }

  return NULL;
}

static gboolean
resolve (Bench       *bench,
         const char  *host,
         int          port,
         GError     **error)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
  struct addrinfo *res = NULL;
  char service[16];
  int rc;

  g_snprintf (service, sizeof service, "%d", port);
  rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, g_quark_from_static_string ("fcbench-error"), 0, "cannot resolve %s: %s", host, gai_strerror (rc));
      return FALSE;
    }
  memcpy (&bench->addr, res->ai_addr, res->ai_addrlen);
  bench->addr_len = res->ai_addrlen;
  freeaddrinfo (res);
  return TRUE;
}

static void
usage_error (GOptionContext *context,
             const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("fcbench: %s\n\n%s", message, help);
  exit (2);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *host = NULL;
  gint port = 3030, connections = 32, threads = 2, pipeline = 1, recv_size = RECV_SIZE_DEFAULT;
  double duration = 10.0;
  g_auto(GStrv) names = NULL;
  GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host, "Server address or name (default: 127.0.0.1)", "HOST" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Server port (default: 3030)", "PORT" },
    { "connections", 'c', 0, G_OPTION_ARG_INT, &connections, "Keep-alive connections (default: 32)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads sharing the connections (default: 2)", "N" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration, "Seconds to run (default: 10)", "S" },
    { "name", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &names, "A file to GET; repeat for several, taken round-robin", "NAME" },
    { "pipeline", 0, 0, G_OPTION_ARG_INT, &pipeline, "Requests in flight per connection (default: 1)", "N" },
    { "recv-size", 0, 0, G_OPTION_ARG_INT, &recv_size,
      "Bytes read per recv() (default: 262144; wrk reads 8192)", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- load generator for filecached");
  g_autoptr(GError) error = NULL;
  Bench bench = { 0 };
  Conn *conns;
  Worker *workers;
  guint64 start_ns, requests = 0, body_bytes = 0, errors = 0, reconnects = 0;
  guint64 latency_sum = 0, latency_max = 0;
  guint64 *hist = g_new0 (guint64, HIST_BUCKETS);
  double seconds, rps, mibps;
  char p50[32] = "-", p90[32] = "-", p99[32] = "-", p999[32] = "-", mean[32] = "-", max[32] = "-";

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
                                "Sends GET requests over keep-alive connections for a fixed time and reports\n"
                                "requests/s, MiB/s of body, errors, and (with one request in flight per\n"
                                "connection) latency percentiles.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    usage_error (context, error->message);
  if (argc > 1)
    usage_error (context, "unexpected argument");
  if (names == NULL || names[0] == NULL)
    usage_error (context, "at least one -n NAME is needed");
  if (port < 1 || port > 65535)
    usage_error (context, "the port must be 1 to 65535");
  if (connections < 1 || connections > 100000)
    usage_error (context, "connections must be 1 to 100000");
  if (threads < 1 || threads > 1024)
    usage_error (context, "threads must be 1 to 1024");
  if (pipeline < 1 || pipeline > 1024)
    usage_error (context, "pipeline must be 1 to 1024");
  if (recv_size < 64 || recv_size > 64 * 1024 * 1024)
    usage_error (context, "the recv size must be 64 bytes to 64 MiB");
  if (!(duration > 0.0 && duration <= 86400.0))
    usage_error (context, "the duration must be more than 0 and at most 86400 seconds");
  threads = MIN (threads, connections);
  if (host == NULL)
    host = g_strdup ("127.0.0.1");

  signal (SIGPIPE, SIG_IGN);

  if (!resolve (&bench, host, port, &error))
    {
      g_printerr ("fcbench: %s\n", error->message);
      return 1;
    }

  bench.n_requests = g_strv_length (names);
  bench.requests = g_new0 (char *, bench.n_requests);
  bench.request_lens = g_new0 (gsize, bench.n_requests);
  for (guint i = 0; i < bench.n_requests; i++)
    {
      bench.requests[i] = g_strconcat ("GET ", names[i], "\n", NULL);
      bench.request_lens[i] = strlen (bench.requests[i]);
      bench.request_max = MAX (bench.request_max, bench.request_lens[i]);
    }
  bench.pipeline = (guint) pipeline;
  bench.recv_size = (gsize) recv_size;

  /* All connections exist before the clock starts, so the run measures
   * requests, not handshakes. */
  conns = g_new0 (Conn, (gsize) connections);
  for (gint i = 0; i < connections; i++)
    {
      Conn *conn = &conns[i];

      conn->id = (guint) i;
      conn->next_request = (guint) i % bench.n_requests;
      conn->out = g_malloc (bench.request_max * bench.pipeline);
      conn->fd = connect_to (&bench);
      if (conn->fd < 0)
        {
          g_printerr ("fcbench: cannot connect to %s port %d: %s\n", host, port, g_strerror (errno));
          return 1;
        }
    }

  workers = g_new0 (Worker, (gsize) threads);
  for (gint t = 0; t < threads; t++)
    {
      Worker *worker = &workers[t];

      worker->bench = &bench;
      worker->epfd = epoll_create1 (EPOLL_CLOEXEC);
      if (worker->epfd < 0)
        g_error ("epoll_create1: %s", g_strerror (errno));
      worker->recv_buffer = g_malloc (bench.recv_size);
      worker->conns = g_new0 (Conn *, (gsize) (connections / threads + 1));
      for (gint i = t; i < connections; i += threads)
        worker->conns[worker->n_conns++] = &conns[i];
      worker->live = worker->n_conns;
    }

  start_ns = now_ns ();
  bench.deadline_ns = (gint64) start_ns + (gint64) (duration * 1e9);
  for (gint t = 0; t < threads; t++)
    workers[t].thread = g_thread_new ("fcbench", worker_run, &workers[t]);

  for (gint t = 0; t < threads; t++)
    {
      Worker *worker = &workers[t];

      g_thread_join (worker->thread);
      requests += worker->requests;
      body_bytes += worker->body_bytes;
      errors += worker->errors;
      reconnects += worker->reconnects;
      latency_sum += worker->latency_sum_ns;
      latency_max = MAX (latency_max, worker->latency_max_ns);
      for (guint i = 0; i < HIST_BUCKETS; i++)
        hist[i] += worker->hist[i];
      close (worker->epfd);
      g_free (worker->recv_buffer);
      g_free (worker->conns);
    }

  if (requests == 0 && errors == 0)
    g_printerr ("fcbench: no reply arrived within the run\n");

  /* Only replies completed before the deadline were counted. */
  seconds = (double) (bench.deadline_ns - (gint64) start_ns) / 1e9;
  rps = (double) requests / seconds;
  mibps = (double) body_bytes / seconds / (1024.0 * 1024.0);

  if (bench.pipeline == 1 && requests > 0)
    {
      g_snprintf (p50, sizeof p50, "%.1f", hist_percentile (hist, requests, 0.50) / 1000.0);
      g_snprintf (p90, sizeof p90, "%.1f", hist_percentile (hist, requests, 0.90) / 1000.0);
      g_snprintf (p99, sizeof p99, "%.1f", hist_percentile (hist, requests, 0.99) / 1000.0);
      g_snprintf (p999, sizeof p999, "%.1f", hist_percentile (hist, requests, 0.999) / 1000.0);
      g_snprintf (mean, sizeof mean, "%.1f", (double) latency_sum / (double) requests / 1000.0);
      g_snprintf (max, sizeof max, "%.1f", (double) latency_max / 1000.0);
    }

  printf ("fcbench: %s port %d, %d connections, %d threads, pipeline %d, %.1f s\n",
          host, port, connections, threads, pipeline, seconds);
  printf ("  requests   %" G_GUINT64_FORMAT " (%.1f/s)\n", requests, rps);
  printf ("  body       %.1f MiB (%.2f MiB/s)\n", (double) body_bytes / (1024.0 * 1024.0), mibps);
  printf ("  errors     %" G_GUINT64_FORMAT " (reconnects %" G_GUINT64_FORMAT ")\n", errors, reconnects);
  if (bench.pipeline == 1)
    printf ("  latency us p50 %s  p90 %s  p99 %s  p99.9 %s  mean %s  max %s\n",
            p50, p90, p99, p999, mean, max);
  else
    printf ("  latency    not measured with more than one request in flight\n");
  printf ("fcbench: requests=%" G_GUINT64_FORMAT " seconds=%.3f rps=%.1f mibps=%.2f errors=%"
          G_GUINT64_FORMAT " p50_us=%s p99_us=%s connections=%d threads=%d pipeline=%d\n",
          requests, seconds, rps, mibps, errors, p50, p99, connections, threads, pipeline);

  for (gint i = 0; i < connections; i++)
    {
      if (conns[i].fd >= 0)
        close (conns[i].fd);
      g_free (conns[i].out);
    }
  g_free (conns);
  g_free (workers);
  g_free (hist);
  for (guint i = 0; i < bench.n_requests; i++)
    g_free (bench.requests[i]);
  g_free (bench.requests);
  g_free (bench.request_lens);

  return errors == 0 && requests > 0 ? 0 : 1;
}
