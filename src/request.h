#pragma once

#include <glib.h>

#include "errors.h"
#include "flight.h"
#include "http-date.h"
#include "http-parse.h"
#include "http-reply.h"
#include "reply.h"
#include "serve-context.h"

G_BEGIN_DECLS

typedef enum {
  FC_ANSWER_REPLY,              /* send the reply, then read the next request */
  FC_ANSWER_CLOSE,              /* send the reply, then close (QUIT, 414) */
  FC_ANSWER_WAIT,               /* no reply yet: answer the same line again once the flight lands */
} FcAnswer;

/* What a request line carries from one answer to the next while it
 * waits for long work (its own, or another request's: single flight).
 * All zero for a fresh line; fc_request_answer() zeroes it again once
 * the line is answered. */
typedef struct {
  FcFlight *flight;             /* (owned) (nullable): with FC_ANSWER_WAIT, what to wait for */
  guint waits;                  /* times the line waited: it is counted already */
  guint failures;               /* of those waits, how many ended in failed work */
} FcPark;

/* A worker thread's scratch for the HTTP dialect. */
typedef struct {
  char *head;                   /* (owned): FC_HTTP_REPLY_MAX bytes, response heads are formatted here */
  FcHttpClock clock;            /* `Date`, formatted once a second */
} FcHttpScratch;

/* One HTTP request on its way through the request path: what the
 * dialect adds to an #FcRequest. */
struct _FcHttpExchange {
  const FcHttpRequest *request; /* (unowned) */
  char *buf;                    /* (unowned): the thread's FcHttpScratch.head */
  const char *date;             /* (unowned): IMF-fixdate of now */
  gint64 now;                   /* the Unix second @date shows */
  FcHttpConnection connection;
  gboolean first_look;          /* answer only a 304 or 412, uncounted; leave the rest */
  gboolean decided;             /* the first look answered */
};
typedef struct _FcHttpExchange FcHttpExchange;

void     fc_park_clear           (FcPark         *park);

FcAnswer fc_request_answer       (FcServeContext *context,
                                  char           *line,
                                  gsize           line_len,
                                  FcPark         *park,
                                  FcReply        *reply,
                                  FcChunk        *chunk);
FcAnswer fc_request_answer_error (FcServeContext *context,
                                  const GError   *error,
                                  FcReply        *reply);

void     fc_http_scratch_init    (FcHttpScratch  *scratch);
void     fc_http_scratch_clear   (FcHttpScratch  *scratch);
FcAnswer fc_request_answer_http  (FcServeContext      *context,
                                  const FcHttpRequest *http_request,
                                  FcPark              *park,
                                  FcReply             *reply,
                                  FcChunk             *chunk,
                                  FcHttpScratch       *scratch);
FcAnswer fc_request_answer_http_refusal (FcServeContext      *context,
                                         const FcHttpRefusal *refusal,
                                         FcReply             *reply,
                                         FcHttpScratch       *scratch);

G_END_DECLS
