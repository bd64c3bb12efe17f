#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "cache-private.h"

/* Starts the load of @name: an entry in the table, loading, with its
 * size and its bookkeeping @cost reserved; one ref for the table and one
 * for the loader. Under the lock, room made. */
Entry *
fc_cache_load_begin (FcCache        *cache,
                     const char     *name,
                     const FcFileId *id,
                     guint64         cost)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->name = g_strdup (name);
  entry->id = *id;
  entry->cost = cost;
  entry->link.data = entry;
  entry->flight = fc_flight_new ();
  entry->loading = TRUE;
  entry->in_table = TRUE;
  entry->refs = 2;
  g_hash_table_insert (cache->table, entry->name, entry);
  cache->reserved += id->size;
  cache->reserved_cost += cost;
  return entry;
}

/* Ends the load of @entry: its reservation is released, and its flight
 * is returned, to be landed once the lock is released. */
static FcFlight *
load_end (FcCache   *cache,
          Entry     *entry,
          GBytes    *bytes,
          Graveyard *graveyard)
{
  FcFlight *flight;

  g_assert (entry->loading);

  cache->reserved -= entry->id.size;
  cache->reserved_cost -= entry->cost;

  /* Capacity may have shrunk, or the name been invalidated, meanwhile:
   * the waiters still get the bytes, the table only if they fit. */
  if (entry->in_table &&
      (bytes == NULL || !fc_cache_make_room (cache, entry->id.size, entry->cost, graveyard)))
    fc_cache_entry_remove (cache, entry, graveyard);

  entry->loading = FALSE;
  if (bytes != NULL)
    {
      cache->loads++;
      entry->bytes = g_bytes_ref (bytes);
      entry->hits = entry->handed_off ? 0 : 1;
      entry->last_use = g_get_real_time ();
      if (entry->in_table)
        {
          g_queue_push_head_link (&cache->lru, &entry->link);
          cache->size += entry->id.size;
          cache->cost += entry->cost;
        }
    }

  flight = g_steal_pointer (&entry->flight);
  fc_cache_entry_unref (entry, graveyard);
  return flight;
}

/**
 * fc_cache_load_take:
 * @cache: a cache
 * @load: (transfer full): from fc_cache_lookup()
 * @bytes: (transfer full): the whole content, of exactly the size in the
 *   lookup's identity
 *
 * Makes @bytes the cached copy and hands it to the requests that waited.
 * The entry counts the loader's GET as its first hit.
 *
 * Returns: (transfer full): the same content, to send instead of @bytes:
 *   the copy whose memory the cache accounts for as pinned once it has
 *   left the cache while a transfer still holds it
 */
GBytes *
fc_cache_load_take (FcCache     *cache,
                    FcCacheLoad *load,
                    GBytes      *bytes)
{
  Graveyard graveyard = { NULL };
  g_autoptr(FcFlight) flight = NULL;
  GBytes *copy;

  g_return_val_if_fail (g_bytes_get_size (bytes) == load->id.size, bytes);

  copy = fc_cache_tracked_copy (cache->tracker, bytes);
  g_mutex_lock (&cache->lock);
  flight = load_end (cache, load, copy, &graveyard);
  fc_cache_unlock (cache, &graveyard);
  fc_flight_land (flight, NULL);
  return copy;
}

/**
 * fc_cache_load_abort:
 * @cache: a cache
 * @load: (transfer full): from fc_cache_lookup()
 *
 * Ends a load that failed; the requests that joined its flight are told
 * it failed, and serve from disk themselves.
 */
void
fc_cache_load_abort (FcCache     *cache,
                     FcCacheLoad *load)
{
  Graveyard graveyard = { NULL };
  g_autoptr(FcFlight) flight = NULL;
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                                 _("The file could not be loaded into the cache"));

  g_mutex_lock (&cache->lock);
  flight = load_end (cache, load, NULL, &graveyard);
  fc_cache_unlock (cache, &graveyard);
  fc_flight_land (flight, error);
}

/**
 * fc_cache_load_hand_off:
 * @load: a load from fc_cache_lookup(), not yet handed to another thread
 *
 * For a load done elsewhere (a pool) while its requester waits like
 * any other: the requester looks again once it lands, counted already,
 * and its hit is counted then, not by fc_cache_load_take().
 *
 * Returns: (transfer full): the flight that lands when @load ends
 */
FcFlight *
fc_cache_load_hand_off (FcCacheLoad *load)
{
  load->handed_off = TRUE;
  return fc_flight_ref (load->flight);
}

/**
 * fc_cache_load_flight:
 * @load: a load in progress
 *
 * Returns: (transfer none): the flight that lands when @load ends
 */
FcFlight *
fc_cache_load_flight (FcCacheLoad *load)
{
  return load->flight;
}
