#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The two things systemd and a service say to each other, without
 * libsystemd: the listening sockets it passes (sd_listen_fds(3): two
 * environment variables and descriptors from 3 up) and the state the
 * service reports back (sd_notify(3): one datagram per report). */

#define FC_SYSTEMD_LISTEN_FDS_START 3

gboolean fc_systemd_take_listen_fds (guint       *n_fds,
                                     GError     **error);
gboolean fc_systemd_notify          (const char  *state,
                                     GError     **error);

G_END_DECLS
