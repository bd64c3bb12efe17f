/* The load engine of filecache-bench. Each of the threads owns a share of
 * the connections, all non-blocking in one epoll set per thread, and
 * drives them through whatever the mode asks: requests back to back, one
 * request per connection, or one request (or half of one) and then
 * silence. Each thread counts into its own totals; they are added up once
 * the threads are joined.
 *
 * Paced keep-alive (--interval) times each request from when it was due,
 * not from when it left: a server that stalls a connection for a second
 * delays every request due in that second, and each counts its share of
 * the stall (wrk2's correction for coordinated omission). Requests still
 * owed at the deadline count with their age then, so a connection the
 * server never answers weighs as much as one it answers at once. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "load.h"
#include "wire.h"

#define EVENTS_MAX 64
/* Only the first few failures are described; all are counted. */
#define ERRORS_SHOWN 10
/* A connection that cannot be opened this many times in a row is given up. */
#define CONNECT_TRIES 3
/* Bounds each wait, so that fcb_load_stop() is seen within this long. */
#define WAIT_MAX_MS 100
/* Marks, in Conn.sent, a request already sent again once. */
#define SENT_RETRY (1u << 31)

typedef enum {
  CONN_CONNECTING,
  CONN_OPEN,
  CONN_CLOSED,         /* for good */
} ConnState;

typedef struct {
  int fd;                   /* -1 while closed */
  guint id;
  ConnState state;
  gboolean reconnects;      /* slowloris: connects again when dropped */
  gboolean held;            /* resting as the mode wants: idle, unread or stalled */
  gboolean settled;         /* has been held, or has failed, at least once */
  guint32 events;           /* the epoll interest set; 0 while not in it */
  guint inflight;           /* requests sent (or being sent) and not yet answered */
  guint *sent;              /* (owned) (array length=pipeline): a ring of the requests in
                             * flight, oldest at sent_first, each an index into the
                             * requests, with SENT_RETRY if already sent again once */
  guint sent_first;
  guint retries;            /* keep-alive: requests at sent_first that the server closed
                             * on unanswered, owed to the next connection */
  gint64 started_ns;        /* when the timed request left (paced: was due), or its connection began */
  gint64 due_ns;            /* paced: when the next request is due */
  FcbHist *latency_ns;      /* (owned) (nullable): paced only, this connection's own */
  FcbReply reply;           /* (owned) */
  char *out;                /* (owned): requests not yet sent */
  gsize out_start;
  gsize out_end;
} Conn;

typedef struct {
  FcbLoad *load;
  GThread *thread;          /* (owned) (nullable) */
  int epfd;
  Conn **conns;             /* (owned): the array; the Conns belong to FcbLoad */
  guint n_conns;
  guint live;               /* connections not closed for good */
  char *recv_buffer;        /* (owned) */
  GRand *rand;              /* (owned): only this thread's */
  FcbLoadTotals totals;
} Worker;

struct _FcbLoad {
  FcbLoadConfig config;     /* its pointers are borrowed from the caller */
  Conn *conns;              /* (owned) (array length=n_conns) */
  guint n_conns;
  Worker *workers;          /* (owned) (array length=n_workers) */
  guint n_workers;
  gint64 deadline_ns;       /* written before the threads start */
  atomic_bool stop;
  atomic_uint errors_shown;
  GMutex lock;
  GCond settled_cond;
  guint settled;            /* (locked by lock) */
};

/**
 * fcb_now_ns:
 *
 * Returns: CLOCK_MONOTONIC in nanoseconds, the clock of every deadline here
 */
gint64
fcb_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static void
report_failure (FcbLoad    *load,
                const Conn *conn,
                const char *message)
{
  guint shown = atomic_fetch_add (&load->errors_shown, 1);
  g_autofree char *escaped = NULL;

  if (shown >= ERRORS_SHOWN)
    return;
  escaped = g_strescape (message, NULL);
  g_printerr (_("filecache-bench: connection %u: %s\n"), conn->id, escaped);
  if (shown + 1 == ERRORS_SHOWN)
    g_printerr (_("filecache-bench: further failures are counted, not shown\n"));
}

static void
conn_watch (Worker  *worker,
            Conn    *conn,
            guint32  events)
{
  struct epoll_event ev = { .events = events, .data.ptr = conn };

  if (events == conn->events)
    return;
  if (epoll_ctl (worker->epfd, conn->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, conn->fd, &ev) != 0)
    g_error ("epoll_ctl: %s", g_strerror (errno));
  conn->events = events;
}

/* A reset leaves no TIME_WAIT behind, so that thousands of connections a
 * second do not run the generator out of local ports. */
static void
conn_close (Conn *conn)
{
  struct linger hard = { .l_onoff = 1, .l_linger = 0 };

  if (conn->fd < 0)
    return;
  setsockopt (conn->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close (conn->fd);
  conn->fd = -1;
  conn->events = 0;
}

static void
conn_settle (Worker *worker,
             Conn   *conn)
{
  FcbLoad *load = worker->load;

  if (conn->settled)
    return;
  conn->settled = TRUE;
  g_mutex_lock (&load->lock);
  load->settled++;
  g_mutex_unlock (&load->lock);
  g_cond_broadcast (&load->settled_cond);
}

static gboolean
counting (const FcbLoad *load)
{
  return fcb_now_ns () < load->deadline_ns;
}

static guint
pick_request (Worker *worker)
{
  return fcb_zipf_sample (worker->load->config.chooser, g_rand_double (worker->rand));
}

/* The @nth request in flight, counted from the oldest. */
static guint *
conn_sent (Conn  *conn,
           guint  pipeline,
           guint  nth)
{
  guint i = conn->sent_first + nth;

  return &conn->sent[i < pipeline ? i : i - pipeline];
}

static void
conn_queue (Conn       *conn,
            const char *bytes,
            gsize       len)
{
  memcpy (conn->out + conn->out_end, bytes, len);
  conn->out_end += len;
}

/* Sends what is queued; what the socket does not take waits for EPOLLOUT.
 * A connection is held once a mode's last bytes are out. */
static gboolean
conn_flush (Worker *worker,
            Conn   *conn)
{
  FcbMode mode = worker->load->config.mode;
  guint32 events;

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
          report_failure (worker->load, conn, g_strerror (errno));
          return FALSE;
        }
      conn->out_start += (gsize) n;
    }

  if (conn->out_start == conn->out_end)
    {
      conn->out_start = conn->out_end = 0;
      if (!conn->held && (mode == FCB_MODE_UNREAD || mode == FCB_MODE_SLOWLORIS))
        {
          conn->held = TRUE;
          conn_settle (worker, conn);
        }
    }

  /* An unread reply is never read: only the server's close wakes it. */
  events = mode == FCB_MODE_UNREAD ? EPOLLRDHUP : EPOLLIN;
  if (conn->out_end > 0)
    events |= EPOLLOUT;
  conn_watch (worker, conn, events);
  return TRUE;
}

/* Tops the connection up to the pipeline depth, in one send(). */
static gboolean
conn_fill (Worker *worker,
           Conn   *conn)
{
  const FcbLoadConfig *config = &worker->load->config;

  if (conn->inflight >= config->pipeline)
    return TRUE;
  /* Not yet due: worker_pace() sends it in time. */
  if (config->interval_ns > 0 && conn->due_ns > fcb_now_ns ())
    return TRUE;

  if (conn->out_start > 0)
    {
      memmove (conn->out, conn->out + conn->out_start, conn->out_end - conn->out_start);
      conn->out_end -= conn->out_start;
      conn->out_start = 0;
    }

  while (conn->inflight < config->pipeline)
    {
      guint r = pick_request (worker);

      *conn_sent (conn, config->pipeline, conn->inflight) = r;
      conn_queue (conn, config->requests[r], config->request_lens[r]);
      conn->inflight++;
    }

  /* A new connection's request is timed from its connect(); a paced one
   * from when it was due, which is earlier if the server kept us late. */
  if (config->interval_ns > 0)
    {
      conn->started_ns = conn->due_ns;
      conn->due_ns += config->interval_ns;
    }
  else if (config->mode == FCB_MODE_KEEP_ALIVE)
    conn->started_ns = fcb_now_ns ();
  return conn_flush (worker, conn);
}

/* Queues first the requests that the last connection was closed on
 * unanswered, marked so that a second such close fails them. */
static void
conn_queue_retries (const FcbLoadConfig *config,
                    Conn                *conn)
{
  for (; conn->retries > 0; conn->retries--)
    {
      guint *sent = conn_sent (conn, config->pipeline, conn->inflight);
      guint r = *sent & ~SENT_RETRY;

      *sent = r | SENT_RETRY;
      conn_queue (conn, config->requests[r], config->request_lens[r]);
      conn->inflight++;
    }
}

static gboolean
conn_opened (Worker *worker,
             Conn   *conn)
{
  const FcbLoadConfig *config = &worker->load->config;
  int one = 1;
  guint r;

  conn->state = CONN_OPEN;
  if (setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    {
      report_failure (worker->load, conn, g_strerror (errno));
      return FALSE;
    }

  switch (config->mode)
    {
    case FCB_MODE_KEEP_ALIVE:
      /* Sent even when conn_fill() has nothing to add, or is not yet due. */
      if (conn->retries > 0)
        {
          conn_queue_retries (config, conn);
          if (!conn_flush (worker, conn))
            return FALSE;
        }
      G_GNUC_FALLTHROUGH;
    case FCB_MODE_NEW_CONNECTION:
      return conn_fill (worker, conn);
    case FCB_MODE_IDLE:
    case FCB_MODE_UNREAD:
      r = pick_request (worker);
      conn_queue (conn, config->requests[r], config->request_lens[r]);
      conn->inflight = 1;
      return conn_flush (worker, conn);
    case FCB_MODE_SLOWLORIS:
      /* The first half of a line, so the server cannot tell it from a slow client. */
      r = conn->id % config->n_requests;
      conn_queue (conn, config->requests[r], (config->request_lens[r] + 1) / 2);
      return conn_flush (worker, conn);
    }
  g_assert_not_reached ();
}

/* Begins a non-blocking connect(); FALSE if it failed at once. */
static gboolean
conn_begin (Worker *worker,
            Conn   *conn)
{
  const FcbLoadConfig *config = &worker->load->config;

  conn->fd = socket (config->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (conn->fd < 0)
    {
      report_failure (worker->load, conn, g_strerror (errno));
      return FALSE;
    }
  conn->state = CONN_CONNECTING;
  conn->held = FALSE;
  conn->inflight = 0;
  conn->out_start = conn->out_end = 0;
  fcb_reply_reset (&conn->reply);
  /* A request sent again is timed from when it was first sent. */
  if (conn->retries == 0)
    conn->started_ns = fcb_now_ns ();

  if (connect (conn->fd, (const struct sockaddr *) &config->addr, config->addr_len) == 0)
    return conn_opened (worker, conn);
  if (errno != EINPROGRESS)
    {
      report_failure (worker->load, conn, g_strerror (errno));
      return FALSE;
    }
  conn_watch (worker, conn, EPOLLOUT);
  return TRUE;
}

static void
conn_give_up (Worker *worker,
              Conn   *conn)
{
  /* Owed a connection that never came. */
  if (counting (worker->load))
    worker->totals.errors += conn->retries;
  conn->retries = 0;
  conn_close (conn);
  conn->state = CONN_CLOSED;
  worker->live--;
  conn_settle (worker, conn);
}

static void
conn_reopen (Worker *worker,
             Conn   *conn)
{
  for (guint attempt = 0; attempt < CONNECT_TRIES; attempt++)
    {
      conn_close (conn);
      if (conn_begin (worker, conn))
        return;
      if (counting (worker->load))
        worker->totals.errors++;
    }
  conn_give_up (worker, conn);
}

/* The connection failed, or the server closed it: what that costs, and
 * what follows, depend on the mode. */
static void
conn_lost (Worker *worker,
           Conn   *conn)
{
  FcbLoad *load = worker->load;
  FcbLoadTotals *totals = &worker->totals;
  gboolean was_open = conn->state == CONN_OPEN;

  conn_close (conn);
  switch (load->config.mode)
    {
    case FCB_MODE_KEEP_ALIVE:
    case FCB_MODE_NEW_CONNECTION:
      /* Every request in flight failed; so did a connection that never opened. */
      if (counting (load))
        totals->errors += was_open ? conn->inflight : 1;
      if (load->config.mode == FCB_MODE_KEEP_ALIVE)
        totals->reconnects++;
      conn_reopen (worker, conn);
      break;
    case FCB_MODE_IDLE:
    case FCB_MODE_UNREAD:
    case FCB_MODE_SLOWLORIS:
      if (conn->held)
        totals->dropped++;
      else
        totals->errors++;
      conn_settle (worker, conn);
      if (conn->reconnects)
        {
          totals->reconnects++;
          conn_reopen (worker, conn);
        }
      else
        conn_give_up (worker, conn);
      break;
    }
}

/* A latency into the thread's totals and, paced, the connection's own. */
static void
conn_record (Worker  *worker,
             Conn    *conn,
             guint64  ns)
{
  fcb_hist_add (&worker->totals.latency_ns, ns);
  if (conn->latency_ns != NULL)
    fcb_hist_add (conn->latency_ns, ns);
}

static void
conn_reply_done (Worker   *worker,
                 Conn     *conn,
                 gboolean  ok)
{
  FcbLoad *load = worker->load;
  gint64 now = fcb_now_ns ();

  conn->inflight--;
  conn->sent_first = conn->sent_first + 1 < load->config.pipeline ? conn->sent_first + 1 : 0;
  if (now >= load->deadline_ns)
    return;
  if (!ok)
    {
      worker->totals.errors++;
      return;
    }
  worker->totals.requests++;
  worker->totals.body_bytes += conn->reply.body_size;
  if (load->config.pipeline == 1)
    conn_record (worker, conn, (guint64) (now - conn->started_ns));
}

/* Checks received bytes against the replies owed. FALSE: the connection
 * is lost (or, with a new connection per request, done with). */
static gboolean
conn_consume (Worker     *worker,
              Conn       *conn,
              const char *p,
              gsize       len)
{
  FcbLoad *load = worker->load;
  FcbMode mode = load->config.mode;

  while (len > 0)
    {
      g_autoptr(GError) error = NULL;
      FcbReplyStatus status;
      gsize used;

      if (conn->inflight == 0)
        {
          report_failure (load, conn, _("bytes with no request outstanding"));
          return FALSE;
        }
      status = fcb_reply_feed (&conn->reply, p, len, &used, &error);
      p += used;
      len -= used;
      if (status == FCB_REPLY_MORE)
        break;

      if (status == FCB_REPLY_FAILED)
        {
          report_failure (load, conn, error->message);
          /* A held connection must have had a good reply. */
          if (mode == FCB_MODE_IDLE)
            return FALSE;
          conn_reply_done (worker, conn, FALSE);
          if (!g_error_matches (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_REFUSED))
            return FALSE;
        }
      else if (conn->reply.closing && mode == FCB_MODE_KEEP_ALIVE)
        {
          report_failure (load, conn, _("the server closes the connection after a reply (no keep-alive)"));
          conn_reply_done (worker, conn, FALSE);
          return FALSE;
        }
      else
        conn_reply_done (worker, conn, TRUE);

      if (mode == FCB_MODE_NEW_CONNECTION)
        {
          conn_reopen (worker, conn);
          return TRUE;
        }
      if (mode == FCB_MODE_IDLE)
        {
          conn->held = TRUE;
          conn_settle (worker, conn);
        }
    }

  return mode == FCB_MODE_KEEP_ALIVE ? conn_fill (worker, conn) : TRUE;
}

/* The server closed the connection in order (not a reset). Each request in
 * flight that has had no byte of its reply may not have reached it, and
 * asks nothing that a second asking would change: it is owed to the next
 * connection, once (RFC 9112, 9.3.1), as a server that is stopping closes
 * its keep-alive connections under requests already on their way. A reply
 * begun and a request already sent again stay in flight, to fail. */
static void
conn_keep_retries (Worker *worker,
                   Conn   *conn)
{
  guint pipeline = worker->load->config.pipeline;
  guint failed = fcb_reply_in_progress (&conn->reply) ? 1 : 0;

  /* Those sent again come first on a connection: see conn_opened(). */
  while (failed < conn->inflight && (*conn_sent (conn, pipeline, failed) & SENT_RETRY))
    failed++;
  conn->retries = conn->inflight - failed;
  if (counting (worker->load))
    worker->totals.retried += conn->retries;
  conn->sent_first = (conn->sent_first + failed) % pipeline;
  conn->inflight = failed;
}

/* One recv() per readiness: epoll is level-triggered, so a read that
 * leaves data behind is reported again. */
static gboolean
conn_readable (Worker *worker,
               Conn   *conn)
{
  FcbLoad *load = worker->load;
  ssize_t n;

  if (load->config.mode == FCB_MODE_UNREAD)
    return FALSE;

  n = recv (conn->fd, worker->recv_buffer, load->config.recv_size, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return TRUE;
  if (n < 0)
    {
      if (!conn->held)
        report_failure (load, conn, g_strerror (errno));
      return FALSE;
    }
  if (n == 0)
    {
      if (load->config.mode == FCB_MODE_KEEP_ALIVE)
        conn_keep_retries (worker, conn);
      if (conn->inflight > 0 || fcb_reply_in_progress (&conn->reply))
        report_failure (load, conn, _("the server closed the connection with replies owed"));
      return FALSE;
    }
  /* Not checked against the deadline, which would take a clock read per
   * recv(): the thread stops at most one batch of events past it. */
  worker->totals.received_bytes += (guint64) n;
  /* Whatever a server says to a stalled client (a timeout's error line)
   * changes nothing: only its close counts. */
  if (load->config.mode == FCB_MODE_SLOWLORIS)
    return TRUE;
  return conn_consume (worker, conn, worker->recv_buffer, (gsize) n);
}

static void
conn_event (Worker   *worker,
            Conn     *conn,
            guint32   events)
{
  int fd = conn->fd;
  gboolean ok = TRUE;

  if (conn->state == CONN_CONNECTING)
    {
      int err = 0;
      socklen_t err_len = sizeof err;

      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0)
        err = errno;
      if (err != 0)
        {
          g_autofree char *message = g_strdup_printf (_("cannot connect: %s"), g_strerror (err));

          report_failure (worker->load, conn, message);
          ok = FALSE;
        }
      else
        ok = conn_opened (worker, conn);
    }
  else
    {
      if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        ok = conn_readable (worker, conn);
      /* Not when that reply opened a new connection in this one's place. */
      if (ok && conn->fd == fd && conn->state == CONN_OPEN && (events & EPOLLOUT))
        ok = conn_flush (worker, conn);
    }
  if (!ok)
    conn_lost (worker, conn);
}

/* Paced: sends what has come due on connections owed nothing, and
 * returns when the next one is due (G_MAXINT64: none waits). */
static gint64
worker_pace (Worker *worker)
{
  gint64 now = fcb_now_ns (), next = G_MAXINT64;

  for (guint i = 0; i < worker->n_conns; i++)
    {
      Conn *conn = worker->conns[i];

      if (conn->state != CONN_OPEN || conn->inflight > 0)
        continue;
      if (conn->due_ns <= now)
        {
          /* The server owed this connection nothing, so a late send is
           * this thread's own delay, not the server's: timed from now. */
          conn->due_ns = now;
          if (!conn_fill (worker, conn))
            conn_lost (worker, conn);
        }
      else
        next = MIN (next, conn->due_ns);
    }
  return next;
}

/* Paced: what each connection still owes at the deadline, with its age
 * then (a lower bound on its latency): the request in flight and every
 * one that fell due behind it. */
static void
worker_count_unanswered (Worker *worker)
{
  FcbLoad *load = worker->load;
  gint64 end = load->deadline_ns;

  for (guint i = 0; i < worker->n_conns; i++)
    {
      Conn *conn = worker->conns[i];

      /* A request owed to a connection still opening is owed all the same. */
      if (conn->state == CONN_CLOSED || conn->inflight + conn->retries == 0)
        continue;
      conn_record (worker, conn, (guint64) MAX (end - conn->started_ns, 0));
      worker->totals.unanswered++;
      for (gint64 due = conn->due_ns; due < end; due += load->config.interval_ns)
        {
          conn_record (worker, conn, (guint64) (end - due));
          worker->totals.unanswered++;
        }
    }
}

static gpointer
worker_run (gpointer data)
{
  Worker *worker = data;
  FcbLoad *load = worker->load;
  gint64 interval_ns = load->config.interval_ns;
  gint64 begun_ns = fcb_now_ns ();
  struct epoll_event events[EVENTS_MAX];

  for (guint i = 0; i < worker->n_conns; i++)
    {
      Conn *conn = worker->conns[i];

      /* Spread over one interval, so that the connections do not ask in bursts. */
      conn->due_ns = begun_ns + interval_ns * conn->id / load->n_conns;

      /* Keep-alive connections were opened before the clock started. */
      if (conn->fd >= 0)
        {
          if (!conn_opened (worker, conn))
            conn_lost (worker, conn);
        }
      else
        conn_reopen (worker, conn);
    }

  while (worker->live > 0 && !atomic_load (&load->stop))
    {
      gint64 next = interval_ns > 0 ? worker_pace (worker) : G_MAXINT64;
      gint64 now = fcb_now_ns ();
      gint64 left = MIN (load->deadline_ns, next) - now;
      int timeout_ms, n;

      if (now >= load->deadline_ns)
        break;
      left = MAX (left, 0);
      timeout_ms = left >= (gint64) WAIT_MAX_MS * 1000000 ? WAIT_MAX_MS : (int) ((left + 999999) / 1000000);
      n = epoll_wait (worker->epfd, events, EVENTS_MAX, timeout_ms);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("epoll_wait: %s", g_strerror (errno));
      for (int i = 0; i < n; i++)
        conn_event (worker, events[i].data.ptr, events[i].events);
    }

  if (interval_ns > 0 && !atomic_load (&load->stop))
    worker_count_unanswered (worker);
  return NULL;
}

static int
connect_blocking (const FcbLoadConfig *config)
{
  int fd = socket (config->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  if (connect (fd, (const struct sockaddr *) &config->addr, config->addr_len) != 0 ||
      fcntl (fd, F_SETFL, O_NONBLOCK) != 0)
    {
      int saved_errno = errno;

      close (fd);
      errno = saved_errno;
      return -1;
    }
  return fd;
}

/**
 * fcb_load_new:
 * @config: what to do; its arrays and @chooser must outlive the load
 * @error: a #GIOError when a keep-alive connection cannot be opened
 *
 * Prepares the connections and threads. In keep-alive mode every
 * connection is opened here, so that the run measures requests, not
 * handshakes; every other mode connects once started.
 *
 * Returns: (transfer full) (nullable): the load, not yet started
 */
FcbLoad *
fcb_load_new (const FcbLoadConfig  *config,
              GError              **error)
{
  g_autoptr(FcbLoad) load = g_new0 (FcbLoad, 1);
  gsize request_max = 0;

  load->config = *config;
  load->deadline_ns = G_MAXINT64;
  g_mutex_init (&load->lock);
  g_cond_init (&load->settled_cond);
  load->n_conns = config->connections + (config->mode == FCB_MODE_SLOWLORIS ? config->reconnecting : 0);
  for (guint r = 0; r < config->n_requests; r++)
    request_max = MAX (request_max, config->request_lens[r]);

  load->conns = g_new0 (Conn, load->n_conns);
  for (guint i = 0; i < load->n_conns; i++)
    {
      Conn *conn = &load->conns[i];

      conn->fd = -1;
      conn->id = i;
      conn->reconnects = config->mode == FCB_MODE_SLOWLORIS && i >= config->connections;
      fcb_reply_init (&conn->reply, config->http, config->command);
      conn->out = g_malloc (request_max * config->pipeline);
      conn->sent = g_new (guint, config->pipeline);
      /* 30 KiB each, so only where it is read: which connection waited. */
      if (config->interval_ns > 0)
        conn->latency_ns = g_new0 (FcbHist, 1);
    }

  if (config->mode == FCB_MODE_KEEP_ALIVE)
    for (guint i = 0; i < load->n_conns; i++)
      {
        load->conns[i].fd = connect_blocking (config);
        if (load->conns[i].fd < 0)
          {
            int saved_errno = errno;

            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                         _("cannot open connection %u: %s"), i, g_strerror (saved_errno));
            return NULL;
          }
      }

  load->n_workers = CLAMP (config->threads, 1, MAX (load->n_conns, 1));
  load->workers = g_new0 (Worker, load->n_workers);
  for (guint t = 0; t < load->n_workers; t++)
    load->workers[t].epfd = -1;
  for (guint t = 0; t < load->n_workers; t++)
    {
      Worker *worker = &load->workers[t];

      worker->load = load;
      worker->epfd = epoll_create1 (EPOLL_CLOEXEC);
      if (worker->epfd < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "epoll_create1: %s", g_strerror (saved_errno));
          return NULL;
        }
      worker->recv_buffer = g_malloc (config->recv_size);
      /* Seeded by position, so that two runs choose the same names. */
      worker->rand = g_rand_new_with_seed (t + 1);
      worker->conns = g_new0 (Conn *, load->n_conns / load->n_workers + 1);
      for (guint i = t; i < load->n_conns; i += load->n_workers)
        worker->conns[worker->n_conns++] = &load->conns[i];
      worker->live = worker->n_conns;
    }

  return g_steal_pointer (&load);
}

/**
 * fcb_load_start:
 * @load: a load not yet started
 * @deadline_ns: on fcb_now_ns()'s clock, when the threads stop; replies
 *   that end later are not counted. %G_MAXINT64 to run until
 *   fcb_load_stop().
 *
 * Starts one thread per share of the connections.
 */
void
fcb_load_start (FcbLoad *load,
                gint64   deadline_ns)
{
  load->deadline_ns = deadline_ns;
  for (guint t = 0; t < load->n_workers; t++)
    load->workers[t].thread = g_thread_new ("filecache-bench", worker_run, &load->workers[t]);
}

/**
 * fcb_load_wait_settled:
 * @load: a started load
 * @until_ns: on fcb_now_ns()'s clock, when to stop waiting
 *
 * Waits until every connection has reached the state its mode holds it in
 * (idle after its reply, its request sent, its half line sent) or failed
 * on the way. Any thread may call it.
 *
 * Returns: whether all settled before @until_ns
 */
gboolean
fcb_load_wait_settled (FcbLoad *load,
                       gint64   until_ns)
{
  gint64 until_us = g_get_monotonic_time () + (until_ns - fcb_now_ns ()) / 1000;
  gboolean all;

  g_mutex_lock (&load->lock);
  while (load->settled < load->n_conns)
    if (!g_cond_wait_until (&load->settled_cond, &load->lock, until_us))
      break;
  all = load->settled >= load->n_conns;
  g_mutex_unlock (&load->lock);
  return all;
}

/**
 * fcb_load_stop:
 * @load: a started load
 *
 * Asks the threads to stop within about 100 ms. Any thread may call it.
 */
void
fcb_load_stop (FcbLoad *load)
{
  atomic_store (&load->stop, TRUE);
}

/**
 * fcb_load_join:
 * @load: a started load
 * @totals: (out caller-allocates): the sums over every thread
 *
 * Waits for the threads to end (at the deadline or after fcb_load_stop())
 * and adds up what they counted.
 */
void
fcb_load_join (FcbLoad       *load,
               FcbLoadTotals *totals)
{
  memset (totals, 0, sizeof *totals);
  for (guint t = 0; t < load->n_workers; t++)
    {
      Worker *worker = &load->workers[t];

      g_clear_pointer (&worker->thread, g_thread_join);
      totals->requests += worker->totals.requests;
      totals->body_bytes += worker->totals.body_bytes;
      totals->received_bytes += worker->totals.received_bytes;
      totals->errors += worker->totals.errors;
      totals->reconnects += worker->totals.reconnects;
      totals->retried += worker->totals.retried;
      totals->dropped += worker->totals.dropped;
      totals->unanswered += worker->totals.unanswered;
      fcb_hist_merge (&totals->latency_ns, &worker->totals.latency_ns);
    }
  for (guint i = 0; i < load->n_conns; i++)
    {
      const Conn *conn = &load->conns[i];

      if (conn->state == CONN_OPEN && conn->fd >= 0)
        totals->open++;
      if (conn->latency_ns != NULL && conn->latency_ns->total > 0)
        totals->conn_p99_max_ns = MAX (totals->conn_p99_max_ns, fcb_hist_percentile (conn->latency_ns, 0.99));
    }
}

/**
 * fcb_load_free:
 * @load: (transfer full): a load not started, or joined
 *
 * Closes every connection (with a reset) and frees the load.
 */
void
fcb_load_free (FcbLoad *load)
{
  for (guint i = 0; i < load->n_conns; i++)
    {
      conn_close (&load->conns[i]);
      fcb_reply_clear (&load->conns[i].reply);
      g_free (load->conns[i].out);
      g_free (load->conns[i].sent);
      g_free (load->conns[i].latency_ns);
    }
  g_free (load->conns);
  for (guint t = 0; t < load->n_workers; t++)
    {
      Worker *worker = &load->workers[t];

      if (worker->epfd >= 0)
        close (worker->epfd);
      g_free (worker->recv_buffer);
      g_clear_pointer (&worker->rand, g_rand_free);
      g_free (worker->conns);
    }
  g_free (load->workers);
  g_mutex_clear (&load->lock);
  g_cond_clear (&load->settled_cond);
  g_free (load);
}
