#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "beneath.h"
#include "errors.h"
#include "protocol.h"
#include "server.h"

/* Uncached files are sent in pieces this large, read into a buffer the
 * connection keeps. */
#define STREAM_CHUNK (128 * 1024)

/* A refused or finished connection is drained this long before close(),
 * so unread request bytes do not turn our FIN into a RST that would
 * destroy the reply still in flight to the peer. */
#define LINGER_USEC (2 * G_USEC_PER_SEC)
#define LINGER_MAX_BYTES (256 * 1024)
#define LINGER_REFUSED_MAX 64

/* Loads and changes racing each other get this many fresh starts before a
 * request is answered with ERR 500. */
#define GET_ATTEMPTS 3

/* GLib 2.74 formats a debug message before deciding to drop it: on the
 * hot path, ask once (at fc_server_new()) whether anyone listens. */
#define REQUEST_DEBUG(server, ...) \
  G_STMT_START { if (G_UNLIKELY ((server)->debug)) g_debug (__VA_ARGS__); } G_STMT_END

struct _FcServer {
  char *root;                     /* (owned): absolute, links resolved */
  int root_fd;
  char *host;                     /* (owned) */
  guint16 port;
  guint max_clients;
  gint64 request_timeout;         /* µs */
  gint64 idle_timeout;            /* µs */
  gint64 send_timeout;            /* µs */
  FcCache *cache;                 /* (unowned) */
  GSocketService *service;        /* (owned) (nullable) */
  int wake_fd;                    /* readable once stopping */
  gint64 started;                 /* monotonic µs */
  gboolean debug;                 /* per-request g_debug() output is wanted */

  GMutex lock;
  GCond drained;                  /* signalled as clients reaches 0 */
  guint clients;                  /* guarded by lock */
  GQueue draining;                /* (element-type Refused) (owned): main thread only */

  atomic_uint_fast64_t requests;
  atomic_uint_fast64_t errors;
  atomic_uint_fast64_t refused;
  atomic_uint_fast64_t bytes_sent;
  atomic_uint_fast64_t clients_total;
};

typedef struct {
  FcServer *server;
  int fd;
  gsize start;                    /* first unconsumed byte in in[] */
  gsize end;                      /* one past the last received byte */
  gint64 partial_since;           /* when the unfinished line began, or 0 */
  gint64 idle_since;              /* when the last reply ended */
  char *chunk;                    /* (owned) (nullable): STREAM_CHUNK bytes, once needed */
  char in[2 * FC_REQUEST_LINE_MAX];
} Conn;

typedef enum {
  WAIT_READY,
  WAIT_TIMEOUT,
  WAIT_STOPPING,
  WAIT_FAILED,
} WaitResult;

static WaitResult
conn_wait (Conn   *conn,
           short   events,
           gint64  deadline)
{
  struct pollfd fds[2] = {
    { .fd = conn->fd, .events = events },
    { .fd = conn->server->wake_fd, .events = POLLIN },
  };

  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      int n;

      if (left <= 0)
        return WAIT_TIMEOUT;

      n = poll (fds, G_N_ELEMENTS (fds), (int) MIN ((left + 999) / 1000, G_MAXINT));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return WAIT_FAILED;
      if (fds[1].revents != 0)
        return WAIT_STOPPING;
      if (fds[0].revents != 0)
        return WAIT_READY;
    }
}

/* Writes all of @iov, giving up when the peer has read nothing for the
 * send timeout. The first @header_len bytes are protocol, the rest body. */
static gboolean
conn_sendv (Conn         *conn,
            struct iovec *iov,
            int           iovcnt,
            gsize         header_len)
{
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t) iovcnt };

  while (msg.msg_iovlen > 0)
    {
      ssize_t n = sendmsg (conn->fd, &msg, MSG_NOSIGNAL);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN ||
              conn_wait (conn, POLLOUT, g_get_monotonic_time () + conn->server->send_timeout) != WAIT_READY)
            return FALSE;
          continue;
        }

      if ((gsize) n > header_len)
        {
          atomic_fetch_add (&conn->server->bytes_sent, (gsize) n - header_len);
          header_len = 0;
        }
      else
        header_len -= (gsize) n;

      while (msg.msg_iovlen > 0 && (gsize) n >= msg.msg_iov->iov_len)
        {
          n -= (ssize_t) msg.msg_iov->iov_len;
          msg.msg_iov++;
          msg.msg_iovlen--;
        }
      if (msg.msg_iovlen > 0)
        {
          msg.msg_iov->iov_base = (char *) msg.msg_iov->iov_base + n;
          msg.msg_iov->iov_len -= (gsize) n;
        }
    }

  return TRUE;
}

static gboolean
conn_send (Conn       *conn,
           const char *data,
           gsize       len)
{
  struct iovec iov = { (void *) data, len };

  return conn_sendv (conn, &iov, 1, len);
}

static gboolean
conn_send_error (Conn         *conn,
                 const GError *error)
{
  FcError code = error->domain == FC_ERROR ? (FcError) error->code : FC_ERROR_READ_FAILED;
  gsize len;
  const char *reply = fc_error_reply (code, &len);

  REQUEST_DEBUG (conn->server, "ERR %u: %s", fc_error_status (code), error->message);
  atomic_fetch_add (&conn->server->errors, 1);
  return conn_send (conn, reply, len);
}

/* Header and body leave in one sendmsg(), so a small reply is one
 * segment (GLIB-NOTES: two writes cost a third of the throughput). */
static gboolean
conn_send_bytes (Conn   *conn,
                 GBytes *bytes)
{
  char status[FC_STATUS_MAX];
  gsize size;
  const void *data = g_bytes_get_data (bytes, &size);
  struct iovec iov[2] = {
    { status, fc_format_status (status, size) },
    { (void *) data, size },
  };

  return conn_sendv (conn, iov, size > 0 ? 2 : 1, iov[0].iov_len);
}

typedef enum {
  GET_DONE,
  GET_RETRY,
  GET_CLOSE,
} GetResult;

/* A writer updates a file's mtime before it changes its data, so bytes
 * read while the identity stays the same belong to the version the
 * status line announced. */
static gboolean
file_unchanged (int             fd,
                const FcFileId *id)
{
  struct stat st;
  FcFileId now;

  if (fstat (fd, &st) != 0)
    return FALSE;
  fc_file_id_from_stat (&now, &st);
  return fc_file_id_equal (id, &now);
}

/* G_IO_ERROR_BUSY marks a change worth a fresh start, not an ERR 500. */
static void
set_changed_error (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                       _("The file changed while it was read"));
}

/* Streams a file that is not cached, a chunk at a time, checking its
 * identity after each read: once `OK <size>` is out, bytes of another
 * version must never follow (sendfile() could not tell). Before the
 * status line a change is worth a fresh start (GET_RETRY) and a failed
 * read an ERR 500; after it, only closing is honest. */
static GetResult
conn_send_file (Conn            *conn,
                int              fd,
                const FcFileId  *id,
                GError         **error)
{
  char status[FC_STATUS_MAX];
  gsize header_len = fc_format_status (status, id->size);
  guint64 offset = 0;

  if (conn->chunk == NULL)
    conn->chunk = g_malloc (STREAM_CHUNK);

  do
    {
      gsize want = (gsize) MIN (id->size - offset, STREAM_CHUNK);
      ssize_t n = want > 0 ? pread (fd, conn->chunk, want, (off_t) offset) : 0;
      struct iovec iov[2];
      int iovcnt = 0;

      if (n < 0 && errno == EINTR)
        continue;

      if (!file_unchanged (fd, id))
        {
          if (header_len == 0)
            return GET_CLOSE;
          set_changed_error (error);
          return GET_RETRY;
        }

      if (n < 0 || (gsize) n != want)
        {
          if (header_len == 0)
            return GET_CLOSE;
          g_set_error (error, FC_ERROR, FC_ERROR_READ_FAILED, _("Read failed: %s"),
                       n < 0 ? g_strerror (errno) : _("the file is shorter than its size"));
          return GET_DONE;
        }

      if (header_len > 0)
        iov[iovcnt++] = (struct iovec) { status, header_len };
      iov[iovcnt++] = (struct iovec) { conn->chunk, (gsize) n };
      if (!conn_sendv (conn, iov, iovcnt, header_len))
        return GET_CLOSE;
      header_len = 0;
      offset += (guint64) n;
    }
  while (offset < id->size);

  return GET_DONE;
}

/* Reads the whole of a file opened as @id. Fails with
 * %FC_ERROR_READ_FAILED, or set_changed_error() when the file changed
 * under the read. */
static GBytes *
read_file (int              fd,
           const FcFileId  *id,
           GError         **error)
{
  g_autofree char *data = g_malloc (id->size + 1);
  guint64 done = 0;

  /* One byte more than expected tells a grown file from a complete read. */
  while (done <= id->size)
    {
      ssize_t n = pread (fd, data + done, id->size + 1 - done, (off_t) done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, FC_ERROR, FC_ERROR_READ_FAILED,
                       _("Read failed: %s"), g_strerror (errno));
          return NULL;
        }
      if (n == 0)
        break;
      done += (guint64) n;
    }

  if (done != id->size || !file_unchanged (fd, id))
    {
      set_changed_error (error);
      return NULL;
    }

  return g_bytes_new_take (g_steal_pointer (&data), id->size);
}

static GetResult
serve_opened (Conn            *conn,
              const char      *name,
              int              fd,
              const FcFileId  *id,
              gboolean         counted,
              GError         **error)
{
  FcCache *cache = conn->server->cache;
  g_autoptr(GBytes) bytes = NULL;
  FcCacheLoad *load = NULL;

  switch (fc_cache_lookup (cache, name, id, counted, &bytes, &load))
    {
    case FC_LOOKUP_READY:
      break;

    case FC_LOOKUP_LOAD:
      bytes = read_file (fd, id, error);
      if (bytes == NULL)
        {
          fc_cache_load_abort (cache, load);
          return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;
        }
      fc_cache_load_finish (cache, load, bytes);
      break;

    case FC_LOOKUP_BYPASS:
      return conn_send_file (conn, fd, id, error);
    }

  return conn_send_bytes (conn, bytes) ? GET_DONE : GET_CLOSE;
}

/* @counted: an earlier attempt at this GET already counted it. */
static GetResult
handle_get_once (Conn        *conn,
                 const char  *name,
                 gboolean     counted,
                 GError     **error)
{
  FcServer *server = conn->server;
  struct stat st;
  FcFileId id;
  GetResult result;
  int fd = fc_open_beneath (server->root_fd, name, &st, error);

  if (fd < 0)
    {
      /* Whatever made the name unservable, its cached copy is stale. */
      fc_cache_miss (server->cache, name, counted);
      return GET_DONE;
    }

  fc_file_id_from_stat (&id, &st);
  result = serve_opened (conn, name, fd, &id, counted, error);
  g_close (fd, NULL);
  return result;
}

static gboolean
handle_get (Conn       *conn,
            const char *name)
{
  for (guint attempt = 1; ; attempt++)
    {
      g_autoptr(GError) error = NULL;
      GetResult result = handle_get_once (conn, name, attempt > 1, &error);

      if (result == GET_RETRY && attempt < GET_ATTEMPTS)
        {
          REQUEST_DEBUG (conn->server, "GET %s: %s; trying again", name, error->message);
          continue;
        }
      if (error != NULL)
        return conn_send_error (conn, error);
      return result == GET_DONE;
    }
}

static gboolean
handle_list (Conn *conn)
{
  g_autoptr(GArray) entries = fc_cache_list (conn->server->cache);
  g_autoptr(GString) reply = fc_format_list (entries);

  return conn_send (conn, reply->str, reply->len);
}

#define REPLY_PONG "OK PONG\n"
#define REPLY_BYE "OK BYE\n"

/* Answers one request line. Returns FALSE when the connection must end. */
static gboolean
handle_line (Conn     *conn,
             char     *line,
             gsize     line_len,
             gboolean *quit)
{
  g_autoptr(GError) error = NULL;
  FcRequest request;

  atomic_fetch_add (&conn->server->requests, 1);

  if (!fc_request_parse (line, line_len, &request, &error))
    {
      /* Every GET is a hit or a miss, even one the cache never saw. */
      if (request.command == FC_COMMAND_GET)
        fc_cache_miss (conn->server->cache, NULL, FALSE);
      return conn_send_error (conn, error);
    }

  switch (request.command)
    {
    case FC_COMMAND_GET:
      REQUEST_DEBUG (conn->server, "GET %s", request.name);
      return handle_get (conn, request.name);
    case FC_COMMAND_LIST:
      return handle_list (conn);
    case FC_COMMAND_PING:
      return conn_send (conn, REPLY_PONG, sizeof REPLY_PONG - 1);
    case FC_COMMAND_QUIT:
      *quit = TRUE;
      return conn_send (conn, REPLY_BYE, sizeof REPLY_BYE - 1);
    case FC_COMMAND_NONE:
      break;
    }

  g_assert_not_reached ();
}

/* Half-closes, then reads and drops what the peer still sends for a
 * bounded time, so the last reply reaches it before close(). */
static void
conn_linger (Conn *conn)
{
  gint64 deadline = g_get_monotonic_time () + LINGER_USEC;
  gsize drained = 0;

  if (shutdown (conn->fd, SHUT_WR) != 0)
    return;

  while (drained < LINGER_MAX_BYTES && conn_wait (conn, POLLIN, deadline) == WAIT_READY)
    {
      ssize_t n = recv (conn->fd, conn->in, sizeof conn->in, 0);

      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return;
      if (n > 0)
        drained += (gsize) n;
    }
}

/* Serves requests on one connection until it ends. */
static void
conn_run (Conn *conn)
{
  FcServer *server = conn->server;

  conn->idle_since = g_get_monotonic_time ();

  for (;;)
    {
      gboolean consumed = FALSE;
      gint64 deadline;
      ssize_t n;

      while (conn->start < conn->end)
        {
          gboolean quit = FALSE;
          gsize line_len;

          switch (fc_request_scan (conn->in + conn->start, conn->end - conn->start, &line_len))
            {
            case FC_SCAN_LINE:
              if (!handle_line (conn, conn->in + conn->start, line_len, &quit))
                return;
              if (quit)
                {
                  conn_linger (conn);
                  return;
                }
              conn->start += line_len;
              conn->idle_since = g_get_monotonic_time ();
              consumed = TRUE;
              continue;

            case FC_SCAN_TOO_LONG:
              {
                g_autoptr(GError) error = g_error_new_literal (FC_ERROR, FC_ERROR_LINE_TOO_LONG,
                                                               "request line too long");

                atomic_fetch_add (&server->requests, 1);
                if (conn_send_error (conn, error))
                  conn_linger (conn);
                return;
              }

            case FC_SCAN_NEED_MORE:
              break;
            }
          break;
        }

      if (conn->start == conn->end)
        {
          conn->start = conn->end = 0;
          conn->partial_since = 0;
        }
      else if (conn->start > 0)
        {
          memmove (conn->in, conn->in + conn->start, conn->end - conn->start);
          conn->end -= conn->start;
          conn->start = 0;
          /* What is left began with the last read, not the first. */
          if (consumed)
            conn->partial_since = g_get_monotonic_time ();
        }

      deadline = conn->end > 0 ? conn->partial_since + server->request_timeout
                               : conn->idle_since + server->idle_timeout;
      switch (conn_wait (conn, POLLIN, deadline))
        {
        case WAIT_READY:
          break;
        case WAIT_TIMEOUT:
          REQUEST_DEBUG (server, "closing a connection: %s", conn->end > 0 ? "request timeout" : "idle timeout");
          return;
        case WAIT_STOPPING:
        case WAIT_FAILED:
          return;
        }

      n = recv (conn->fd, conn->in + conn->end, sizeof conn->in - conn->end, 0);
      if (n == 0)
        return;
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EINTR)
            continue;
          return;
        }
      if (conn->end == 0)
        conn->partial_since = g_get_monotonic_time ();
      conn->end += (gsize) n;
    }
}

static void
server_release_client (FcServer *server)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&server->lock);

  if (--server->clients == 0)
    g_cond_broadcast (&server->drained);
}

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source_object,
        gpointer                user_data)
{
  FcServer *server = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autofree Conn *conn = g_new (Conn, 1);

  conn->server = server;
  conn->fd = g_socket_get_fd (socket);
  conn->start = conn->end = 0;
  conn->partial_since = 0;
  conn->chunk = NULL;

  /* Replies are written whole; Nagle would only hold the last segment
   * back for the peer's delayed ACK. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  conn_run (conn);
  g_free (conn->chunk);

  g_socket_close (socket, NULL);
  server_release_client (server);
  return TRUE;
}

typedef struct {
  FcServer *server;
  GSocketConnection *connection;  /* (owned) */
  guint watch;
  guint timeout;
  GList link;                     /* in FcServer.draining */
} Refused;

/* Removing the source being dispatched is allowed; its callback's return
 * value is then ignored. */
static void
refused_free (Refused *refused)
{
  g_source_remove (refused->watch);
  g_source_remove (refused->timeout);
  g_queue_unlink (&refused->server->draining, &refused->link);
  g_object_unref (refused->connection);
  g_free (refused);
}

static gboolean
on_refused_readable (int          fd,
                     GIOCondition condition,
                     gpointer     user_data)
{
  char sink[4096];
  ssize_t n = recv (fd, sink, sizeof sink, MSG_DONTWAIT);

  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
    return G_SOURCE_CONTINUE;

  refused_free (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_refused_timeout (gpointer user_data)
{
  refused_free (user_data);
  return G_SOURCE_REMOVE;
}

/* Runs in the main thread, so a refusal never needs a worker thread: the
 * reply fits any socket buffer, and draining happens in the main loop. */
static void
server_refuse (FcServer          *server,
               GSocketConnection *connection)
{
  int fd = g_socket_get_fd (g_socket_connection_get_socket (connection));
  gsize len;
  const char *reply = fc_error_reply (FC_ERROR_BUSY, &len);
  Refused *refused;

  atomic_fetch_add (&server->refused, 1);
  REQUEST_DEBUG (server, "refusing a connection: %u clients already", server->max_clients);

  if (send (fd, reply, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t) len ||
      shutdown (fd, SHUT_WR) != 0 || server->draining.length >= LINGER_REFUSED_MAX)
    return;

  refused = g_new0 (Refused, 1);
  refused->server = server;
  refused->connection = g_object_ref (connection);
  refused->link.data = refused;
  refused->watch = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_refused_readable, refused);
  refused->timeout = g_timeout_add (LINGER_USEC / 1000, on_refused_timeout, refused);
  g_queue_push_tail_link (&server->draining, &refused->link);
}

/* Connected before the threaded service's own handler, so a connection
 * beyond the limit is answered here and never queued for a thread. */
static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  FcServer *server = user_data;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&server->lock);

  if (server->clients >= server->max_clients)
    {
      g_clear_pointer (&locker, g_mutex_locker_free);
      server_refuse (server, connection);
      return TRUE;
    }

  server->clients++;
  atomic_fetch_add (&server->clients_total, 1);
  return FALSE;
}

/**
 * fc_server_new:
 * @config: what to serve and how
 * @cache: (transfer none): the cache; must outlive the server
 * @error: a #GIOError naming the root when it cannot be served
 *
 * Returns: (transfer full): a server, not yet listening
 */
FcServer *
fc_server_new (const FcServerConfig  *config,
               FcCache               *cache,
               GError               **error)
{
  g_autoptr(FcServer) server = g_new0 (FcServer, 1);
  g_autofree char *root = realpath (config->root, NULL);

  server->root_fd = -1;
  server->wake_fd = -1;
  g_mutex_init (&server->lock);
  g_cond_init (&server->drained);

  /* A root this user cannot search would start and then refuse every
   * GET: better said once, at start. */
  if (root != NULL && access (root, R_OK | X_OK) == 0)
    server->root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (server->root_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot serve “%s”: %s"), config->root, g_strerror (saved_errno));
      return NULL;
    }

  server->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->wake_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an event descriptor: %s"), g_strerror (saved_errno));
      return NULL;
    }

  server->root = g_steal_pointer (&root);
  server->host = g_strdup (config->host);
  server->port = config->port;
  server->max_clients = config->max_clients;
  server->request_timeout = (gint64) config->request_timeout * G_USEC_PER_SEC;
  server->idle_timeout = (gint64) config->idle_timeout * G_USEC_PER_SEC;
  server->send_timeout = (gint64) config->send_timeout * G_USEC_PER_SEC;
  server->cache = cache;
  server->debug = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  return g_steal_pointer (&server);
}

static GList *
resolve_host (const char  *host,
              GError     **error)
{
  GInetAddress *address;

  if (g_strcmp0 (host, "localhost") == 0)
    return g_list_append (g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)),
                          g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6));

  address = g_inet_address_new_from_string (host);
  if (address != NULL)
    return g_list_append (NULL, address);

  return g_resolver_lookup_by_name (g_resolver_get_default (), host, NULL, error);
}

/* The first address picks the port (when asked for 0), the others share
 * it. "localhost" succeeds if either loopback can be bound, since a host
 * without IPv6 is common, but not if the port is taken on either. */
static gboolean
server_listen (FcServer  *server,
               GError   **error)
{
  GSocketListener *listener = G_SOCKET_LISTENER (server->service);
  g_autolist(GInetAddress) addresses = resolve_host (server->host, error);
  gboolean tolerant = g_strcmp0 (server->host, "localhost") == 0;
  g_autoptr(GError) listen_error = NULL;
  guint bound = 0;

  if (addresses == NULL)
    return FALSE;

  for (GList *l = addresses; l != NULL; l = l->next)
    {
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (l->data, server->port);
      g_autoptr(GSocketAddress) effective = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *text = NULL;

      if (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                         G_SOCKET_PROTOCOL_TCP, NULL, &effective, &local_error))
        {
          server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
          bound++;
          continue;
        }

      text = g_inet_address_to_string (l->data);
      g_clear_error (&listen_error);
      g_set_error (&listen_error, local_error->domain, local_error->code,
                   _("Cannot listen on %s port %u: %s"), text, server->port,
                   local_error->message);
      /* A port taken on one loopback is a conflict to report, not a
       * missing address family to put up with. */
      if (!tolerant || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        break;
      g_debug ("%s", listen_error->message);
    }

  if (bound == 0 || (listen_error != NULL && (!tolerant || listen_error->code == G_IO_ERROR_ADDRESS_IN_USE)))
    {
      g_propagate_error (error, g_steal_pointer (&listen_error));
      return FALSE;
    }
  return TRUE;
}

/**
 * fc_server_start:
 * @server: a server
 * @error: why it cannot listen
 *
 * Binds the configured addresses and starts accepting in the thread-default
 * main context; requests are served in worker threads.
 */
gboolean
fc_server_start (FcServer  *server,
                 GError   **error)
{
  /* One thread per client, plus slack for threads that have released
   * their client but not yet returned to the pool: the pool must never be
   * the limit, or the service would stop accepting instead of answering
   * ERR 503.
   * Inactive until every address is bound: a service that is active
   * while listeners are added cancels and restarts its accept on each
   * addition, and GLib drops a connection accepted by the cancelled
   * round (seen as a reset right after connect under ASan's timing). */
  server->service = g_object_new (G_TYPE_THREADED_SOCKET_SERVICE,
                                  "max-threads", (int) MIN (server->max_clients + 16, G_MAXINT),
                                  "active", FALSE,
                                  NULL);
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (server->service), 1024);

  if (!server_listen (server, error))
    return FALSE;

  server->started = g_get_monotonic_time ();
  g_signal_connect (server->service, "incoming", G_CALLBACK (on_incoming), server);
  g_signal_connect (server->service, "run", G_CALLBACK (on_run), server);
  g_socket_service_start (server->service);
  return TRUE;
}

/**
 * fc_server_stop:
 * @server: a server
 *
 * Stops accepting, ends every connection at its next wait (replies in the
 * middle of a write are cut) and waits for the worker threads to let go.
 */
void
fc_server_stop (FcServer *server)
{
  static const guint64 one = 1;

  if (server->service == NULL)
    return;

  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  while (server->draining.head != NULL)
    refused_free (server->draining.head->data);
  if (write (server->wake_fd, &one, sizeof one) != sizeof one)
    g_warning ("Cannot wake the connection threads: %s", g_strerror (errno));

  g_mutex_lock (&server->lock);
  while (server->clients > 0)
    g_cond_wait (&server->drained, &server->lock);
  g_mutex_unlock (&server->lock);

  g_clear_object (&server->service);
}

void
fc_server_free (FcServer *server)
{
  fc_server_stop (server);
  if (server->root_fd >= 0)
    g_close (server->root_fd, NULL);
  if (server->wake_fd >= 0)
    g_close (server->wake_fd, NULL);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->drained);
  g_free (server->root);
  g_free (server->host);
  g_free (server);
}

guint16
fc_server_get_port (FcServer *server)
{
  return server->port;
}

const char *
fc_server_get_root (FcServer *server)
{
  return server->root;
}

/**
 * fc_server_get_stats:
 * @server: a server
 * @stats: (out): its connection and request counters
 */
void
fc_server_get_stats (FcServer      *server,
                     FcServerStats *stats)
{
  g_mutex_lock (&server->lock);
  stats->clients = server->clients;
  g_mutex_unlock (&server->lock);
  stats->requests = atomic_load (&server->requests);
  stats->errors = atomic_load (&server->errors);
  stats->refused = atomic_load (&server->refused);
  stats->bytes_sent = atomic_load (&server->bytes_sent);
  stats->clients_total = atomic_load (&server->clients_total);
  stats->uptime = (guint64) ((g_get_monotonic_time () - server->started) / G_USEC_PER_SEC);
}
