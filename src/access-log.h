#pragma once

#include <glib.h>

#include "http-parse.h"

G_BEGIN_DECLS

/* The access log (HTTP.md "Access log"): one line per HTTP request in
 * the Combined Log Format. Workers hand finished lines to a bounded
 * buffer and never touch the disk; one writer thread writes them.
 * Beyond the bound lines are dropped, counted, and the count reported
 * in a warning at most once a minute. */

/* The most bytes of lines waiting for the writer: some 20000 lines of
 * 200 bytes, seconds of a busy daemon's requests behind a slow disk. */
#define FC_ACCESS_LOG_BUFFER_MAX (4u * 1024 * 1024)

/* `06/Dec/2026:16:40:00 +0000`, and its NUL */
#define FC_ACCESS_LOG_TIME_LEN 26

typedef struct _FcAccessLog FcAccessLog;

/* One request's line from when it is answered to when its response has
 * ended: all but the bytes sent. */
typedef struct _FcAccessEntry FcAccessEntry;

/* A thread's clock for the time field, formatted once a second. */
typedef struct {
  gint64 second;
  char text[FC_ACCESS_LOG_TIME_LEN + 1];
} FcAccessLogClock;

FcAccessLog   *fc_access_log_new        (void);
gboolean       fc_access_log_open       (FcAccessLog          *log,
                                         const char           *path,
                                         GError              **error);
gboolean       fc_access_log_check      (const char           *path,
                                         GError              **error);
void           fc_access_log_close      (FcAccessLog          *log);
void           fc_access_log_free       (FcAccessLog          *log);
const char    *fc_access_log_clock_now  (FcAccessLogClock     *clock);
char          *fc_access_log_peer       (int                   fd);
FcAccessEntry *fc_access_entry_new      (const char           *host,
                                         const char           *time,
                                         const FcHttpRequest  *request,
                                         const char           *reply_head,
                                         gsize                 reply_head_len);
void           fc_access_log_finish     (FcAccessLog          *log,
                                         FcAccessEntry        *entry,
                                         guint64               sent);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcAccessLog, fc_access_log_free)

G_END_DECLS
