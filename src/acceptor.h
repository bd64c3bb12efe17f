#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Accepts connections on listening sockets in the main context, and
 * backs off (and says so, once) while accept() fails for reasons of its
 * own instead of retrying at once for ever. */
typedef struct _FcAcceptor FcAcceptor;

/* Called in the main context with each new connection's descriptor
 * (transfer full: the callee closes it), non-blocking and close-on-exec.
 * A plain descriptor, not a GSocketConnection: wrapping each costs six
 * system calls (GSocket probes type, family, peer, keep-alive and sets
 * O_NONBLOCK) and two objects, in a thread every connection passes
 * through, for a socket no one uses through GIO. */
typedef void (*FcAcceptFunc) (int      fd,
                              gpointer user_data);

/* A persistent accept() error is tried again after this long, doubling
 * while it lasts up to FC_ACCEPT_BACKOFF_MAX_MS: the figures nginx uses
 * for EMFILE (500 ms) bracketed, so a descriptor freed is used within a
 * second and a broken socket costs a few wake-ups a second. */
#define FC_ACCEPT_BACKOFF_MIN_MS 100
#define FC_ACCEPT_BACKOFF_MAX_MS 1000

FcAcceptor *fc_acceptor_new    (FcAcceptFunc  func,
                                gpointer      user_data);
void        fc_acceptor_add    (FcAcceptor   *acceptor,
                                GSocket      *socket);
void        fc_acceptor_free   (FcAcceptor   *acceptor);

G_END_DECLS
