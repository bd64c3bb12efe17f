#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `filecache stats` output: the daemon's Stats (DBUS.md, an a{sv}) as an
 * aligned table, as JSON, or in Prometheus's text exposition format. Every
 * key the daemon returns is shown, known ones first in DBUS.md's order. */

char *fcc_stats_format_text       (GVariant *stats,
                                   GVariant *properties);
char *fcc_stats_format_json       (GVariant *stats);
char *fcc_stats_format_prometheus (GVariant *stats);

G_END_DECLS
