#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "http-parse.h"
#include "protocol.h"
#include "request.h"
#include "connection.h"

/* A write's bytes reach the peer's receive buffer within a round trip:
 * the send queue is first looked at this long after it, so that what the
 * buffer took without a reader is not taken for reading. */
#define SEND_SETTLE_USEC (G_USEC_PER_SEC / 2)
/* A reply of at least this many bytes, handed whole to the kernel, may
 * still be queued there (conn_reply_queued()); a smaller one leaves as
 * soon as it is written. */
#define QUEUED_REPLY_MIN (64 * 1024)

/* After QUIT or 414 the connection is drained this long, and of at most
 * this much, before close(), so unread request bytes do not turn our FIN
 * into a RST that would destroy the reply still in flight. */
#define LINGER_USEC (2 * G_USEC_PER_SEC)
#define LINGER_MAX_BYTES (256 * 1024)

/* HTTP.md "One port, two dialects": the first line decides, for the
 * connection's whole life. */
typedef enum {
  DIALECT_UNKNOWN,
  DIALECT_LINE,
  DIALECT_HTTP,
} Dialect;

typedef enum {
  STATE_READING,                /* waiting for (more of) a request line */
  STATE_WRITING,                /* a reply is partly sent: waiting for room */
  STATE_LINGERING,              /* half-closed after the last reply */
  STATE_PARKED,                 /* its first line waits for long work; readiness tells only
                                 * whether the peer is gone (fc_conn_peer_gone()) */
} State;

/* A connection between two steps costs this struct, its socket, and
 * while a line is half received the bytes received of it: no buffer,
 * no thread. */
struct _FcConn {
  FcWaited waited;              /* first, for fc_conn_from_waited(); its fd (owned) */
  FcServeContext *context;      /* (unowned) */
  char *in;                     /* (owned) (nullable): input received, not yet answered */
  gsize in_len;
  gint64 partial_since;         /* when the unfinished line in @in began */
  gint64 idle_since;            /* when the last reply ended */
  gsize lingered;               /* bytes drained while lingering */
  gint64 send_deadline;         /* the send timeout's end, counted from the last write or the
                                 * last bytes the peer was seen to take */
  int send_queued;              /* the socket's unacknowledged bytes (SIOCOUTQ) once the
                                 * last write had settled; -1 until then */
  gboolean reply_queued;        /* the last reply, written whole, is still in the socket's
                                 * queue: not idle yet (conn_reply_queued()) */
  FcReply reply;                /* the reply on its way, while writing */
  FcPark park;                  /* (owned): the first line's, while it waits */
  FcAccessEntry *log_entry;     /* (owned) (nullable): the access log's line of the reply on its way */
  char *peer;                   /* (owned) (nullable): the client's address, once logged */
  State state;
  Dialect dialect;
  gboolean readable;            /* the kernel may hold input not yet read */
  gboolean yielded;             /* its last turn ended with its budget spent */
  gboolean close_after_reply;
  gboolean draining;            /* the daemon stops: once the socket is empty, read no more */
};

/**
 * fc_conn_new:
 * @context: the serving context; must outlive the connection
 * @fd: (transfer full): an accepted connection's descriptor, non-blocking
 *   and TCP_NODELAY (fc_listener_accept()),
 *   counted in `context->clients` (fc_conn_free() closes it and uncounts it)
 *
 * Returns: (transfer full): the connection's state, ready for fc_conn_run()
 */
FcConn *
fc_conn_new (FcServeContext *context,
             int             fd)
{
  FcConn *conn = g_new0 (FcConn, 1);

  conn->context = context;
  conn->waited.fd = fd;
  conn->waited.deadline = G_MAXINT64;
  conn->idle_since = g_get_monotonic_time ();
  conn->state = STATE_READING;
  fc_reply_init (&conn->reply);
  return conn;
}

FcWaited *
fc_conn_waited (FcConn *conn)
{
  return &conn->waited;
}

FcConn *
fc_conn_from_waited (FcWaited *waited)
{
  return (FcConn *) waited;
}

/* The client's address, for the access log: asked once per connection,
 * and only when the log is on. */
static const char *
conn_peer (FcConn *conn)
{
  if (conn->peer == NULL)
    conn->peer = fc_access_log_peer (conn->waited.fd);
  return conn->peer;
}

/* The HTTP request just answered, into the access log once its reply
 * has ended: the request's bytes are in the thread's buffer only now. */
static void
conn_log_begin (FcConn        *conn,
                FcConnScratch *scratch)
{
  g_clear_pointer (&conn->log_entry, g_free);
  conn->log_entry = fc_access_entry_new (conn_peer (conn), fc_access_log_clock_now (&scratch->log_clock),
                                         &scratch->http_request, conn->reply.head,
                                         conn->reply.head_len);
}

/* The reply has ended, sent whole or cut: the bytes that left are
 * logged, not those meant to. */
static void
conn_log_finish (FcConn *conn)
{
  if (conn->log_entry != NULL)
    fc_access_log_finish (conn->context->access_log, g_steal_pointer (&conn->log_entry),
                          conn->reply.sent);
}

/**
 * fc_conn_free:
 * @conn: a connection no longer in any waiter
 *
 * Closes the socket (a reply still unsent is cut) and uncounts the client.
 */
void
fc_conn_free (FcConn *conn)
{
  FcServeContext *context = conn->context;

  conn_log_finish (conn);
  fc_reply_clear (&conn->reply);
  fc_park_clear (&conn->park);
  g_free (conn->peer);
  g_free (conn->in);
  close (conn->waited.fd);
  g_free (conn);
  atomic_fetch_sub (&context->clients, 1);
}

/* A reply ends, for the idle timeout, when its peer has taken it, not
 * when it was written: a send buffer holds up to 4 MiB (net.ipv4.tcp_wmem),
 * which a slow client reads for minutes. Counted from the write, the
 * idle timeout closed such a connection under its reply (whose bytes
 * still left, then a FIN that no `Connection: close` had announced; a
 * request sent meanwhile met a reset). So after a large reply the
 * connection is held to the send timeout as while writing
 * (fc_conn_send_goes_on()), looked at every SEND_SETTLE_USEC, and idle
 * from when its queue is empty. */
static gboolean
conn_reply_queued (FcConn *conn)
{
  return conn->reply_queued && conn->state == STATE_READING && conn->in_len == 0;
}

/* At the end of a reply of @bytes written whole; a small one may wait
 * behind a large one still queued. The queue is first looked at once
 * the write has settled, as a reply under way's is (conn_write()): no
 * system call here, on the way to the next request. */
static void
conn_reply_written (FcConn  *conn,
                    guint64  bytes)
{
  conn->reply_queued = bytes >= QUEUED_REPLY_MIN || conn->reply_queued;
  if (conn->reply_queued)
    {
      conn->send_queued = -1;
      conn->send_deadline = g_get_monotonic_time () + FC_SETTING_LOAD (conn->context, send_timeout);
    }
}

/* The deadline of a connection with nothing in progress. */
static gint64
conn_idle_deadline (FcConn *conn)
{
  if (conn_reply_queued (conn))
    return MIN (conn->send_deadline, g_get_monotonic_time () + SEND_SETTLE_USEC);
  return conn->idle_since + FC_SETTING_LOAD (conn->context, idle_timeout);
}

/**
 * fc_conn_timed_out:
 * @conn: a connection whose deadline passed
 *
 * Says why it is about to be closed, for whoever debugs.
 */
void
fc_conn_timed_out (FcConn *conn)
{
  static const char *const reasons[] = {
    [STATE_READING] = "request timeout",
    [STATE_WRITING] = "send timeout",
    [STATE_LINGERING] = "linger time over",
    [STATE_PARKED] = "parked",
  };
  const char *reason = reasons[conn->state];

  if (conn_reply_queued (conn))
    reason = "send timeout";
  else if (conn->state == STATE_READING && conn->in_len == 0)
    reason = "idle timeout";
  FC_REQUEST_DEBUG (conn->context, "closing a connection: %s", reason);
}

/**
 * fc_conn_send_goes_on:
 * @conn: a connection whose deadline passed, out of its waiter
 *
 * Whether a reply under way waits on: its peer took bytes since it was
 * last looked at, though the socket never said it was writable again.
 * The kernel says so only once much of a large send buffer (up to
 * net.ipv4.tcp_wmem's 4 MiB) has drained, which a client that reads
 * slowly but steadily takes longer than the send timeout to do. The
 * peer acknowledges bytes beyond its receive buffer only as its reader
 * takes them, so a shrinking queue of unacknowledged bytes (SIOCOUTQ)
 * is its reading: PROTOCOL.md closes only a client that "reads nothing"
 * for the send timeout. What the peer's buffer took just after the last
 * write, without its reader, is not counted: the queue is first looked
 * at a moment after that write (%SEND_SETTLE_USEC, or half the timeout),
 * and only what it loses after is. TCP tells a slow reader's progress as
 * its window reopens, in steps of up to a segment (64 KiB on loopback),
 * so a reader slower than about a segment per send timeout is still
 * closed. A reply written whole but maybe still queued
 * (conn_reply_queued()) is held alike, looked at more often, and ends
 * when its queue is empty. In the thread that owns @conn.
 *
 * Returns: %TRUE when @conn is to wait again, with its new deadline
 */
gboolean
fc_conn_send_goes_on (FcConn *conn)
{
  gboolean reply_queued = conn_reply_queued (conn);
  gint64 now = g_get_monotonic_time ();
  int queued;

  if ((conn->state != STATE_WRITING && !reply_queued) ||
      ioctl (conn->waited.fd, SIOCOUTQ, &queued) != 0)
    return FALSE;
  if (conn->send_queued < 0)
    conn->send_queued = queued;
  else if (queued < conn->send_queued)
    {
      conn->send_queued = queued;
      conn->send_deadline = now + FC_SETTING_LOAD (conn->context, send_timeout);
    }

  if (reply_queued && queued == 0)
    {
      conn->reply_queued = FALSE;
      conn->idle_since = now;
    }
  else if (now >= conn->send_deadline)
    return FALSE;
  conn->waited.deadline = reply_queued ? conn_idle_deadline (conn) : conn->send_deadline;
  return TRUE;
}

/* Keeps what was received and not answered, for the connection's next
 * turn: scratch space belongs to the thread. */
static void
conn_keep_input (FcConn     *conn,
                 const char *data,
                 gsize       len)
{
  if (len == 0)
    {
      g_clear_pointer (&conn->in, g_free);
      conn->in_len = 0;
      return;
    }
  conn->in = g_realloc (conn->in, len);
  memcpy (conn->in, data, len);
  conn->in_len = len;
}

static FcReplyResult
conn_write (FcConn        *conn,
            FcWaiter      *waiter,
            FcConnScratch *scratch)
{
  guint64 before = conn->reply.sent;
  guint64 body = 0;
  FcReplyResult result = fc_reply_write (&conn->reply, conn->waited.fd, &scratch->chunk, &body,
                                         FC_TURN_BYTES - MIN (scratch->turn_bytes, FC_TURN_BYTES));

  scratch->turn_bytes += conn->reply.sent - before;
  if (body > 0)
    atomic_fetch_add (&conn->context->bytes_sent, body);

  switch (result)
    {
    case FC_REPLY_DONE:
      conn_log_finish (conn);
      conn_reply_written (conn, conn->reply.sent);
      fc_reply_clear (&conn->reply);
      break;
    case FC_REPLY_YIELD:
      conn->yielded = TRUE;
      G_GNUC_FALLTHROUGH;
    case FC_REPLY_AGAIN:
      fc_reply_keep_head (&conn->reply);
      /* The send timeout counts from the last byte the peer took; the
       * socket is looked at again once that write has settled
       * (fc_conn_send_goes_on()). */
      if (conn->state != STATE_WRITING || conn->reply.sent != before)
        {
          gint64 now = g_get_monotonic_time ();
          gint64 timeout = FC_SETTING_LOAD (conn->context, send_timeout);

          conn->send_deadline = now + timeout;
          conn->send_queued = -1;
          fc_waiter_set_deadline (waiter, &conn->waited, now + MIN (timeout / 2, SEND_SETTLE_USEC));
        }
      conn->state = STATE_WRITING;
      break;
    case FC_REPLY_FAILED:
      conn_log_finish (conn);
      break;
    }
  return result;
}

/* Reads and drops what the peer still sends; FALSE once it is done. */
static gboolean
conn_linger_read (FcConn        *conn,
                  FcConnScratch *scratch)
{
  for (;;)
    {
      ssize_t n = recv (conn->waited.fd, scratch->in, FC_CONN_IN_SIZE, MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        return FALSE;
      conn->lingered += (gsize) n;
      if (conn->lingered >= LINGER_MAX_BYTES)
        return FALSE;
    }
}

/* Half-closes after the last reply, so it reaches the peer before
 * close() can reset the connection. */
static gboolean
conn_linger (FcConn        *conn,
             FcWaiter      *waiter,
             FcConnScratch *scratch)
{
  conn_keep_input (conn, NULL, 0);
  if (shutdown (conn->waited.fd, SHUT_WR) != 0)
    return FALSE;
  conn->state = STATE_LINGERING;
  fc_waiter_set_deadline (waiter, &conn->waited, g_get_monotonic_time () + LINGER_USEC);
  return conn_linger_read (conn, scratch);
}

/* A line-protocol request line at the start of @buf. */
static gboolean
conn_answer_line (FcConn        *conn,
                  FcConnScratch *scratch,
                  char          *buf,
                  gsize          len,
                  gsize         *used,
                  FcAnswer      *answer)
{
  g_autoptr(GError) error = NULL;
  gsize line_len = 0;

  switch (fc_request_scan (buf, len, &line_len))
    {
    case FC_SCAN_LINE:
      *answer = fc_request_answer (conn->context, buf, line_len, &conn->park,
                                   &conn->reply, &scratch->chunk);
      if (*answer == FC_ANSWER_WAIT)
        return FALSE;
      *used = line_len;
      return TRUE;

    case FC_SCAN_TOO_LONG:
      error = g_error_new_literal (FC_ERROR, FC_ERROR_LINE_TOO_LONG, "request line too long");
      atomic_fetch_add (&conn->context->requests, 1);
      *answer = fc_request_answer_error (conn->context, error, &conn->reply);
      *used = len;
      return TRUE;

    case FC_SCAN_NEED_MORE:
    default:
      return FALSE;
    }
}

/* During a stop, or once the peer has shut down its side: whether
 * another request was received after the one being answered, whole in
 * @rest or still in the socket, which is answered too. Only the last
 * response before the close says `Connection: close` (HTTP.md); saying
 * it earlier would leave requests already received unanswered. */
static gboolean
drain_more_received (FcConn     *conn,
                     const char *rest,
                     gsize       len)
{
  FcHttpRequest next;
  FcHttpRefusal refusal;
  gsize consumed = 0;
  char byte;

  /* A head cut by the end of the input buffer may go on in the socket. */
  if (len > 0 && fc_http_parse (rest, len, &next, &consumed, &refusal) != FC_HTTP_NEED_MORE)
    return TRUE;
  return recv (conn->waited.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* An HTTP request head at the start of @buf; empty lines before it are
 * used up even while the head is not whole. */
static gboolean
conn_answer_http (FcConn        *conn,
                  FcConnScratch *scratch,
                  char          *buf,
                  gsize          len,
                  gsize         *used,
                  FcAnswer      *answer)
{
  FcHttpRefusal refusal;
  gsize consumed = 0;

  switch (fc_http_parse (buf, len, &scratch->http_request, &consumed, &refusal))
    {
    case FC_HTTP_DONE:
      /* A stop answers what was received and then closes, and so does a
       * peer's half-close (nothing more can come): the last response
       * says so, so that a client (or a proxy) does not reuse the
       * connection for a request nobody will answer. Was: no
       * `Connection: close` after a half-close. */
      if ((conn->draining || conn->waited.peer_closed) &&
          !drain_more_received (conn, buf + consumed, len - consumed))
        scratch->http_request.keep_alive = FALSE;
      *answer = fc_request_answer_http (conn->context, &scratch->http_request, &conn->park,
                                        &conn->reply, &scratch->chunk, &scratch->http);
      if (*answer == FC_ANSWER_WAIT)
        return FALSE;
      if (G_UNLIKELY (FC_SETTING_LOAD (conn->context, access_log_on)))
        conn_log_begin (conn, scratch);
      *used = consumed;
      return TRUE;

    case FC_HTTP_REFUSED:
      *answer = fc_request_answer_http_refusal (conn->context, &refusal, &conn->reply,
                                                &scratch->http);
      if (G_UNLIKELY (FC_SETTING_LOAD (conn->context, access_log_on)))
        conn_log_begin (conn, scratch);
      /* Past a refusal that closes, nothing more is read as a request. */
      *used = *answer == FC_ANSWER_CLOSE ? len : consumed;
      return TRUE;

    case FC_HTTP_NEED_MORE:
    default:
      *used = consumed;
      return FALSE;
    }
}

/* The answer to the next whole request at the start of @buf, in the
 * connection's dialect, which its first line decides. Returns FALSE when
 * there is none yet (@answer is then %FC_ANSWER_WAIT when the request
 * waits for long work, unconsumed); @used says how many bytes of @buf
 * are done with. */
static gboolean
conn_answer_next (FcConn        *conn,
                  FcConnScratch *scratch,
                  char          *buf,
                  gsize          len,
                  gsize         *used,
                  FcAnswer      *answer)
{
  *answer = FC_ANSWER_REPLY;
  if (conn->dialect == DIALECT_UNKNOWN)
    {
      if (!FC_SETTING_LOAD (conn->context, http))
        conn->dialect = DIALECT_LINE;
      else
        switch (fc_http_sniff (buf, len))
          {
          case FC_SNIFF_HTTP:
            conn->dialect = DIALECT_HTTP;
            break;
          case FC_SNIFF_LINE:
            conn->dialect = DIALECT_LINE;
            break;
          case FC_SNIFF_NEED_MORE:
          default:
            return FALSE;
          }
    }

  if (conn->dialect == DIALECT_HTTP)
    return conn_answer_http (conn, scratch, buf, len, used, answer);
  return conn_answer_line (conn, scratch, buf, len, used, answer);
}

/* Answers every whole line in @buf (@len bytes), in order, as long as
 * each reply leaves at once and the turn's budget lasts. Returns how many
 * bytes were consumed; sets @go_on to FALSE when the connection must
 * close, leaves the state WRITING or LINGERING when it must wait for the
 * peer, PARKED when a line waits for long work (that line unconsumed),
 * and sets yielded when the budget is spent. */
static gsize
conn_answer_lines (FcConn        *conn,
                   FcWaiter      *waiter,
                   FcConnScratch *scratch,
                   char          *buf,
                   gsize          len,
                   gboolean      *go_on)
{
  gsize start = 0;

  while (start < len)
    {
      gsize used = 0;
      FcAnswer answer;

      if (scratch->turn_requests >= FC_TURN_REQUESTS || scratch->turn_bytes >= FC_TURN_BYTES)
        {
          conn->yielded = TRUE;
          return start;
        }

      if (!conn_answer_next (conn, scratch, buf + start, len - start, &used, &answer))
        {
          start += used;
          if (answer == FC_ANSWER_WAIT)
            conn->state = STATE_PARKED;
          return start;
        }
      start += used;

      scratch->turn_requests++;
      conn->close_after_reply = answer == FC_ANSWER_CLOSE;
      switch (conn_write (conn, waiter, scratch))
        {
        case FC_REPLY_DONE:
          break;
        case FC_REPLY_AGAIN:
        case FC_REPLY_YIELD:
          return start;
        case FC_REPLY_FAILED:
          *go_on = FALSE;
          return start;
        }

      if (conn->close_after_reply)
        {
          *go_on = conn_linger (conn, waiter, scratch);
          return start;
        }
      conn->idle_since = g_get_monotonic_time ();
    }
  return start;
}

/* Reads and answers requests until the next step would wait. */
static gboolean
conn_read (FcConn        *conn,
           FcWaiter      *waiter,
           FcConnScratch *scratch)
{
  char *buf = scratch->in;
  gsize len = conn->in_len;
  gboolean fresh = len == 0;

  if (len > 0)
    memcpy (buf, conn->in, len);

  for (;;)
    {
      gboolean go_on = TRUE;
      gsize used = conn_answer_lines (conn, waiter, scratch, buf, len, &go_on);
      ssize_t n;

      if (!go_on)
        return FALSE;
      /* What is left began with the last read, not the first; said
       * before a turn ends with it kept too (a yield, a reply that waits
       * for room, a park), or its request timeout would run from a
       * request long answered. */
      if (len > used && (used > 0 || fresh))
        conn->partial_since = g_get_monotonic_time ();
      if (conn->state != STATE_READING || conn->yielded)
        {
          if (conn->state != STATE_LINGERING)
            conn_keep_input (conn, buf + used, len - used);
          /* Its deadline is that of its last wait: a client that
           * pipelines for longer than the idle timeout is not idle. */
          if (conn->state == STATE_READING)
            fc_waiter_set_deadline (waiter, &conn->waited, conn_idle_deadline (conn));
          return TRUE;
        }

      memmove (buf, buf + used, len - used);
      len -= used;

      if (!conn->readable)
        {
          /* All it had received is answered; a half-received line is
           * not, and the half-close tells the peer nothing more will be. */
          if (conn->draining)
            return conn_linger (conn, waiter, scratch);
          conn_keep_input (conn, buf, len);
          fc_waiter_set_deadline (waiter, &conn->waited,
                                  len > 0 ? conn->partial_since + FC_SETTING_LOAD (conn->context, request_timeout)
                                          : conn_idle_deadline (conn));
          return TRUE;
        }

      n = recv (conn->waited.fd, buf + len, FC_CONN_IN_SIZE - len, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          conn->readable = FALSE;
          continue;
        }
      if (n <= 0)
        return FALSE;
      /* A short read emptied the socket: the waiter tells of what comes
       * next (edge-triggered), so no recv() is spent to hear EAGAIN;
       * unless the peer has closed, when the next recv() says so. */
      if ((gsize) n < FC_CONN_IN_SIZE - len && !conn->waited.peer_closed)
        conn->readable = FALSE;
      fresh = len == 0;
      len += (gsize) n;
    }
}

/* A worker hands a large reply still under way to a bulk sender
 * (%FC_BULK_BODY_MIN): the rest of its turn is @step. A small reply
 * costs one comparison of its state. */
static FcConnStep
conn_step_writing (FcConn        *conn,
                   FcConnScratch *scratch,
                   FcConnStep     step)
{
  if (conn->state == STATE_WRITING && conn->reply.body_len > FC_BULK_BODY_MIN &&
      !scratch->bulk_sender)
    return FC_CONN_BULK;
  return step;
}

/**
 * fc_conn_run:
 * @conn: a connection in @waiter, which has just said it can go on (or
 *   just entered it), or one that yielded or whose flight landed
 * @waiter: the waiter of the calling thread
 * @scratch: the calling thread's scratch space
 *
 * Serves @conn for one turn: until its next step would wait, or its
 * budget (%FC_TURN_REQUESTS, %FC_TURN_BYTES) is spent: reads requests,
 * answers them in order, writes replies, each until the kernel says
 * EAGAIN. Then sets the connection's deadline (request, idle, send or
 * linger; none while parked: fc_conn_peer_gone() tells when a parked
 * one is over) in @waiter. Runs in the thread that owns @waiter; blocks
 * only on the disk, never on long work.
 *
 * On a worker, a reply larger than %FC_BULK_BODY_MIN still under way at
 * the end of a turn says %FC_CONN_BULK; on a bulk sender
 * (@scratch->bulk_sender), which is handed only such connections, the
 * end of that reply says %FC_CONN_HOME, before any request behind it is
 * read (a reply that closes the connection lingers there instead).
 *
 * Returns: what the caller does with @conn next
 */
FcConnStep
fc_conn_run (FcConn        *conn,
             FcWaiter      *waiter,
             FcConnScratch *scratch)
{
  conn->readable = TRUE;
  conn->yielded = FALSE;
  scratch->turn_requests = 0;
  scratch->turn_bytes = 0;

  switch (conn->state)
    {
    case STATE_LINGERING:
      return conn_linger_read (conn, scratch) ? FC_CONN_WAIT : FC_CONN_CLOSE;

    case STATE_PARKED:
      conn->state = STATE_READING;
      break;

    case STATE_WRITING:
      switch (conn_write (conn, waiter, scratch))
        {
        case FC_REPLY_AGAIN:
          return conn_step_writing (conn, scratch, FC_CONN_WAIT);
        case FC_REPLY_YIELD:
          return conn_step_writing (conn, scratch, FC_CONN_YIELD);
        case FC_REPLY_FAILED:
          return FC_CONN_CLOSE;
        case FC_REPLY_DONE:
          break;
        }
      if (conn->close_after_reply)
        return conn_linger (conn, waiter, scratch) ? FC_CONN_WAIT : FC_CONN_CLOSE;
      conn->state = STATE_READING;
      conn->idle_since = g_get_monotonic_time ();
      /* A request begun behind the reply has had no turn yet: its
       * request timeout runs from now (was: from its first bytes, so a
       * reply longer than the timeout closed it unanswered). */
      conn->partial_since = conn->idle_since;
      /* The next requests, pipelined or not, are its worker's to read
       * and answer, in order, at its priority. */
      if (scratch->bulk_sender)
        return FC_CONN_HOME;
      break;

    case STATE_READING:
      break;
    }

  if (!conn_read (conn, waiter, scratch))
    return FC_CONN_CLOSE;
  if (conn->state == STATE_PARKED)
    {
      /* Long work may outlast any timeout; the stop of its thread, or
       * its peer's leaving (fc_conn_peer_gone()), ends a parked
       * connection. */
      fc_waiter_set_deadline (waiter, &conn->waited, G_MAXINT64);
      return FC_CONN_PARK;
    }
  return conn_step_writing (conn, scratch, conn->yielded ? FC_CONN_YIELD : FC_CONN_WAIT);
}

/**
 * fc_conn_parked_on:
 * @conn: a connection whose last turn said %FC_CONN_PARK
 *
 * Returns: (transfer none): the flight it waits for; run it again once
 *   that lands
 */
FcFlight *
fc_conn_parked_on (FcConn *conn)
{
  return conn->park.flight;
}

/**
 * fc_conn_held:
 * @conn: a connection
 *
 * Returns: whether its thread runs it again of its own accord (it yielded,
 *   or is parked): readiness from the waiter is not to run it meanwhile
 *   (a parked one's only tells whether its peer is gone:
 *   fc_conn_peer_gone())
 */
gboolean
fc_conn_held (FcConn *conn)
{
  return conn->yielded || conn->state == STATE_PARKED;
}

/**
 * fc_conn_peer_gone:
 * @conn: a parked connection that the waiter has just said is ready
 *
 * Whether nobody will read the answer it waits for: the connection was
 * reset or failed. A FIN is not enough: TCP cannot tell a close from a
 * half-close without a write, and a client that sends its request and
 * shuts down its side (`nc -q`, a script reading to EOF) waits for the
 * answer, which the protocol owes it. At most one recv() of MSG_PEEK,
 * and only once the waiter has seen a FIN, a reset or an error; data
 * pipelined behind the parked line stays in the socket for its next
 * turn. In the thread that owns @conn.
 *
 * Returns: %TRUE when @conn is to be closed now
 */
gboolean
fc_conn_peer_gone (FcConn *conn)
{
  char byte;
  ssize_t n;

  if (!conn->waited.peer_closed)
    return FALSE;
  do
    n = recv (conn->waited.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n < 0 && errno != EAGAIN;
}

/**
 * fc_conn_drain:
 * @conn: a connection
 *
 * The daemon stops: from its next run on, @conn answers what it has
 * received (read, or still in the socket when it empties it next),
 * finishes the reply under way, then half-closes and lingers as after
 * QUIT instead of waiting for another request; an idle connection is
 * half-closed at once. A parked connection drains once its flight has
 * landed. In the thread that owns @conn.
 */
void
fc_conn_drain (FcConn *conn)
{
  conn->draining = TRUE;
}

/**
 * fc_conn_scratch_init:
 * @scratch: (out caller-allocates): a thread's scratch space
 *
 * One per worker thread: what a connection needs only while it runs.
 */
void
fc_conn_scratch_init (FcConnScratch *scratch)
{
  scratch->in = g_malloc (FC_CONN_IN_SIZE);
  /* Large reads amortize the identity check made after each. */
  fc_chunk_init (&scratch->chunk, 1024 * 1024);
  fc_http_scratch_init (&scratch->http);
}

void
fc_conn_scratch_clear (FcConnScratch *scratch)
{
  g_clear_pointer (&scratch->in, g_free);
  fc_chunk_clear (&scratch->chunk);
  fc_http_scratch_clear (&scratch->http);
}
