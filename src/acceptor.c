#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <glib/gi18n.h>

#include "acceptor.h"
#include "ratelimit.h"

/* GLib's GSocketService (2.74, g_socket_service_ready()) queues the next
 * accept at once after any error and g_warning()s each: a listening
 * socket someone shut down (EINVAL for ever), or no descriptor left
 * (EMFILE), spins at full speed writing hundreds of thousands of lines.
 * Hence accepting of our own, and GSocketListener only to bind. */
struct _FcListener {
  gatomicrefcount refs;
  GSocket *socket;               /* (owned): kept open by its GSocketListener */
  int fd;
  char *address;                 /* (owned): for messages */
  atomic_int failing;            /* the errno the workers back off from; 0: none */
  gboolean nodelay_inherited;    /* TCP_NODELAY is set on the socket itself */
};

/**
 * fc_listener_new:
 * @socket: (transfer none): a listening, non-blocking socket; whoever
 *   bound it closes it, once no worker watches it any more
 *
 * Sets TCP_NODELAY on @socket (one bound by systemd too): replies are
 * written whole, and Nagle would only hold a reply's last segment back
 * for the peer's delayed ACK. Linux copies a listener's TCP options into
 * each connection it accepts (tcp_create_openreq_child() clones the
 * listening socket), which saves a setsockopt() per connection.
 *
 * Returns: (transfer full): the socket's accepting state, shared by the
 *   workers
 */
FcListener *
fc_listener_new (GSocket *socket)
{
  FcListener *listener = g_new0 (FcListener, 1);
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, NULL);
  int one = 1;

  g_atomic_ref_count_init (&listener->refs);
  listener->socket = g_object_ref (socket);
  listener->fd = g_socket_get_fd (socket);
  listener->address = address != NULL
                        ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address))
                        : g_strdup_printf ("socket %d", listener->fd);
  listener->nodelay_inherited = setsockopt (listener->fd, IPPROTO_TCP, TCP_NODELAY,
                                            &one, sizeof one) == 0;
  return listener;
}

FcListener *
fc_listener_ref (FcListener *listener)
{
  g_atomic_ref_count_inc (&listener->refs);
  return listener;
}

void
fc_listener_unref (FcListener *listener)
{
  if (!g_atomic_ref_count_dec (&listener->refs))
    return;
  g_object_unref (listener->socket);
  g_free (listener->address);
  g_free (listener);
}

int
fc_listener_get_fd (FcListener *listener)
{
  return listener->fd;
}

/* accept(2): Linux hands errors already pending on the new connection
 * to accept(), and a firewall may refuse one (EPERM): each is that
 * client's, and the next connection may well be fine. */
static gboolean
is_per_connection (int error)
{
  switch (error)
    {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return TRUE;
    default:
      return FALSE;
    }
}

/**
 * fc_listener_accept:
 * @listener: a listening socket
 * @backoff_ms: (inout): the calling worker's back-off on @listener: 0
 *   while accepting, else how long it stopped for last time
 * @fd: (out): on %FC_ACCEPT_TAKEN, the new connection's descriptor
 *   (transfer full), non-blocking, close-on-exec and TCP_NODELAY
 *
 * Takes the next connection. One that failed before it was accepted is
 * skipped; any other accept() error says %FC_ACCEPT_FAILED with
 * @backoff_ms set to how long the caller stops watching @listener:
 * FC_ACCEPT_BACKOFF_MIN_MS, doubling up to FC_ACCEPT_BACKOFF_MAX_MS
 * while it lasts. Each new kind of error is logged once for all the
 * workers (rate-limited as every server-side failure), and so is the
 * recovery. A plain descriptor, not a GSocketConnection: wrapping each
 * costs six system calls (GSocket probes type, family, peer, keep-alive
 * and sets O_NONBLOCK) and two objects, for a socket no one uses through
 * GIO. Any thread.
 *
 * Returns: what came of it
 */
FcAcceptResult
fc_listener_accept (FcListener *listener,
                    guint      *backoff_ms,
                    int        *fd)
{
  static FcRateLimit failures = FC_RATE_LIMIT_FAILURES;
  static FcRateLimit recoveries = FC_RATE_LIMIT_FAILURES;
  int error;

  for (;;)
    {
      *fd = accept4 (listener->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (*fd >= 0)
        {
          if (G_UNLIKELY (!listener->nodelay_inherited))
            {
              int one = 1;

              setsockopt (*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
          *backoff_ms = 0;
          if (G_UNLIKELY (atomic_load_explicit (&listener->failing, memory_order_relaxed) != 0) &&
              atomic_exchange (&listener->failing, 0) != 0)
            fc_rate_limit_log (&recoveries, G_LOG_LEVEL_MESSAGE, _("Accepting connections on %s again"),
                               listener->address);
          return FC_ACCEPT_TAKEN;
        }
      error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK)
        return FC_ACCEPT_EMPTY;
      if (!is_per_connection (error))
        break;
    }

  if (atomic_exchange (&listener->failing, error) != error)
    fc_rate_limit_log (&failures, G_LOG_LEVEL_WARNING,
                       _("Cannot accept connections on %s: %s; trying again every %u to %u ms while it lasts"),
                       listener->address, g_strerror (error),
                       FC_ACCEPT_BACKOFF_MIN_MS, FC_ACCEPT_BACKOFF_MAX_MS);
  *backoff_ms = *backoff_ms == 0 ? FC_ACCEPT_BACKOFF_MIN_MS
                                 : MIN (*backoff_ms * 2, FC_ACCEPT_BACKOFF_MAX_MS);
  return FC_ACCEPT_FAILED;
}
