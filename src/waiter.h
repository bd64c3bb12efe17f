#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A waiter herds connections that wait: it watches their descriptors in
 * one epoll set and their deadlines in one heap, and tells its owner when
 * each can go on or has waited too long. The shape is Varnish's waiter
 * (bin/varnishd/waiter/waiter.h); one waiter belongs to one thread. */

typedef struct _FcWaiter FcWaiter;

/* What a waiter keeps of a connection, embedded in the caller's own
 * struct. The caller sets fd and deadline; the rest is the waiter's. */
typedef struct {
  int fd;
  gint64 deadline;          /* monotonic µs; G_MAXINT64: none */
  gint64 key;               /* private: its position in the heap */
  guint index;              /* private: 1 + heap slot; 0 when not entered */
  gboolean peer_closed;     /* the kernel has said the peer shut down its side */
  gboolean shared;          /* watched by fc_waiter_enter_shared(): no deadline */
} FcWaited;

typedef enum {
  FC_WAIT_READY,            /* readable, writable, closed by the peer, or failed */
  FC_WAIT_TIMEOUT,          /* its deadline passed */
  FC_WAIT_CLOSING,          /* the waiter is being freed */
} FcWaitEvent;

/* Called in the waiter's thread. On FC_WAIT_TIMEOUT and FC_WAIT_CLOSING
 * the connection has left the waiter already; on FC_WAIT_READY it stays
 * until fc_waiter_leave(). */
typedef void (*FcWaiterFunc) (FcWaited    *waited,
                              FcWaitEvent  event,
                              gpointer     user_data);

FcWaiter *fc_waiter_new          (FcWaiterFunc   func,
                                  gpointer       user_data,
                                  GError       **error);
gboolean  fc_waiter_enter        (FcWaiter      *waiter,
                                  FcWaited      *waited,
                                  GError       **error);
gboolean  fc_waiter_enter_shared (FcWaiter      *waiter,
                                  FcWaited      *waited,
                                  GError       **error);
void      fc_waiter_leave_shared (FcWaiter      *waiter,
                                  FcWaited      *waited);
void      fc_waiter_set_deadline (FcWaiter      *waiter,
                                  FcWaited      *waited,
                                  gint64         deadline);
void      fc_waiter_leave        (FcWaiter      *waiter,
                                  FcWaited      *waited);
void      fc_waiter_dispatch     (FcWaiter      *waiter,
                                  int            max_ms);
guint     fc_waiter_count        (FcWaiter      *waiter);
void      fc_waiter_foreach      (FcWaiter      *waiter,
                                  GFunc          func,
                                  gpointer       user_data);
void      fc_waiter_free         (FcWaiter      *waiter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcWaiter, fc_waiter_free)

G_END_DECLS
