#pragma once

#include <glib.h>

#include "errors.h"
#include "flight.h"
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

G_END_DECLS
