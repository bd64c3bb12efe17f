#pragma once

#include <glib.h>

#include "cache.h"
#include "http-reply.h"

G_BEGIN_DECLS

/* The whole request line, LF included, may be at most this long. */
#define FC_REQUEST_LINE_MAX 4096

typedef enum {
  FC_COMMAND_NONE,    /* the line names no known command */
  FC_COMMAND_GET,
  FC_COMMAND_LIST,
  FC_COMMAND_PING,
  FC_COMMAND_QUIT,
  FC_COMMAND_STAT,    /* version 1.1 */
  FC_COMMAND_GETFROM, /* version 1.1 */
} FcCommand;

typedef struct {
  FcCommand command;
  const char *name;   /* (nullable): points into the parsed line, NUL-terminated */
  gsize name_len;
  guint64 offset;     /* GETFROM: G_MAXUINT64 for any number beyond it */
  guint8 digest[32];  /* GETFROM: the SHA-256 asked for */
  /* HEAD, and a conditional GET's first look at the version: a request,
   * neither a hit nor a miss (HTTP.md "Counting and control"), and no
   * load into the cache. */
  gboolean uncounted;
  struct _FcHttpExchange *http; /* (unowned) (nullable): a GET or HEAD in the HTTP dialect */
} FcRequest;

typedef enum {
  FC_SCAN_NEED_MORE,
  FC_SCAN_LINE,
  FC_SCAN_TOO_LONG,
} FcScan;

/* Longest decimal guint64 plus "OK " and LF. */
#define FC_STATUS_MAX (3 + 20 + 1)
/* The longest status line with no body: a reply to STAT. */
#define FC_STAT_MAX (FC_STATUS_MAX + 1 + 64)

FcScan   fc_request_scan        (const char  *buf,
                                 gsize        len,
                                 gsize       *line_len);
gboolean fc_request_parse       (char        *line,
                                 gsize        line_len,
                                 FcRequest   *request,
                                 GError     **error);
gsize    fc_format_status       (char        *buf,
                                 guint64      size);
gsize    fc_format_stat         (char        *buf,
                                 guint64      size,
                                 const guint8 digest[32]);
gsize    fc_format_uint         (char        *buf,
                                 guint64      value);
gsize    fc_format_list         (GArray      *entries,
                                 char        *buf);

G_END_DECLS
