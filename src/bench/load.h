#pragma once

#include <sys/socket.h>

#include <glib.h>

#include "hist.h"
#include "wire.h"
#include "zipf.h"

G_BEGIN_DECLS

typedef enum {
  FCB_MODE_KEEP_ALIVE,     /* requests back to back on long-lived connections */
  FCB_MODE_NEW_CONNECTION, /* one request per connection, then a reset */
  FCB_MODE_IDLE,           /* one request per connection, then silence */
  FCB_MODE_UNREAD,         /* one request per connection, its reply never read */
  FCB_MODE_SLOWLORIS,      /* half a request line per connection, then silence */
} FcbMode;

typedef struct {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  FcbMode mode;
  gboolean http;
  FcbCommand command;        /* what the requests ask, so how their replies look */
  char **requests;           /* (array length=n_requests): whole requests, one per name */
  gsize *request_lens;       /* (array length=n_requests) */
  guint n_requests;
  const FcbZipf *chooser;    /* picks an index into requests, for each request */
  guint pipeline;            /* requests in flight per connection (keep-alive only) */
  gint64 interval_ns;        /* keep-alive, pipeline 1: each connection's requests are due
                              * this far apart and timed from when due; 0: back to back */
  gsize recv_size;           /* bytes asked of each recv() */
  guint connections;         /* slowloris: those dropped for good when the server drops them */
  guint reconnecting;        /* slowloris: those that connect again at once when dropped */
  guint threads;
} FcbLoadConfig;

typedef struct {
  guint64 requests;     /* good replies that ended before the deadline */
  guint64 body_bytes;   /* in those replies */
  guint64 received_bytes; /* every byte received until the threads stopped (one
                           * batch of events past the deadline at most), in replies
                           * that ended or not: what a long reply got through */
  guint64 errors;       /* failed replies and connections */
  guint64 reconnects;
  guint64 retried;      /* keep-alive: requests sent again on a new connection, the
                         * server having closed in order before any byte of their
                         * reply; each then counts once, as a request or an error */
  guint64 dropped;      /* held or stalled connections that the server closed */
  guint64 open;         /* connections open at the end */
  guint64 unanswered;   /* paced: requests due before the deadline and owed at it */
  guint64 conn_p99_max_ns; /* paced: the largest of the connections' own p99s, so that
                            * a server that stalls some connections (one of its
                            * threads) shows, however fast it answers the others */
  FcbHist latency_ns;   /* of good replies, with one request in flight; paced, also of
                         * the unanswered ones, with their age at the deadline */
} FcbLoadTotals;

typedef struct _FcbLoad FcbLoad;

FcbLoad  *fcb_load_new          (const FcbLoadConfig  *config,
                                 GError              **error);
void      fcb_load_start        (FcbLoad              *load,
                                 gint64                deadline_ns);
gboolean  fcb_load_wait_settled (FcbLoad              *load,
                                 gint64                until_ns);
void      fcb_load_stop         (FcbLoad              *load);
void      fcb_load_join         (FcbLoad              *load,
                                 FcbLoadTotals        *totals);
void      fcb_load_free         (FcbLoad              *load);

gint64    fcb_now_ns            (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcbLoad, fcb_load_free)

G_END_DECLS
