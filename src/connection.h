#pragma once

#include <gio/gio.h>

#include "reply.h"
#include "serve-context.h"
#include "waiter.h"

G_BEGIN_DECLS

/* A thread's scratch space for serving connections. */
typedef struct {
  char *in;                     /* (owned): FC_CONN_IN_SIZE bytes of input */
  FcChunk chunk;                /* file bodies on their way out */
} FcConnScratch;

/* Input read per recv(): room for a longest request line and more, so a
 * pipelining client is served many lines per system call. */
#define FC_CONN_IN_SIZE (16 * 1024)

typedef struct _FcConn FcConn;

FcConn   *fc_conn_new       (FcServeContext     *context,
                             GSocketConnection  *connection);
FcWaited *fc_conn_waited    (FcConn             *conn);
FcConn   *fc_conn_from_waited (FcWaited         *waited);
gboolean  fc_conn_run       (FcConn             *conn,
                             FcWaiter           *waiter,
                             FcConnScratch      *scratch);
gboolean  fc_conn_drain     (FcConn             *conn,
                             FcWaiter           *waiter,
                             FcConnScratch      *scratch);
void      fc_conn_timed_out (FcConn             *conn);
void      fc_conn_free      (FcConn             *conn);

void      fc_conn_scratch_init  (FcConnScratch  *scratch);
void      fc_conn_scratch_clear (FcConnScratch  *scratch);

G_END_DECLS
