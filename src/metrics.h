#pragma once

#include <gio/gio.h>

#include "cache.h"
#include "server.h"

G_BEGIN_DECLS

/* The metrics port (HTTP.md "Metrics"): `GET /metrics` answered with the
 * daemon's Stats in Prometheus's text exposition format, on a listener
 * of its own, in the main loop. Scrapes are rare and small, so a
 * connection costs a few KiB and no thread; each is bounded in time and
 * their number is capped. */

/* Connections served at once. One more closes the oldest: a scrape
 * takes milliseconds, so the oldest is a client that stalls, and so many
 * stalled clients cannot keep a scrape out (refusing the newcomer did,
 * for up to FC_METRICS_TIMEOUT_S). */
#define FC_METRICS_CONNECTIONS_MAX 16
/* Seconds from accept to the last byte of the response: a client slower
 * than that, reading or writing, is closed. */
#define FC_METRICS_TIMEOUT_S 10

typedef struct _FcMetrics FcMetrics;

FcMetrics *fc_metrics_new      (FcCache      *cache,
                                FcServer     *server);
gboolean   fc_metrics_listen   (FcMetrics    *metrics,
                                const char   *host,
                                guint16       port,
                                GError      **error);
guint16    fc_metrics_get_port (FcMetrics    *metrics);
void       fc_metrics_free     (FcMetrics    *metrics);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcMetrics, fc_metrics_free)

G_END_DECLS
