#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Where the daemon listens: every address of a host, one port. */

gboolean fc_listen_host (GSocketListener  *listener,
                         const char       *host,
                         guint16          *port,
                         GError          **error);

G_END_DECLS
