#pragma once

#include <glib.h>

#include "names.h"

G_BEGIN_DECLS

/* HTTP.md's bounds on one request head. */
#define FC_HTTP_LINE_MAX (8 * 1024)     /* the request line, without its CR LF (RFC 9112 3) */
/* The bytes a request line may take with its line ending. */
#define FC_HTTP_LINE_BUF (FC_HTTP_LINE_MAX + 2)
#define FC_HTTP_HEAD_MAX (16 * 1024)    /* request line and fields, final empty line included */
#define FC_HTTP_FIELDS_MAX 100
/* Fields that RFC 9110 lets repeat as a list (If-Match, If-None-Match,
 * Accept, Want-Repr-Digest): this many lines of each are kept; more are
 * ignored. */
#define FC_HTTP_LIST_MAX 8

typedef enum {
  FC_SNIFF_NEED_MORE,           /* the first line is not whole yet, and may still be HTTP */
  FC_SNIFF_HTTP,                /* the first line is an HTTP request line: the connection is HTTP */
  FC_SNIFF_LINE,                /* anything else: the line protocol, unchanged */
} FcSniff;

typedef enum {
  FC_HTTP_NEED_MORE,            /* no whole head yet, and within the bounds */
  FC_HTTP_DONE,                 /* a whole head, parsed and acceptable */
  FC_HTTP_REFUSED,              /* answer with the status given, then close if told */
} FcHttpParse;

typedef enum {
  FC_HTTP_GET,
  FC_HTTP_HEAD,
} FcHttpMethod;

/* Bytes of a field value inside the caller's buffer: not NUL-terminated,
 * leading and trailing whitespace (SP, HTAB) removed. */
typedef struct {
  const char *data;             /* (unowned) (nullable): NULL when absent */
  gsize len;
} FcHttpSlice;

typedef struct {
  FcHttpSlice lines[FC_HTTP_LIST_MAX];
  guint n;
} FcHttpList;

/* One request head, parsed. Allocates nothing: the slices point into the
 * buffer given to fc_http_parse(), which must outlive their use. */
typedef struct {
  FcHttpMethod method;
  guint minor;                  /* 0 for HTTP/1.0, 1 for any later 1.x */
  gboolean keep_alive;          /* the connection persists after the response (RFC 9112 9.3) */
  gboolean echo_keep_alive;     /* HTTP/1.0 with `Connection: keep-alive`: say it back */
  /* The decoded path without its leading `/` and without a trailing `/`:
   * a name under PROTOCOL.md's rules, or "" for `/`. */
  char name[FC_NAME_MAX + 1];
  gsize name_len;
  gboolean trailing_slash;      /* the path ended in `/` (after `.` segments were removed) */
  FcHttpSlice path;             /* the path as received, no query: for a `Location` */
  FcHttpSlice line;             /* the request line as received, without its CR LF: set
                                 * on a refusal too, as far as it came (for the access log) */
  FcHttpSlice referer;          /* the first of each, for the access log */
  FcHttpSlice user_agent;
  FcHttpSlice range;
  FcHttpSlice if_range;
  FcHttpSlice if_modified_since;
  FcHttpSlice if_unmodified_since;
  FcHttpList if_match;
  FcHttpList if_none_match;
  FcHttpList accept;
  gboolean want_sha256;         /* Want-Repr-Digest names sha-256 at a preference above 0 */
  gboolean range_repeated;      /* more than one Range line: the range is ignored */
} FcHttpRequest;

/* Why a head is refused: what the reply says. */
typedef struct {
  guint status;                 /* 400, 405, 413, 414, 431, 501, 505 */
  gboolean close;               /* close after the reply (HTTP.md says which) */
  gboolean head;                /* the method was HEAD: the reply has no body */
  gboolean echo_keep_alive;     /* kept, HTTP/1.0 with `Connection: keep-alive`: say it back */
  gboolean get;                 /* an HTTP/1.x GET refused: a miss, as every GET (DBUS.md) */
  guint minor;                  /* the version to answer in (0 or 1) */
  const char *reason;           /* (unowned): static English text for the body */
} FcHttpRefusal;

FcSniff     fc_http_sniff (const char     *buf,
                           gsize           len);
FcHttpParse fc_http_parse (const char     *buf,
                           gsize           len,
                           FcHttpRequest  *request,
                           gsize          *consumed,
                           FcHttpRefusal  *refusal);

G_END_DECLS
