#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A warning an admin must see, of one kind (a file that cannot be read,
 * a reply cut): at most @burst per @interval, the rest counted. A
 * static one needs no initialization beyond FC_RATE_LIMIT_INIT: a
 * zeroed GMutex is ready to use. */
typedef struct {
  GMutex lock;
  gint64 interval;              /* µs */
  guint burst;
  gint64 window_start;          /* monotonic µs; under lock */
  guint in_window;              /* messages let through; under lock */
  guint suppressed;             /* not let through since the last one; under lock */
} FcRateLimit;

#define FC_RATE_LIMIT_INIT(interval_usec, max_burst) \
  { .interval = (interval_usec), .burst = (max_burst) }

/* Every server-side failure an admin must see: five a minute per kind,
 * as systemd-journald's default burst, scaled to what one reader of a
 * log takes in. */
#define FC_RATE_LIMIT_FAILURES FC_RATE_LIMIT_INIT (60 * G_USEC_PER_SEC, 5)

gboolean fc_rate_limit_check (FcRateLimit *limit,
                              gint64       now,
                              guint       *suppressed);
void     fc_rate_limit_log   (FcRateLimit    *limit,
                              GLogLevelFlags  level,
                              const char     *format,
                              ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
