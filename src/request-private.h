#pragma once

/* What the two dialects' halves of the request path share: request.c
 * (the line protocol and the path every file request takes: the cache,
 * confinement, freshness, single flight, digests, streaming) and
 * request-http.c (HTTP's answers once that path has found the version).
 * Not for the rest of the daemon: request.h is. */

#include "request.h"

G_BEGIN_DECLS

typedef enum {
  GET_DONE,                     /* answered, or @error set */
  GET_RETRY,                    /* the file changed under us: start again */
  GET_WAIT,                     /* long work is under way: wait for its flight */
} FcGetResult;

/* What a GET, STAT or GETFROM serves: the cached bytes of one version, or
 * the open file of one version, to stream. */
typedef struct {
  GBytes *bytes;                /* (owned) (nullable) */
  int fd;                       /* (owned): or -1 */
  FcFileId id;
} FcRequestSource;

FcGetResult fc_request_reply_body         (FcRequestSource  *source,
                                           guint64           start,
                                           guint64           len,
                                           FcReply          *reply,
                                           FcChunk          *chunk,
                                           GError          **error);
FcGetResult fc_request_source_digest      (FcServeContext   *context,
                                           FcRequestSource  *source,
                                           FcChunk          *chunk,
                                           guint8            digest[FC_DIGEST_LEN],
                                           FcFlight        **wait,
                                           GError          **error);
FcGetResult fc_request_answer_file        (FcServeContext   *context,
                                           const FcRequest  *request,
                                           FcPark           *park,
                                           FcReply          *reply,
                                           FcChunk          *chunk);
gboolean    fc_request_answer_file_parked (FcServeContext   *context,
                                           const FcRequest  *request,
                                           FcPark           *park,
                                           FcReply          *reply,
                                           FcChunk          *chunk);

void        fc_request_count_nameless_miss (FcServeContext *context);

/* request-http.c's, called by the shared path. */
FcGetResult fc_request_http_source        (FcServeContext   *context,
                                           FcHttpExchange   *http,
                                           FcRequestSource  *source,
                                           FcReply          *reply,
                                           FcChunk          *chunk,
                                           FcFlight        **wait,
                                           GError          **error);
void        fc_request_http_file_error    (FcServeContext       *context,
                                           const FcHttpExchange *http,
                                           const GError         *error,
                                           FcReply              *reply);

G_END_DECLS
