#pragma once

#include <gio/gio.h>

#include "cache.h"

G_BEGIN_DECLS

typedef struct {
  const char *root;         /* directory to serve */
  const char *host;         /* "localhost", an address, or a host name */
  guint16 port;             /* 0: pick a free one */
  guint n_listen_fds;       /* listening TCP sockets from FC_SYSTEMD_LISTEN_FDS_START
                             * on, served instead of host and port */
  guint max_clients;
  guint threads;            /* worker threads; 0: one per processor */
  guint request_timeout;    /* seconds */
  guint idle_timeout;       /* seconds */
  guint send_timeout;       /* seconds */
  gboolean http;            /* the HTTP dialect is on */
  gboolean index;           /* HTTP lists directories */
} FcServerConfig;

typedef struct {
  guint64 requests;
  guint64 requests_http;
  guint64 errors;
  guint64 refused;
  guint64 bytes_sent;
  guint clients;
  guint64 clients_total;
  guint64 uptime;           /* seconds since fc_server_start() */
} FcServerStats;

typedef struct _FcServer FcServer;

typedef void (*FcServerDrained) (gpointer user_data);

FcServer   *fc_server_new          (const FcServerConfig  *config,
                                    FcCache               *cache,
                                    GError               **error);
gboolean    fc_server_start        (FcServer              *server,
                                    GError               **error);
void        fc_server_drain        (FcServer              *server,
                                    FcServerDrained        drained,
                                    gpointer               user_data);
void        fc_server_stop         (FcServer              *server);
void        fc_server_free         (FcServer              *server);
void        fc_server_reload_mime  (FcServer              *server);
void        fc_server_set_http     (FcServer              *server,
                                    gboolean               http,
                                    gboolean               index);
guint16     fc_server_get_port     (FcServer              *server);
const char *fc_server_get_root     (FcServer              *server);
const char *fc_server_get_activated_addresses (FcServer *server);
void        fc_server_check_root   (FcServer              *server,
                                    const char            *configured);
guint       fc_server_processors   (void);
guint       fc_server_get_threads  (FcServer              *server);
gboolean    fc_server_set_threads  (FcServer              *server,
                                    guint                  n_threads,
                                    GError               **error);
void        fc_server_get_stats    (FcServer              *server,
                                    FcServerStats         *stats);
void        fc_server_set_max_clients (FcServer           *server,
                                    guint                  max_clients);
void        fc_server_set_timeouts (FcServer              *server,
                                    guint                  request_timeout,
                                    guint                  idle_timeout,
                                    guint                  send_timeout);
void        fc_server_refresh_debug (FcServer             *server);
gboolean    fc_server_set_access_log (FcServer            *server,
                                    const char            *path,
                                    GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcServer, fc_server_free)

G_END_DECLS
