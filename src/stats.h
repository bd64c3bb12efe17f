#pragma once

#include <glib.h>

#include "cache.h"
#include "server.h"

G_BEGIN_DECLS

/* The daemon's Stats (DBUS.md): one a{sv}, built in one place for the
 * D-Bus Stats method and the metrics port alike, so that the two can
 * never disagree. */

GVariant *fc_stats_collect (FcCache  *cache,
                            FcServer *server);

G_END_DECLS
