#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "acceptor.h"
#include "ratelimit.h"

/* Connections taken per wake-up at most, so that a burst of them does
 * not keep the main context from its signals and its bus. */
#define ACCEPT_BATCH 32

/* GLib's GSocketService (2.74, g_socket_service_ready()) queues the next
 * accept at once after any error and g_warning()s each: a listening
 * socket someone shut down (EINVAL for ever), or no descriptor left
 * (EMFILE), spins the main thread at full speed writing hundreds of
 * thousands of lines. Hence this loop of our own, and GSocketListener
 * only to bind. */
struct _FcAcceptor {
  FcAcceptFunc func;
  gpointer user_data;
  GPtrArray *listening;          /* (element-type Listening) (owned) */
  GMainContext *context;         /* (owned): where it was made */
};

typedef struct {
  FcAcceptor *acceptor;
  GSocket *socket;               /* (owned) */
  char *address;                 /* (owned): for messages */
  GSource *watch;                /* (owned) (nullable): NULL while backing off */
  GSource *retry;                /* (owned) (nullable): the end of a back-off */
  guint backoff_ms;              /* 0 while accepting */
  int failing;                   /* the errno backed off from; 0: none */
} Listening;

static void listening_watch (Listening *listening);

static void
listening_free (gpointer data)
{
  Listening *listening = data;

  if (listening->watch != NULL)
    g_source_destroy (listening->watch);
  g_clear_pointer (&listening->watch, g_source_unref);
  if (listening->retry != NULL)
    g_source_destroy (listening->retry);
  g_clear_pointer (&listening->retry, g_source_unref);
  g_object_unref (listening->socket);
  g_free (listening->address);
  g_free (listening);
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

static gboolean
on_retry (gpointer user_data)
{
  Listening *listening = user_data;

  g_clear_pointer (&listening->retry, g_source_unref);
  listening_watch (listening);
  return G_SOURCE_REMOVE;
}

/* Stops watching the socket for a while, longer each time the same
 * trouble is met again; the admin hears of each new kind of trouble. */
static void
listening_back_off (Listening *listening,
                    int        error)
{
  static FcRateLimit failures = FC_RATE_LIMIT_FAILURES;

  if (error != listening->failing)
    fc_rate_limit_log (&failures, G_LOG_LEVEL_WARNING,
                       _("Cannot accept connections on %s: %s; trying again every %u to %u ms while it lasts"),
                       listening->address, g_strerror (error),
                       FC_ACCEPT_BACKOFF_MIN_MS, FC_ACCEPT_BACKOFF_MAX_MS);
  listening->failing = error;
  listening->backoff_ms = listening->backoff_ms == 0
                            ? FC_ACCEPT_BACKOFF_MIN_MS
                            : MIN (listening->backoff_ms * 2, FC_ACCEPT_BACKOFF_MAX_MS);

  g_source_destroy (listening->watch);
  g_clear_pointer (&listening->watch, g_source_unref);
  listening->retry = g_timeout_source_new (listening->backoff_ms);
  g_source_set_callback (listening->retry, on_retry, listening, NULL);
  g_source_attach (listening->retry, listening->acceptor->context);
}

/* The end of a trouble listening_back_off() reported. */
static void
listening_recovered (Listening *listening)
{
  static FcRateLimit recoveries = FC_RATE_LIMIT_FAILURES;

  fc_rate_limit_log (&recoveries, G_LOG_LEVEL_MESSAGE, _("Accepting connections on %s again"),
                     listening->address);
  listening->failing = 0;
  listening->backoff_ms = 0;
}

static gboolean
on_acceptable (int          fd,
               GIOCondition condition,
               gpointer     user_data)
{
  Listening *listening = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      int conn_fd = accept4 (fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

      if (conn_fd >= 0)
        {
          if (G_UNLIKELY (listening->failing != 0))
            listening_recovered (listening);
          listening->acceptor->func (conn_fd, listening->acceptor->user_data);
          continue;
        }
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (!is_per_connection (errno))
        {
          listening_back_off (listening, errno);
          return G_SOURCE_REMOVE;
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
listening_watch (Listening *listening)
{
  listening->watch = g_unix_fd_source_new (g_socket_get_fd (listening->socket), G_IO_IN);
  g_source_set_callback (listening->watch, G_SOURCE_FUNC (on_acceptable), listening, NULL);
  g_source_attach (listening->watch, listening->acceptor->context);
}

/**
 * fc_acceptor_new:
 * @func: called with each accepted connection
 * @user_data: for @func
 *
 * Makes an acceptor bound to the thread-default main context, where
 * @func runs. It accepts on each socket from fc_acceptor_add() on.
 *
 * Returns: (transfer full): an acceptor with no socket yet
 */
FcAcceptor *
fc_acceptor_new (FcAcceptFunc func,
                 gpointer     user_data)
{
  FcAcceptor *acceptor = g_new0 (FcAcceptor, 1);

  acceptor->func = func;
  acceptor->user_data = user_data;
  acceptor->listening = g_ptr_array_new_with_free_func (listening_free);
  acceptor->context = g_main_context_ref_thread_default ();
  return acceptor;
}

/**
 * fc_acceptor_add:
 * @acceptor: an acceptor
 * @socket: (transfer none): a listening, non-blocking socket; the caller
 *   keeps it open as long as @acceptor lives
 *
 * Accepts connections on @socket from now on. A connection that fails
 * before it is accepted is skipped; any other accept() error stops
 * accepting on @socket for FC_ACCEPT_BACKOFF_MIN_MS, doubling up to
 * FC_ACCEPT_BACKOFF_MAX_MS while it lasts, and is logged once per kind
 * (rate-limited as every server-side failure), as is the recovery.
 * Connections already accepted are not affected. Main context only.
 */
void
fc_acceptor_add (FcAcceptor *acceptor,
                 GSocket    *socket)
{
  Listening *listening = g_new0 (Listening, 1);
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, NULL);

  listening->acceptor = acceptor;
  listening->socket = g_object_ref (socket);
  listening->address = address != NULL
                         ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address))
                         : g_strdup_printf ("socket %d", g_socket_get_fd (socket));
  g_ptr_array_add (acceptor->listening, listening);
  listening_watch (listening);
}

/**
 * fc_acceptor_free:
 * @acceptor: an acceptor
 *
 * Stops accepting at once; closes no socket. Main context only.
 */
void
fc_acceptor_free (FcAcceptor *acceptor)
{
  g_ptr_array_unref (acceptor->listening);
  g_main_context_unref (acceptor->context);
  g_free (acceptor);
}
