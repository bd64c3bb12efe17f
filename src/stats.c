#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "stats.h"

typedef struct {
  FcServer *server;
  FcServerStats stats;
} ServerSnapshot;

static void
read_server_stats (gpointer user_data)
{
  ServerSnapshot *snapshot = user_data;

  fc_server_get_stats (snapshot->server, &snapshot->stats);
}

/**
 * fc_stats_collect:
 * @cache: the daemon's cache
 * @server: its server
 *
 * Any thread. The server's counters are read under the cache lock too,
 * so the result is one snapshot.
 *
 * Returns: (transfer floating): the a{sv} of DBUS.md's Stats method
 */
GVariant *
fc_stats_collect (FcCache  *cache,
                  FcServer *server)
{
  ServerSnapshot snapshot = { server };
  FcCacheStats stats;
  GVariantDict dict;

  fc_cache_get_stats (cache, &stats, read_server_stats, &snapshot);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hits", "t", stats.hits);
  g_variant_dict_insert (&dict, "misses", "t", stats.misses);
  g_variant_dict_insert (&dict, "misses-cold", "t", stats.misses_cold);
  g_variant_dict_insert (&dict, "misses-evicted", "t", stats.misses_evicted);
  g_variant_dict_insert (&dict, "misses-changed", "t", stats.misses_changed);
  g_variant_dict_insert (&dict, "loads", "t", stats.loads);
  g_variant_dict_insert (&dict, "evictions", "t", stats.evictions);
  g_variant_dict_insert (&dict, "invalidations", "t", stats.invalidations);
  g_variant_dict_insert (&dict, "entries", "u", stats.entries);
  g_variant_dict_insert (&dict, "size", "t", stats.size);
  g_variant_dict_insert (&dict, "capacity", "t", stats.capacity);
  g_variant_dict_insert (&dict, "requests", "t", snapshot.stats.requests);
  g_variant_dict_insert (&dict, "requests-http", "t", snapshot.stats.requests_http);
  g_variant_dict_insert (&dict, "errors", "t", snapshot.stats.errors);
  g_variant_dict_insert (&dict, "refused", "t", snapshot.stats.refused);
  g_variant_dict_insert (&dict, "bytes-sent", "t", snapshot.stats.bytes_sent);
  g_variant_dict_insert (&dict, "clients", "u", snapshot.stats.clients);
  g_variant_dict_insert (&dict, "clients-total", "t", snapshot.stats.clients_total);
  g_variant_dict_insert (&dict, "uptime", "t", snapshot.stats.uptime);
  g_variant_dict_insert (&dict, "max-entry-size", "t", stats.max_entry_size);
  g_variant_dict_insert (&dict, "pinned", "t", stats.pinned);
  return g_variant_dict_end (&dict);
}
