#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A listening socket, accepted on by every worker thread (each watches
 * it in its own waiter: src/workers.c), which backs off (and says so,
 * once for all of them) while accept() fails for reasons of its own
 * instead of retrying at once for ever. */
typedef struct _FcListener FcListener;

/* A persistent accept() error is tried again after this long, doubling
 * while it lasts up to FC_ACCEPT_BACKOFF_MAX_MS: the figures nginx uses
 * for EMFILE (500 ms) bracketed, so a descriptor freed is used within a
 * second and a broken socket costs a few wake-ups a second. */
#define FC_ACCEPT_BACKOFF_MIN_MS 100
#define FC_ACCEPT_BACKOFF_MAX_MS 1000

typedef enum {
  FC_ACCEPT_TAKEN,              /* a new connection */
  FC_ACCEPT_EMPTY,              /* none waiting */
  FC_ACCEPT_FAILED,             /* stop accepting on it for the back-off */
} FcAcceptResult;

FcListener    *fc_listener_new    (GSocket     *socket);
FcListener    *fc_listener_ref    (FcListener  *listener);
void           fc_listener_unref  (FcListener  *listener);
int            fc_listener_get_fd (FcListener  *listener);
FcAcceptResult fc_listener_accept (FcListener  *listener,
                                   guint       *backoff_ms,
                                   int         *fd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcListener, fc_listener_unref)

G_END_DECLS
