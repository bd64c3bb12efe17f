#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "abandon.h"
#include "beneath.h"
#include "errors.h"
#include "http-date.h"
#include "http-parse.h"
#include "http-reply.h"
#include "listen.h"
#include "serve-context.h"
#include "server.h"
#include "systemd.h"
#include "workers.h"

/* A refused connection is drained this long before close(), so unread
 * request bytes do not turn our FIN into a RST that would destroy the
 * ERR 503 still in flight; at most this many are drained at once. */
#define LINGER_USEC (2 * G_USEC_PER_SEC)
#define LINGER_REFUSED_MAX 64

/* The front door: listens (the workers accept), and answers ERR 503 to
 * the connections they took beyond the limit. */
struct _FcServer {
  FcServeContext context;         /* shared with the workers */
  char *root;                     /* (owned): absolute, links resolved */
  char *host;                     /* (owned) */
  guint16 port;                   /* the first socket's */
  guint n_listen_fds;
  char *activated_addresses;      /* (owned) (nullable): the sockets from systemd, "ADDR:PORT, ..." */
  guint n_threads;
  GSocketListener *listener;      /* (owned) (nullable): binds, and owns the sockets */
  FcWorkers *workers;             /* (owned) (nullable) */
  /* Connections the workers took beyond the limit, on their way to this
   * thread, which refuses them (server_refuse()). */
  GMutex refusing_lock;
  GArray *refusing;               /* (element-type int) (owned): guarded by refusing_lock */
  GArray *refusing_taken;         /* (element-type int) (owned): main thread; swapped with refusing */
  int refusing_fd;                /* (owned): eventfd, written when refusing was empty */
  guint refusing_watch;
  gint64 started;                 /* monotonic µs */
  GQueue draining;                /* (element-type Refused) (owned): main thread only */
  FcAccessLogClock refusal_clock; /* the access log's time of refusals; main thread only */
  FcServerDrained drained;        /* (nullable): told once a stop has drained */
  gpointer drained_data;
  gboolean workers_drained;

  atomic_uint_fast64_t refused;
  /* (element-type RetiredMime) (owned): tables a reload replaced, kept
   * while a worker may still be reading one; main thread only. */
  GQueue retired_mime;
};

/* Debian's media-types file, or `$FILECACHED_MIME_TYPES` (a test's own). */
static const char *
mime_types_path (void)
{
  const char *path = g_getenv ("FILECACHED_MIME_TYPES");

  return path != NULL && *path != '\0' ? path : FC_MIME_TYPES_FILE;
}

/* A worker looks a type up and copies it into a head without blocking
 * in between: a replaced table is kept far longer than that. */
#define MIME_RETIRE_USEC (10 * G_USEC_PER_SEC)

typedef struct {
  FcMimeTable *table;             /* (owned) */
  gint64 since;                   /* monotonic µs */
} RetiredMime;

static void
retired_mime_free (gpointer data)
{
  RetiredMime *retired = data;

  fc_mime_table_unref (retired->table);
  g_free (retired);
}

typedef struct {
  FcServer *server;
  int fd;                         /* (owned) */
  guint watch;
  guint timeout;
  GList link;                     /* in FcServer.draining */
} Refused;

/* A stop has drained once every worker has ended and every refused
 * connection has been drained too. */
static void
server_check_drained (FcServer *server)
{
  FcServerDrained drained = server->drained;

  if (drained == NULL || !server->workers_drained || server->draining.head != NULL)
    return;
  server->drained = NULL;
  drained (server->drained_data);
}

/* Removing the source being dispatched is allowed; its callback's return
 * value is then ignored. */
static void
refused_free (Refused *refused)
{
  FcServer *server = refused->server;

  g_source_remove (refused->watch);
  g_source_remove (refused->timeout);
  g_queue_unlink (&server->draining, &refused->link);
  close (refused->fd);
  g_free (refused);
  server_check_drained (server);
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

/* HTTP.md: the refusal is HTTP's 503 only when an HTTP request line has
 * arrived already; what has not is never waited for. That request gets
 * its access log line (@log_entry) as any other, with what of its head
 * has come, and its text is body (@body_len). Main thread. */
static const char *
server_refusal (FcServer       *server,
                int             fd,
                char            http_reply[FC_HTTP_REPLY_MAX],
                gsize          *len,
                gsize          *body_len,
                FcAccessEntry **log_entry)
{
  static const char retry[] = "Retry-After: 1\r\n";
  const char *reason;
  gsize reason_len;
  char head[FC_HTTP_LINE_BUF];
  char date[FC_HTTP_DATE_LEN + 1];
  gboolean head_only;
  ssize_t n;

  if (!atomic_load (&server->context.http))
    return fc_error_reply (FC_ERROR_BUSY, len);
  do
    n = recv (fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n <= 0 || fc_http_sniff (head, (gsize) n) != FC_SNIFF_HTTP)
    return fc_error_reply (FC_ERROR_BUSY, len);

  /* The line protocol's reason, as every HTTP error's. */
  reason = fc_error_reason (FC_ERROR_BUSY, &reason_len);
  fc_http_date_format (g_get_real_time () / G_USEC_PER_SEC, date);
  head_only = n >= 5 && memcmp (head, "HEAD ", 5) == 0;
  *len = fc_http_format_error (http_reply, 503, reason, reason_len, head_only, date, FC_HTTP_CLOSE,
                               retry, sizeof retry - 1);
  *body_len = head_only ? 0 : FC_HTTP_ERROR_BODY_LEN (reason_len);
  if (FC_SETTING_LOAD (&server->context, access_log_on))
    {
      g_autofree char *peer = fc_access_log_peer (fd);
      FcHttpRequest request;
      FcHttpRefusal refusal;
      gsize consumed;

      /* Whatever the parse says, the line and the fields seen are set. */
      fc_http_parse (head, (gsize) n, &request, &consumed, &refusal);
      *log_entry = fc_access_entry_new (peer, fc_access_log_clock_now (&server->refusal_clock),
                                        &request, http_reply, *len);
    }
  return http_reply;
}

/* Runs in the main thread, so a refusal never needs a worker thread: the
 * reply fits any socket buffer, and draining happens in the main loop.
 * Takes @fd: closed now, or once drained. */
static void
server_refuse (FcServer *server,
               int       fd)
{
  char http_reply[FC_HTTP_REPLY_MAX];
  gsize len;
  gsize body_len = 0;
  FcAccessEntry *log_entry = NULL;
  const char *reply = server_refusal (server, fd, http_reply, &len, &body_len, &log_entry);
  ssize_t sent;
  Refused *refused;

  atomic_fetch_add (&server->refused, 1);
  FC_REQUEST_DEBUG (&server->context, "refusing a connection: %u clients already",
                    atomic_load (&server->context.max_clients));

  sent = send (fd, reply, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  /* DBUS.md: bytes-sent counts bodies, HTTP's error texts too. */
  if (sent == (ssize_t) len)
    atomic_fetch_add (&server->context.bytes_sent, body_len);
  if (log_entry != NULL)
    fc_access_log_finish (server->context.access_log, log_entry, sent > 0 ? (guint64) sent : 0);
  if (sent != (ssize_t) len ||
      shutdown (fd, SHUT_WR) != 0 || server->draining.length >= LINGER_REFUSED_MAX)
    {
      close (fd);
      return;
    }

  refused = g_new0 (Refused, 1);
  refused->server = server;
  refused->fd = fd;
  refused->link.data = refused;
  refused->watch = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_refused_readable, refused);
  refused->timeout = g_timeout_add (LINGER_USEC / 1000, on_refused_timeout, refused);
  g_queue_push_tail_link (&server->draining, &refused->link);
}

/* In a worker thread: @fd, beyond the limit, goes to the main thread,
 * which refuses it (a refusal needs no worker, and lingers in the main
 * loop). The eventfd is written only when the queue was empty. */
static void
on_refuse (int      fd,
           gpointer user_data)
{
  static const guint64 one = 1;
  FcServer *server = user_data;
  gboolean was_empty;

  g_mutex_lock (&server->refusing_lock);
  was_empty = server->refusing->len == 0;
  g_array_append_val (server->refusing, fd);
  g_mutex_unlock (&server->refusing_lock);
  if (was_empty && write (server->refusing_fd, &one, sizeof one) != sizeof one)
    g_warning (_("Cannot wake the main thread: %s"), g_strerror (errno));
}

/* Takes what on_refuse() queued; runs each through @func. */
static void
server_take_refusing (FcServer *server,
                      void    (*func) (FcServer *server, int fd))
{
  GArray *taken;
  guint64 count;

  if (read (server->refusing_fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_warning (_("Cannot read an event descriptor: %s"), g_strerror (errno));
  g_mutex_lock (&server->refusing_lock);
  taken = server->refusing;
  server->refusing = server->refusing_taken;
  g_mutex_unlock (&server->refusing_lock);
  server->refusing_taken = taken;
  for (guint i = 0; i < taken->len; i++)
    func (server, g_array_index (taken, int, i));
  g_array_set_size (taken, 0);
}

static gboolean
on_refusing (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  server_take_refusing (user_data, server_refuse);
  return G_SOURCE_CONTINUE;
}

static void
refusing_close (FcServer *server G_GNUC_UNUSED,
                int       fd)
{
  close (fd);
}

/* One worker per processor the daemon may run on: a second thread on a
 * core only takes turns with the first, and a connection whose worker
 * waits for its turn waits a whole time slice (measured: p99 3x to 5.7x
 * nginx's with two workers on one core, perf sched showing each worker
 * waiting 3 ms on average for the other). The affinity mask is read
 * here: GLib 2.74's g_get_num_processors() counts every online processor
 * under `taskset -c 0` too. */
/**
 * fc_server_processors:
 *
 * Returns: how many processors the daemon may run on: the default number
 *   of worker threads, and the number of bulk senders
 */
guint
fc_server_processors (void)
{
  cpu_set_t set;

  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    return (guint) CPU_COUNT (&set);
  return g_get_num_processors ();
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
  g_autoptr(GError) watch_error = NULL;
  g_autofree char *root = realpath (config->root, NULL);

  server->context.root_fd = -1;
  g_mutex_init (&server->refusing_lock);
  server->refusing = g_array_new (FALSE, FALSE, sizeof (int));
  server->refusing_taken = g_array_new (FALSE, FALSE, sizeof (int));
  server->refusing_fd = -1;

  /* A root this user cannot search would start and then refuse every
   * GET: better said once, at start. The type is checked first: of a
   * file, "not a directory" is the news, not its permissions. */
  if (root != NULL)
    server->context.root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (server->context.root_fd >= 0 && access (root, R_OK | X_OK) != 0)
    {
      int saved_errno = errno;

      g_close (server->context.root_fd, NULL);
      server->context.root_fd = -1;
      errno = saved_errno;
    }
  if (server->context.root_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot serve “%s”: %s"), config->root, g_strerror (saved_errno));
      return NULL;
    }

  server->root = g_steal_pointer (&root);
  server->host = g_strdup (config->host);
  server->port = config->port;
  server->n_listen_fds = config->n_listen_fds;
  server->context.max_clients = config->max_clients;
  server->n_threads = config->threads > 0 ? config->threads : fc_server_processors ();
  fc_server_set_timeouts (server, config->request_timeout, config->idle_timeout, config->send_timeout);
  server->context.cache = cache;
  /* Each ready digest costs about 120 bytes: 2 MiB in all. */
  server->context.digests = fc_digests_new (16384);
  server->context.watch = fc_watch_new (&watch_error);
  if (server->context.watch == NULL)
    g_warning (_("Every cached hit will cost a stat() of each component of its name: %s"),
               watch_error->message);
  server->context.mime = fc_mime_table_new (mime_types_path (), error);
  if (server->context.mime == NULL)
    return NULL;
  server->context.access_log = fc_access_log_new ();
  fc_server_set_http (server, config->http, config->index);
  fc_server_refresh_debug (server);
  return g_steal_pointer (&server);
}

static gboolean
server_listen (FcServer  *server,
               GError   **error)
{
  return fc_listen_host (server->listener, server->host, &server->port, error);
}

/* A socket that is only bound, or one connection (a unit with
 * Accept=yes), would be accepted on for ever, each accept() failing at
 * once: refused at start, where the admin sees why. */
static gboolean
socket_is_listening (GSocket         *socket,
                     int              fd,
                     GSocketAddress  *address,
                     GError         **error)
{
  g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  gint listening = 0;

  if (!g_socket_get_option (socket, SOL_SOCKET, SO_ACCEPTCONN, &listening, error))
    return FALSE;
  if (listening)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               _("Socket %d (%s) passed by systemd is not listening: use ListenStream= with Accept=no"),
               fd, text);
  return FALSE;
}

/* Sockets already bound and listening, by systemd: serving them needs no
 * privilege to bind and no address of our own. */
static gboolean
server_adopt_listen_fds (FcServer  *server,
                         GError   **error)
{
  GSocketListener *listener = server->listener;
  g_autoptr(GString) addresses = g_string_new (NULL);

  for (guint i = 0; i < server->n_listen_fds; i++)
    {
      int fd = FC_SYSTEMD_LISTEN_FDS_START + (int) i;
      g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, error);
      g_autoptr(GSocketAddress) address = NULL;

      if (socket == NULL)
        return FALSE;
      address = g_socket_get_local_address (socket, NULL);
      if (g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM ||
          !G_IS_INET_SOCKET_ADDRESS (address))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("Socket %d passed by systemd is not a TCP socket: use ListenStream= with an address and port"),
                       fd);
          return FALSE;
        }
      if (!socket_is_listening (socket, fd, address, error))
        return FALSE;
      if (i == 0)
        server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
      if (!g_socket_listener_add_socket (listener, socket, NULL, error))
        return FALSE;
      fc_workers_listen (server->workers, socket);
      {
        g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));

        g_string_append_printf (addresses, "%s%s", i > 0 ? ", " : "", text);
      }
    }
  g_free (server->activated_addresses);
  server->activated_addresses = g_string_free (g_steal_pointer (&addresses), FALSE);
  return TRUE;
}

/* Each socket the listener binds is accepted on once it listens. The
 * workers accept, not this thread: a connection handed from here to a
 * worker cost an eventfd, a wake-up and a context switch (14 µs of 42
 * per one-request connection, bench/compare http-newconn); the main
 * thread keeps the bus, signals and refusals. */
static void
on_listener_event (GSocketListener      *listener,
                   GSocketListenerEvent  event,
                   GSocket              *socket,
                   gpointer              user_data)
{
  FcServer *server = user_data;

  if (event == G_SOCKET_LISTENER_LISTENED)
    fc_workers_listen (server->workers, socket);
}

/**
 * fc_server_start:
 * @server: a server
 * @error: why it cannot listen, or why its worker threads cannot start
 *
 * Starts the worker threads (all of them now: a thread limit is a
 * start-up error, never a crash under load), binds the configured
 * addresses (or takes the sockets systemd passed) and starts accepting
 * in the thread-default main context.
 */
gboolean
fc_server_start (FcServer  *server,
                 GError   **error)
{
  /* Long work is mostly SHA-256, bound by a processor: one thread each,
   * and two at least so that one long hash does not hold up the next. */
  server->context.jobs = fc_jobs_new (MAX (2, fc_server_processors ()), error);
  if (server->context.jobs == NULL)
    return FALSE;
  /* Sending is bound by a processor too (copies to the socket): one
   * bulk sender each. */
  server->refusing_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->refusing_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an event descriptor: %s"), g_strerror (saved_errno));
      return FALSE;
    }
  server->refusing_watch = g_unix_fd_add (server->refusing_fd, G_IO_IN, on_refusing, server);
  server->workers = fc_workers_new (&server->context, server->n_threads, fc_server_processors (),
                                    on_refuse, server, error);
  if (server->workers == NULL)
    return FALSE;

  server->listener = g_socket_listener_new ();
  /* GLIB-NOTES: the default backlog of 10 turns bursts of new
   * connections into SYN retries. */
  g_socket_listener_set_backlog (server->listener, 4096);
  g_signal_connect (server->listener, "event", G_CALLBACK (on_listener_event), server);

  /* Accepting starts with each socket, in the workers. */
  server->started = g_get_monotonic_time ();
  return server->n_listen_fds > 0 ? server_adopt_listen_fds (server, error)
                                  : server_listen (server, error);
}

/* Closes the listening sockets: from now on a new connection is refused
 * by the kernel (or queued on systemd's socket, for the next start). */
static void
server_stop_accepting (FcServer *server)
{
  if (server->workers != NULL)
    fc_workers_stop_accepting (server->workers);
  if (server->listener == NULL)
    return;
  g_socket_listener_close (server->listener);
  g_clear_object (&server->listener);
}

static void
on_workers_drained (gpointer user_data)
{
  FcServer *server = user_data;

  server->workers_drained = TRUE;
  server_check_drained (server);
}

/**
 * fc_server_drain:
 * @server: a started server
 * @drained: called in the main thread once no connection is left
 * @user_data: for @drained
 *
 * Begins a graceful stop: stops accepting at once; every connection
 * answers the requests it has received, finishes the reply under way and
 * is closed, an idle one at once (fc_conn_drain()); refused connections
 * finish their linger. Bounding it in time is the caller's: call
 * fc_server_stop() at the deadline. Main thread.
 */
void
fc_server_drain (FcServer        *server,
                 FcServerDrained  drained,
                 gpointer         user_data)
{
  g_return_if_fail (server->workers != NULL);

  server_stop_accepting (server);
  server->drained = drained;
  server->drained_data = user_data;
  fc_workers_drain (server->workers, on_workers_drained, server);
}

/**
 * fc_server_stop:
 * @server: a server
 *
 * Stops accepting, closes every connection (replies in the middle of a
 * write are cut), joins the worker threads, and abandons long work (no
 * one is left for its result). Main thread.
 */
void
fc_server_stop (FcServer *server)
{
  server->drained = NULL;
  server_stop_accepting (server);
  while (server->draining.head != NULL)
    refused_free (server->draining.head->data);
  g_clear_pointer (&server->workers, fc_workers_free);
  /* Taken beyond the limit just before the stop: no worker is left to
   * queue more. */
  if (server->refusing_fd >= 0)
    {
      server_take_refusing (server, refusing_close);
      g_clear_handle_id (&server->refusing_watch, g_source_remove);
      close (server->refusing_fd);
      server->refusing_fd = -1;
    }
  if (server->context.jobs != NULL)
    fc_abandon_long_work ();
  g_clear_pointer (&server->context.jobs, fc_jobs_free);
}

void
fc_server_free (FcServer *server)
{
  fc_server_stop (server);
  if (server->context.root_fd >= 0)
    g_close (server->context.root_fd, NULL);
  g_clear_pointer (&server->context.digests, fc_digests_free);
  g_clear_pointer (&server->context.watch, fc_watch_unref);
  g_clear_pointer (&server->context.mime, fc_mime_table_unref);
  g_queue_clear_full (&server->retired_mime, retired_mime_free);
  /* After the workers, whose connections log as they close. */
  g_clear_pointer (&server->context.access_log, fc_access_log_free);
  g_array_unref (server->refusing);
  g_array_unref (server->refusing_taken);
  g_mutex_clear (&server->refusing_lock);
  g_free (server->root);
  g_free (server->host);
  g_free (server->activated_addresses);
  g_free (server);
}

guint16
fc_server_get_port (FcServer *server)
{
  return server->port;
}

/**
 * fc_server_check_root:
 * @server: a server
 * @configured: the root as the settings name it, which may lead through
 *   links
 *
 * The directory served is the one opened at start, whatever becomes of
 * its path since: tells the admin, on a reload, when @configured leads
 * elsewhere now (a link switched to another release, the directory
 * renamed and another made in its place) or nowhere, which a restart
 * would serve. Main thread.
 */
void
fc_server_check_root (FcServer   *server,
                      const char *configured)
{
  g_autofree char *now = realpath (configured, NULL);
  int errsv = errno;
  struct stat served, there;

  if (fstat (server->context.root_fd, &served) != 0)
    return;
  if (now == NULL)
    g_warning (_("“%s” leads nowhere now (%s): “%s”, opened at start, is served until the daemon restarts"),
               configured, g_strerror (errsv), server->root);
  else if (stat (now, &there) != 0 || there.st_dev != served.st_dev || there.st_ino != served.st_ino)
    {
      /* Where the one served is now: moved aside, or deleted. */
      g_autofree char *served_now = fc_fd_path (server->context.root_fd);

      g_warning (_("“%s” leads to “%s” now: the directory opened at start, now “%s”, is served until the daemon restarts"),
                 configured, now, served_now != NULL ? served_now : server->root);
    }
}

/**
 * fc_server_get_activated_addresses:
 * @server: a started server
 *
 * Returns: (nullable): the addresses of the sockets systemd passed, as
 *   "127.0.0.1:3030, [::1]:3030"; %NULL when it bound its own
 */
const char *
fc_server_get_activated_addresses (FcServer *server)
{
  return server->activated_addresses;
}

const char *
fc_server_get_root (FcServer *server)
{
  return server->root;
}

/**
 * fc_server_get_threads:
 * @server: a server
 *
 * Returns: how many worker threads serve its connections
 */
guint
fc_server_get_threads (FcServer *server)
{
  return server->workers != NULL ? fc_workers_get_threads (server->workers) : server->n_threads;
}

/**
 * fc_server_set_threads:
 * @server: a started server
 * @n_threads: how many worker threads should take new connections; 0 for
 *   one per processor it may run on
 * @error: a #GThreadError when a new thread cannot be made
 *
 * Starts or retires worker threads; a retired one serves its connections
 * to their end. Main thread.
 *
 * Returns: %FALSE when fewer threads than asked could be started: the
 *   daemon goes on with those it has
 */
gboolean
fc_server_set_threads (FcServer  *server,
                       guint      n_threads,
                       GError   **error)
{
  g_return_val_if_fail (server->workers != NULL, FALSE);

  return fc_workers_set_threads (server->workers, n_threads > 0 ? n_threads : fc_server_processors (),
                                 error);
}

/**
 * fc_server_get_stats:
 * @server: a server
 * @stats: (out): its connection and request counters
 *
 * Any thread; each counter is read atomically, not all at one instant.
 */
void
fc_server_get_stats (FcServer      *server,
                     FcServerStats *stats)
{
  stats->clients = atomic_load (&server->context.clients);
  stats->requests = atomic_load (&server->context.requests);
  stats->requests_http = atomic_load (&server->context.requests_http);
  stats->errors = atomic_load (&server->context.errors);
  stats->refused = atomic_load (&server->refused);
  stats->bytes_sent = atomic_load (&server->context.bytes_sent);
  stats->clients_total = atomic_load (&server->context.clients_total);
  stats->uptime = (guint64) ((g_get_monotonic_time () - server->started) / G_USEC_PER_SEC);
}

/**
 * fc_server_set_max_clients:
 * @server: a server
 * @max_clients: most connections open at once
 *
 * Any thread. Connections beyond a lowered limit stay open; new ones are
 * refused until the count falls.
 */
void
fc_server_set_max_clients (FcServer *server,
                           guint     max_clients)
{
  atomic_store (&server->context.max_clients, max_clients);
}

/**
 * fc_server_set_timeouts:
 * @server: a server
 * @request_timeout: seconds to finish a request line once begun
 * @idle_timeout: seconds an idle connection is kept
 * @send_timeout: seconds a client may read nothing
 *
 * Any thread. Each applies from the next wait that starts: a connection
 * already waiting keeps the deadline it was given.
 */
void
fc_server_set_timeouts (FcServer *server,
                        guint     request_timeout,
                        guint     idle_timeout,
                        guint     send_timeout)
{
  atomic_store (&server->context.request_timeout, (gint64) request_timeout * G_USEC_PER_SEC);
  atomic_store (&server->context.idle_timeout, (gint64) idle_timeout * G_USEC_PER_SEC);
  atomic_store (&server->context.send_timeout, (gint64) send_timeout * G_USEC_PER_SEC);
}

/**
 * fc_server_set_http:
 * @server: a server
 * @http: whether connections may speak HTTP (HTTP.md); otherwise every
 *   first line is the line protocol's
 * @index: whether HTTP lists directories (HTTP.md "Directories")
 *
 * @http applies to connections whose first line has not arrived yet,
 * @index to the next request. Any thread.
 */
void
fc_server_set_http (FcServer *server,
                    gboolean  http,
                    gboolean  index)
{
  atomic_store (&server->context.http, http);
  atomic_store (&server->context.index, index);
}

/**
 * fc_server_reload_mime:
 * @server: a server
 *
 * Reads /etc/mime.types (or `$FILECACHED_MIME_TYPES`) again (HTTP.md:
 * at start and on reload); the
 * table in force stays when the file cannot be read, with a warning
 * naming it. Main thread.
 */
void
fc_server_reload_mime (FcServer *server)
{
  g_autoptr(GError) error = NULL;
  FcMimeTable *table = fc_mime_table_new (mime_types_path (), &error);
  RetiredMime *retired;
  gint64 now = g_get_monotonic_time ();

  if (table == NULL)
    {
      g_warning (_("Content types stay as they were: %s"), error->message);
      return;
    }
  while (!g_queue_is_empty (&server->retired_mime) &&
         ((RetiredMime *) g_queue_peek_head (&server->retired_mime))->since + MIME_RETIRE_USEC < now)
    retired_mime_free (g_queue_pop_head (&server->retired_mime));

  retired = g_new (RetiredMime, 1);
  retired->table = g_atomic_pointer_exchange (&server->context.mime, table);
  retired->since = now;
  g_queue_push_tail (&server->retired_mime, retired);
}

/**
 * fc_server_refresh_debug:
 * @server: a server
 *
 * Asks GLib again whether debug messages are wanted, after
 * g_log_set_debug_enabled(): the workers only ask a flag, per request.
 */
void
fc_server_refresh_debug (FcServer *server)
{
  atomic_store (&server->context.debug,
                !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN));
}

/**
 * fc_server_set_access_log:
 * @server: a server
 * @path: (nullable): the access log's file; %NULL for none
 * @error: a #GFileError naming @path when it cannot be opened
 *
 * Opens @path (again: after logrotate renamed it, the same path gives a
 * new file) and logs every HTTP request to it from now on; or, with
 * %NULL, logs none. On error the file in use stays in use. Main thread.
 */
gboolean
fc_server_set_access_log (FcServer    *server,
                          const char  *path,
                          GError     **error)
{
  if (path == NULL)
    {
      atomic_store (&server->context.access_log_on, FALSE);
      fc_access_log_close (server->context.access_log);
      return TRUE;
    }
  if (!fc_access_log_open (server->context.access_log, path, error))
    return FALSE;
  atomic_store (&server->context.access_log_on, TRUE);
  return TRUE;
}
