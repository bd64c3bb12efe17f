#pragma once

#include <glib.h>

#include "errors.h"
#include "reply.h"
#include "serve-context.h"

G_BEGIN_DECLS

typedef enum {
  FC_ANSWER_REPLY,              /* send the reply, then read the next request */
  FC_ANSWER_CLOSE,              /* send the reply, then close (QUIT, 414) */
} FcAnswer;

FcAnswer fc_request_answer       (FcServeContext *context,
                                  char           *line,
                                  gsize           line_len,
                                  FcReply        *reply,
                                  FcChunk        *chunk);
FcAnswer fc_request_answer_error (FcServeContext *context,
                                  const GError   *error,
                                  FcReply        *reply);

G_END_DECLS
