#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Accepts connections on listening sockets in the main context, and
 * backs off (and says so, once) while accept() fails for reasons of its
 * own instead of retrying at once for ever. */
typedef struct _FcAcceptor FcAcceptor;

/* Called in the main context with each new connection (transfer none:
 * take a reference to keep it). */
typedef void (*FcAcceptFunc) (GSocketConnection *connection,
                              gpointer           user_data);

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
