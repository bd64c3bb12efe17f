#pragma once

#include <sys/socket.h>

#include <glib.h>

G_BEGIN_DECLS

gboolean fcb_probe_get (const struct sockaddr  *addr,
                        socklen_t               addr_len,
                        const char             *request,
                        gsize                   request_len,
                        gboolean                http,
                        gint64                  deadline_ns,
                        guint64                *body_size,
                        GError                **error);

G_END_DECLS
