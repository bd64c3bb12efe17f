#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "advisor.h"
#include "cache-private.h"

/* Returns: how many requests the history holds (DBUS.md's History). */
guint
fc_cache_get_history_length (FcCache *cache)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  return fc_history_get_length (cache->history);
}

struct _FcCacheHistory {
  GArray *records;              /* (owned) (element-type FcRequestRecord) */
  guint64 entry_limit;
};

/**
 * fc_cache_history_snapshot:
 * @cache: a cache
 *
 * Copies the recorded requests under the lock, so that a simulation can
 * run outside it, and outlive the cache. Any thread.
 *
 * Returns: (transfer full): the snapshot, for fc_cache_history_simulate()
 */
FcCacheHistory *
fc_cache_history_snapshot (FcCache *cache)
{
  FcCacheHistory *history = g_new (FcCacheHistory, 1);
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  history->records = fc_history_copy (cache->history);
  history->entry_limit = fc_cache_entry_limit (cache);
  return history;
}

void
fc_cache_history_free (FcCacheHistory *history)
{
  g_array_unref (history->records);
  g_free (history);
}

/**
 * fc_cache_history_simulate:
 * @history: a snapshot
 * @capacities: (array length=n_capacities): capacities in bytes
 * @n_capacities: how many
 * @ratios: (out caller-allocates) (array length=n_capacities): the hit
 *   ratio each capacity would have had over the recorded requests
 *
 * See fc_advisor_simulate(). Any thread; touches no cache.
 */
void
fc_cache_history_simulate (FcCacheHistory *history,
                           const guint64  *capacities,
                           guint           n_capacities,
                           double         *ratios)
{
  fc_advisor_simulate ((const FcRequestRecord *) (gpointer) history->records->data,
                       history->records->len, history->entry_limit,
                       capacities, n_capacities, ratios);
}

/**
 * fc_cache_simulate:
 * @cache: a cache
 * @capacities: (array length=n_capacities): capacities in bytes
 * @n_capacities: how many
 * @ratios: (out caller-allocates) (array length=n_capacities): the hit
 *   ratios, as fc_cache_history_simulate() gives them
 *
 * A snapshot and its simulation at once. Any thread.
 */
void
fc_cache_simulate (FcCache       *cache,
                   const guint64 *capacities,
                   guint          n_capacities,
                   double        *ratios)
{
  g_autoptr(FcCacheHistory) history = fc_cache_history_snapshot (cache);

  fc_cache_history_simulate (history, capacities, n_capacities, ratios);
}
