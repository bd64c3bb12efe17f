#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
#define FC_HTTP_DATE_LEN 29

/* What fc_http_date_format() can write: years 0000 to 9999. */
#define FC_HTTP_DATE_MIN G_GINT64_CONSTANT (-62167219200)  /* 0000-01-01T00:00:00Z */
#define FC_HTTP_DATE_MAX G_GINT64_CONSTANT (253402300799)  /* 9999-12-31T23:59:59Z */

/* One a thread, for the Date field: zero-initialize it (or any state:
 * the first call formats). Not shared between threads. */
typedef struct {
  gint64 second;                      /* the Unix second text shows */
  char text[FC_HTTP_DATE_LEN + 1];    /* IMF-fixdate, NUL-terminated; "" before the first call */
} FcHttpClock;

void        fc_http_date_format (gint64        unix_seconds,
                                 char          buf[FC_HTTP_DATE_LEN + 1]);
gboolean    fc_http_date_parse  (const char   *text,
                                 gsize         len,
                                 gint64       *unix_seconds);
const char *fc_http_clock_now   (FcHttpClock  *clock);

G_END_DECLS
