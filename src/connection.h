#pragma once

#include <gio/gio.h>

#include "reply.h"
#include "request.h"
#include "serve-context.h"
#include "waiter.h"

G_BEGIN_DECLS

/* A thread's scratch space for serving connections. */
typedef struct {
  char *in;                     /* (owned): FC_CONN_IN_SIZE bytes of input */
  FcChunk chunk;                /* file bodies on their way out */
  FcHttpScratch http;           /* HTTP response heads, the Date clock */
  FcHttpRequest http_request;   /* the HTTP request head being answered */
  FcAccessLogClock log_clock;   /* the access log's time field */
  guint turn_requests;          /* answered in the running connection's turn */
  guint64 turn_bytes;           /* sent in the running connection's turn */
  gboolean bulk_sender;         /* the thread is a bulk sender: it sends large
                                 * replies on, never reads a request */
} FcConnScratch;

/* A connection's turn on its thread ends after this many requests
 * answered or bytes sent, even with more to do, so that one client
 * cannot hold a worker (memcached's -R, 20 requests per event, for the
 * same reason). 1 MiB is 0.3 to 1 ms of sendmsg() on loopback: a PING
 * behind many such turns waits that long per busy connection. */
#define FC_TURN_REQUESTS 64
#define FC_TURN_BYTES (1024 * 1024)

/* A reply whose body is larger than this leaves its worker after its
 * first turn, for a bulk sender (a thread of its own, src/workers.c),
 * and its connection comes back once it is sent. A worker that sends
 * GB/s to fast readers is always busy, and a PING behind it waits for
 * its next turn on a processor (bench/pressure: p99 28-142 ms on 2
 * cores); an idle worker woken by a request, having slept, runs before
 * a sender that has been running. 4 MiB: the hand-off (two epoll_ctl(), an
 * eventfd write and a wake-up each way, tens of µs) is under 2 % of what
 * sending the rest costs (1.3-4 ms on loopback), and bodies of 1 MiB
 * (bench/compare's cached row) and every small request never touch a
 * sender. A body this size holds its worker for at most 4 turns. */
#define FC_BULK_BODY_MIN (4 * 1024 * 1024)

/* What a connection's thread does with it after a turn. */
typedef enum {
  FC_CONN_CLOSE,                /* it is over: take it out of the waiter, free it */
  FC_CONN_WAIT,                 /* the waiter tells when it can go on */
  FC_CONN_YIELD,                /* its budget is spent: run it again after the others */
  FC_CONN_PARK,                 /* it waits for long work: join fc_conn_parked_on() */
  FC_CONN_BULK,                 /* a worker's: its reply is large (%FC_BULK_BODY_MIN):
                                 * hand it to a bulk sender, which runs it next */
  FC_CONN_HOME,                 /* a bulk sender's: its large reply is sent: hand it
                                 * back to its worker, which runs it next */
} FcConnStep;

/* Input read per recv(): room for a longest request line and more, so a
 * pipelining client is served many lines per system call; and exactly
 * the largest HTTP request head, so a head that fits is never refused
 * for want of room, and one that does not is refused (431) before the
 * buffer could fill. */
#define FC_CONN_IN_SIZE (16 * 1024)
G_STATIC_ASSERT (FC_CONN_IN_SIZE == FC_HTTP_HEAD_MAX);

typedef struct _FcConn FcConn;

FcConn   *fc_conn_new       (FcServeContext     *context,
                             int                 fd);
FcWaited *fc_conn_waited    (FcConn             *conn);
FcConn   *fc_conn_from_waited (FcWaited         *waited);
FcConnStep fc_conn_run      (FcConn             *conn,
                             FcWaiter           *waiter,
                             FcConnScratch      *scratch);
void      fc_conn_drain     (FcConn             *conn);
FcFlight *fc_conn_parked_on (FcConn             *conn);
gboolean  fc_conn_held      (FcConn             *conn);
gboolean  fc_conn_peer_gone (FcConn             *conn);
void      fc_conn_timed_out (FcConn             *conn);
gboolean  fc_conn_send_goes_on (FcConn          *conn);
void      fc_conn_free      (FcConn             *conn);

void      fc_conn_scratch_init  (FcConnScratch  *scratch);
void      fc_conn_scratch_clear (FcConnScratch  *scratch);

G_END_DECLS
