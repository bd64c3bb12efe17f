#pragma once

#include <glib.h>

#include "cache.h"
#include "http-parse.h"

G_BEGIN_DECLS

/* The length of the body fc_http_format_error() writes for a reason of
 * @reason_len bytes: the reason and an LF. */
#define FC_HTTP_ERROR_BODY_LEN(reason_len) ((reason_len) + 1)

/* HTTP.md's response rules for one version of a file, and the formatting
 * of response heads: no socket, no I/O, no allocation. */

/* `"` + 16 hex digits + `"` */
#define FC_HTTP_ETAG_LEN 18
/* The largest head fc_http_format_*() writes: a `Location` may repeat a
 * request path of up to FC_HTTP_LINE_MAX bytes, each byte percent-encoded
 * at worst. */
#define FC_HTTP_REPLY_MAX (3 * FC_HTTP_LINE_MAX + 1024)

/* What a GET or HEAD of a file gets, once its version is known. */
typedef struct {
  guint status;                 /* 200, 206, 304, 412 or 416 */
  guint64 start;                /* 206: the first byte sent */
  guint64 len;                  /* 200 and 206: the body's length */
} FcHttpVerdict;

/* How the response ends the exchange (RFC 9112 9.3). */
typedef enum {
  FC_HTTP_PERSIST,              /* nothing to say: HTTP/1.1 persists */
  FC_HTTP_KEEP_ALIVE,           /* HTTP/1.0 asked to persist: `Connection: keep-alive` */
  FC_HTTP_CLOSE,                /* `Connection: close`, then close */
} FcHttpConnection;

/* The fields of a response about a file: 200, 206, 304. */
typedef struct {
  const FcHttpVerdict *verdict;
  guint64 size;                 /* of the whole file */
  const char *content_type;     /* (unowned) */
  const char *etag;             /* (unowned): FC_HTTP_ETAG_LEN bytes */
  gint64 mtime;                 /* seconds since the epoch */
  const guint8 *digest;         /* (unowned) (nullable): the whole file's SHA-256 */
  const char *date;             /* (unowned): IMF-fixdate of now */
  FcHttpConnection connection;
} FcHttpFileHead;

void   fc_http_etag            (const FcFileId      *id,
                                char                 etag[FC_HTTP_ETAG_LEN + 1]);
void   fc_http_evaluate        (const FcHttpRequest *request,
                                const char          *etag,
                                gint64               mtime,
                                gboolean             date_strong,
                                guint64              size,
                                FcHttpVerdict       *verdict);
guint  fc_http_evaluate_listing (const FcHttpRequest *request);
gsize  fc_http_format_file     (char                *buf,
                                const FcHttpFileHead *head);
gsize  fc_http_format_listing  (char                *buf,
                                const char          *content_type,
                                gsize                len,
                                const char          *date,
                                FcHttpConnection     connection,
                                gboolean             vary_accept,
                                gboolean             not_modified);
gsize  fc_http_format_error    (char                *buf,
                                guint                status,
                                const char          *reason,
                                gsize                reason_len,
                                gboolean             head_only,
                                const char          *date,
                                FcHttpConnection     connection,
                                const char          *field,
                                gsize                field_len);
const char *fc_http_reason_phrase (guint             status);

G_END_DECLS
