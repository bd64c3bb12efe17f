#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <glib/gi18n.h>

#include "http-date.h"
#include "http-parse.h"
#include "http-reply.h"
#include "listen.h"
#include "metrics.h"
#include "stats.h"
#include "stats-format.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _FcMetrics {
  FcCache *cache;               /* (unowned) */
  FcServer *server;             /* (unowned) */
  GSocketService *service;      /* (owned) (nullable): once listening */
  guint16 port;
  GQueue connections;           /* (element-type MetricsConn) (owned) */
};

/* One scrape: its request head is read whole, then the whole response
 * is formed and written as the socket takes it; then the connection is
 * closed (every response says `Connection: close`). */
typedef struct {
  FcMetrics *metrics;           /* (unowned) */
  GSocketConnection *connection; /* (owned) */
  GSource *io;                  /* (owned): readable, then writable */
  GSource *timeout;             /* (owned) */
  char *in;                     /* (owned): FC_HTTP_HEAD_MAX bytes */
  gsize in_len;
  GBytes *out;                  /* (owned) (nullable): the response, once formed */
  gsize out_sent;
  GList link;                   /* in FcMetrics.connections */
} MetricsConn;

static void
metrics_conn_free (MetricsConn *conn)
{
  g_queue_unlink (&conn->metrics->connections, &conn->link);
  g_source_destroy (conn->io);
  g_source_unref (conn->io);
  g_source_destroy (conn->timeout);
  g_source_unref (conn->timeout);
  g_socket_close (g_socket_connection_get_socket (conn->connection), NULL);
  g_object_unref (conn->connection);
  g_clear_pointer (&conn->out, g_bytes_unref);
  g_free (conn->in);
  g_free (conn);
}

static GSocket *
metrics_conn_socket (MetricsConn *conn)
{
  return g_socket_connection_get_socket (conn->connection);
}

static gboolean on_metrics_io (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
metrics_conn_watch (MetricsConn  *conn,
                    GIOCondition  condition)
{
  if (conn->io != NULL)
    {
      g_source_destroy (conn->io);
      g_source_unref (conn->io);
    }
  conn->io = g_socket_create_source (metrics_conn_socket (conn), condition, NULL);
  g_source_set_callback (conn->io, G_SOURCE_FUNC (on_metrics_io), conn, NULL);
  g_source_attach (conn->io, NULL);
}

/* The response to a whole head: only `GET` and `HEAD` of `/metrics` get
 * the metrics; refusals are the main port's (HTTP.md "Requests"). */
static GBytes *
metrics_respond (FcMetrics           *metrics,
                 FcHttpParse          parse,
                 const FcHttpRequest *request,
                 const FcHttpRefusal *refusal)
{
  static const char allow[] = "Allow: GET, HEAD\r\n";
  static const char not_found[] = "Not Found: only /metrics is served here";
  char date[FC_HTTP_DATE_LEN + 1];
  g_autofree char *head = g_malloc (FC_HTTP_REPLY_MAX);
  g_autofree char *body = NULL;
  g_autoptr(GVariant) stats = NULL;
  GString *out;
  gsize len;

  fc_http_date_format (g_get_real_time () / G_USEC_PER_SEC, date);
  if (parse == FC_HTTP_REFUSED)
    {
      len = fc_http_format_error (head, refusal->status, refusal->reason, strlen (refusal->reason),
                                  refusal->head, date, FC_HTTP_CLOSE,
                                  refusal->status == 405 ? allow : NULL, sizeof allow - 1);
      return g_bytes_new (head, len);
    }
  if (request->trailing_slash || strcmp (request->name, "metrics") != 0)
    {
      len = fc_http_format_error (head, 404, not_found, sizeof not_found - 1,
                                  request->method == FC_HTTP_HEAD, date, FC_HTTP_CLOSE, NULL, 0);
      return g_bytes_new (head, len);
    }

  stats = g_variant_ref_sink (fc_stats_collect (metrics->cache, metrics->server));
  body = fc_stats_format_prometheus (stats);
  len = strlen (body);
  out = g_string_sized_new (len + 256);
  g_string_append_len (out, head, (gssize) fc_http_format_listing (head, CONTENT_TYPE, len, date,
                                                                    FC_HTTP_CLOSE, FALSE, FALSE));
  if (request->method == FC_HTTP_GET)
    g_string_append_len (out, body, (gssize) len);
  return g_string_free_to_bytes (out);
}

/* Returns: whether to wait for more */
static gboolean
metrics_conn_read (MetricsConn *conn)
{
  g_autoptr(GError) error = NULL;
  g_autofree FcHttpRequest *request = g_new (FcHttpRequest, 1);
  FcHttpRefusal refusal;
  FcHttpParse parse;
  gsize consumed;
  gssize n;

  n = g_socket_receive (metrics_conn_socket (conn), conn->in + conn->in_len,
                        FC_HTTP_HEAD_MAX - conn->in_len, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return TRUE;
  if (n <= 0)
    return FALSE;
  conn->in_len += (gsize) n;

  /* fc_http_parse() answers NEED_MORE only within its bounds, which the
   * buffer's size is: it cannot fill. */
  parse = fc_http_parse (conn->in, conn->in_len, request, &consumed, &refusal);
  if (parse == FC_HTTP_NEED_MORE)
    return TRUE;
  conn->out = metrics_respond (conn->metrics, parse, request, &refusal);
  metrics_conn_watch (conn, G_IO_OUT);
  return TRUE;
}

/* Returns: whether to wait for room */
static gboolean
metrics_conn_write (MetricsConn *conn)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (conn->out, &len);
  gssize n;

  while (conn->out_sent < len)
    {
      n = g_socket_send (metrics_conn_socket (conn), data + conn->out_sent, len - conn->out_sent,
                         NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return TRUE;
      if (n <= 0)
        return FALSE;
      conn->out_sent += (gsize) n;
    }
  /* Half-closed first, so that the response reaches the peer before
   * the close could reset the connection. */
  g_socket_shutdown (metrics_conn_socket (conn), FALSE, TRUE, NULL);
  return FALSE;
}

static gboolean
on_metrics_io (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  MetricsConn *conn = user_data;
  gboolean go_on = TRUE;

  if (conn->out == NULL)
    go_on = metrics_conn_read (conn);
  if (conn->out != NULL)
    go_on = metrics_conn_write (conn);
  if (!go_on)
    metrics_conn_free (conn);
  /* A new source replaces this one once the response is formed. */
  return G_SOURCE_CONTINUE;
}

static gboolean
on_metrics_timeout (gpointer user_data)
{
  MetricsConn *conn = user_data;

  g_debug ("metrics: closing a connection: timeout");
  metrics_conn_free (conn);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_metrics_incoming (GSocketService    *service,
                     GSocketConnection *connection,
                     GObject           *source_object,
                     gpointer           user_data)
{
  FcMetrics *metrics = user_data;
  MetricsConn *conn;

  if (metrics->connections.length >= FC_METRICS_CONNECTIONS_MAX)
    {
      g_debug ("metrics: closing the oldest of %u connections for a new one",
               metrics->connections.length);
      metrics_conn_free (g_queue_peek_head (&metrics->connections));
    }

  conn = g_new0 (MetricsConn, 1);
  conn->metrics = metrics;
  conn->connection = g_object_ref (connection);
  conn->in = g_malloc (FC_HTTP_HEAD_MAX);
  conn->link.data = conn;
  g_queue_push_tail_link (&metrics->connections, &conn->link);
  g_socket_set_blocking (metrics_conn_socket (conn), FALSE);
  metrics_conn_watch (conn, G_IO_IN);
  conn->timeout = g_timeout_source_new_seconds (FC_METRICS_TIMEOUT_S);
  g_source_set_callback (conn->timeout, on_metrics_timeout, conn, NULL);
  g_source_attach (conn->timeout, NULL);
  return TRUE;
}

/**
 * fc_metrics_new:
 * @cache: (transfer none): the cache; must outlive the result
 * @server: (transfer none): the server; must outlive the result
 *
 * Returns: (transfer full): the metrics port's state, not listening yet
 */
FcMetrics *
fc_metrics_new (FcCache  *cache,
                FcServer *server)
{
  FcMetrics *metrics = g_new0 (FcMetrics, 1);

  metrics->cache = cache;
  metrics->server = server;
  return metrics;
}

/**
 * fc_metrics_listen:
 * @metrics: metrics not listening yet
 * @host: as the main port's (fc_listen_host())
 * @port: the port; 0 picks a free one (fc_metrics_get_port())
 * @error: a #GIOError naming the port when it cannot be bound
 *
 * Listens and serves scrapes in the main context. Main thread.
 */
gboolean
fc_metrics_listen (FcMetrics   *metrics,
                   const char  *host,
                   guint16      port,
                   GError     **error)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();

  g_return_val_if_fail (metrics->service == NULL, FALSE);

  if (!fc_listen_host (G_SOCKET_LISTENER (service), host, &port, error))
    {
      g_prefix_error (error, _("Metrics port %u: "), port);
      return FALSE;
    }
  g_signal_connect (service, "incoming", G_CALLBACK (on_metrics_incoming), metrics);
  g_socket_service_start (service);
  metrics->service = g_steal_pointer (&service);
  metrics->port = port;
  return TRUE;
}

guint16
fc_metrics_get_port (FcMetrics *metrics)
{
  return metrics->port;
}

/**
 * fc_metrics_free:
 * @metrics: (transfer full): metrics
 *
 * Stops listening and closes every scrape under way. Main thread.
 */
void
fc_metrics_free (FcMetrics *metrics)
{
  if (metrics->service != NULL)
    {
      g_socket_service_stop (metrics->service);
      g_socket_listener_close (G_SOCKET_LISTENER (metrics->service));
      g_signal_handlers_disconnect_by_data (metrics->service, metrics);
      g_object_unref (metrics->service);
    }
  while (metrics->connections.head != NULL)
    metrics_conn_free (metrics->connections.head->data);
  g_free (metrics);
}
