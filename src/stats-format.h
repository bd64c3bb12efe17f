#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The daemon's Stats (DBUS.md, an a{sv}) as an aligned table, as JSON,
 * or in Prometheus's text exposition format: `filecache stats` prints
 * them, and the daemon's metrics port serves the last. Every key the
 * daemon returns is shown, known ones first in DBUS.md's order. */

char *fc_stats_format_text       (GVariant *stats,
                                  GVariant *properties);
char *fc_stats_format_json       (GVariant *stats);
char *fc_stats_format_prometheus (GVariant *stats);

G_END_DECLS
