#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "cache-private.h"
#include "settle.h"

void
fc_cache_entry_unref (Entry     *entry,
                      Graveyard *graveyard)
{
  if (--entry->refs > 0)
    return;
  entry->next_dead = graveyard->head;
  graveyard->head = entry;
}

static void
graveyard_bury (Graveyard *graveyard)
{
  while (graveyard->head != NULL)
    {
      Entry *entry = graveyard->head;

      graveyard->head = entry->next_dead;
      g_clear_pointer (&entry->bytes, g_bytes_unref);
      g_clear_pointer (&entry->mark, fc_watch_mark_free);
      g_free (entry->name);
      g_free (entry);
    }
}

/**
 * fc_eviction_clear:
 * @data: (type FcEviction): an eviction
 *
 * Frees what @data holds, for g_array_set_clear_func().
 */
void
fc_eviction_clear (gpointer data)
{
  FcEviction *eviction = data;

  g_free (eviction->name);
}

/* Releases the cache lock, then announces what left the cache and frees
 * what is no longer used. */
void
fc_cache_unlock (FcCache   *cache,
                 Graveyard *graveyard)
{
  g_autoptr(GArray) evictions = g_steal_pointer (&graveyard->evictions);

  if (evictions != NULL)
    g_mutex_lock (&cache->notify_lock);
  g_mutex_unlock (&cache->lock);
  if (evictions != NULL)
    {
      if (cache->evicted_func != NULL)
        cache->evicted_func (evictions, cache->evicted_data);
      g_mutex_unlock (&cache->notify_lock);
    }
  graveyard_bury (graveyard);
}

/* Drops @entry from the table (and the queue when ready). */
void
fc_cache_entry_remove (FcCache   *cache,
                       Entry     *entry,
                       Graveyard *graveyard)
{
  g_assert (entry->in_table);

  g_hash_table_remove (cache->table, entry->name);
  entry->in_table = FALSE;
  if (!entry->loading)
    {
      g_queue_unlink (&cache->lru, &entry->link);
      cache->size -= entry->id.size;
      cache->cost -= entry->cost;
    }
  fc_cache_entry_unref (entry, graveyard);
}

/* Drops @entry for @reason: counted as an eviction or an invalidation,
 * remembered for the miss it may cause, announced once unlocked. */
static void
entry_drop (FcCache       *cache,
            Entry         *entry,
            FcEvictReason  reason,
            Graveyard     *graveyard)
{
  gboolean changed = reason == FC_EVICT_CHANGED || reason == FC_EVICT_DELETED;

  if (changed)
    cache->invalidations++;
  else
    cache->evictions++;
  fc_history_depart (cache->history, entry->name, changed ? FC_MISS_CHANGED : FC_MISS_EVICTED);
  if (cache->evicted_func != NULL)
    {
      FcEviction eviction = { g_strdup (entry->name), reason };

      if (graveyard->evictions == NULL)
        {
          graveyard->evictions = g_array_new (FALSE, FALSE, sizeof (FcEviction));
          g_array_set_clear_func (graveyard->evictions, fc_eviction_clear);
        }
      g_array_append_val (graveyard->evictions, eviction);
    }
  fc_cache_entry_remove (cache, entry, graveyard);
}

/* Evicts from the cold end until at most @keep bytes and @keep_cost
 * bytes of bookkeeping are held; with @keep 0, empty files go too, as
 * nothing may stay in a cache with no room. */
static guint
shrink_to (FcCache       *cache,
           guint64        keep,
           guint64        keep_cost,
           FcEvictReason  reason,
           Graveyard     *graveyard)
{
  guint n = 0;

  while (cache->lru.tail != NULL &&
         (keep == 0 || cache->size + cache->reserved > keep ||
          cache->cost + cache->reserved_cost > keep_cost))
    {
      entry_drop (cache, cache->lru.tail->data, reason, graveyard);
      n++;
    }
  return n;
}

/* Evicts least recently used entries until @extra more bytes and
 * @extra_cost more bytes of bookkeeping fit, or returns FALSE (evicting
 * nothing) when they cannot fit at all because of the bounds or of loads
 * in progress. Capacity 0 holds not even an empty file: it means caching
 * is off. */
gboolean
fc_cache_make_room (FcCache   *cache,
                    guint64    extra,
                    guint64    extra_cost,
                    Graveyard *graveyard)
{
  if (cache->capacity == 0 || extra > cache->capacity ||
      cache->reserved > cache->capacity - extra ||
      extra_cost > cache->cost_bound ||
      cache->reserved_cost > cache->cost_bound - extra_cost)
    return FALSE;

  shrink_to (cache, cache->capacity - extra, cache->cost_bound - extra_cost, FC_EVICT_CAPACITY,
             graveyard);
  return TRUE;
}

static guint64
entry_cost (const char *name)
{
  return fc_cache_entry_cost (strlen (name));
}

static guint64
physical_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  if (pages <= 0 || page_size <= 0)
    return G_MAXUINT64;
  return (guint64) pages * (guint64) page_size;
}

/* The largest entry whatever the capacity: the smaller of a quarter of
 * physical memory and --max-entry-size. Under the lock. */
guint64
fc_cache_entry_limit (FcCache *cache)
{
  return MIN (physical_memory () / 4, cache->max_entry_limit);
}

/* Recomputes what follows from the capacity. */
static void
update_bounds (FcCache *cache)
{
  cache->max_entry_size = MIN (cache->capacity, fc_cache_entry_limit (cache));
  cache->cost_bound = fc_cache_bookkeeping_bound (cache->capacity);
}

static void
entry_touch (FcCache *cache,
             Entry   *entry)
{
  entry->hits++;
  entry->last_use = g_get_real_time ();
  if (entry->in_table && cache->lru.head != &entry->link)
    {
      g_queue_unlink (&cache->lru, &entry->link);
      g_queue_push_head_link (&cache->lru, &entry->link);
    }
}

/* Counts a GET answered from the cache, and records it. */
static void
count_hit (FcCache    *cache,
           const char *name,
           guint64     size)
{
  cache->hits++;
  fc_history_record (cache->history, name, size, TRUE);
}

/* Counts a GET that found no valid copy, by why (@stale: a copy of
 * another version was there), and records it; @served is FALSE when it
 * is answered with an error. */
static void
count_miss (FcCache    *cache,
            const char *name,
            guint64     size,
            gboolean    served,
            gboolean    stale)
{
  FcMissKind kind = FC_MISS_COLD;

  if (stale)
    kind = FC_MISS_CHANGED;
  else if (name != NULL)
    kind = fc_history_classify_miss (cache->history, name);
  cache->misses++;
  cache->misses_by_kind[kind]++;
  fc_history_record (cache->history, name, size, served);
}

/**
 * fc_cache_new:
 * @capacity: the most content bytes to hold; 0 disables caching
 *
 * Returns: (transfer full): an empty cache, safe to share between threads
 */
FcCache *
fc_cache_new (guint64 capacity)
{
  FcCache *cache = g_new0 (FcCache, 1);

  g_mutex_init (&cache->lock);
  g_mutex_init (&cache->notify_lock);
  cache->history = fc_history_new (FC_HISTORY_LENGTH);
  cache->table = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&cache->lru);
  cache->tracker = fc_cache_tracker_new ();
  cache->capacity = capacity;
  cache->max_entry_limit = G_MAXUINT64;
  update_bounds (cache);
  return cache;
}

/**
 * fc_cache_free:
 * @cache: a cache with no load in progress
 *
 * Frees @cache. Bytes handed out by fc_cache_lookup() stay valid.
 */
void
fc_cache_free (FcCache *cache)
{
  fc_cache_clear (cache);
  g_return_if_fail (g_hash_table_size (cache->table) == 0);
  g_hash_table_unref (cache->table);
  fc_cache_tracker_unref (cache->tracker);
  fc_history_free (cache->history);
  g_mutex_clear (&cache->notify_lock);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/**
 * fc_cache_set_max_entry_size:
 * @cache: a cache
 * @limit: the largest file to load into the cache, in bytes
 *
 * Lowers the largest file the cache holds as one entry, which is
 * otherwise the smaller of the capacity and a quarter of physical memory;
 * it never rises above those, whatever the capacity is later set to.
 * Larger files are served from disk. Call it before serving: copies
 * already held stay.
 */
void
fc_cache_set_max_entry_size (FcCache *cache,
                             guint64  limit)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  cache->max_entry_limit = limit;
  update_bounds (cache);
}

/**
 * fc_cache_lookup:
 * @cache: a cache
 * @name: the file's name
 * @id: the identity of the file as just opened on disk
 * @counted: %TRUE when this GET was counted already, by an earlier attempt
 *   that found the file changing under it; the entry's hits still count it
 * @bytes: (out) (transfer full): with %FC_LOOKUP_READY, the content
 * @load: (out) (transfer full): with %FC_LOOKUP_LOAD, the load to finish
 * @flight: (out) (transfer full) (optional): with %FC_LOOKUP_WAIT, the
 *   load of the same version in progress (single flight), to join
 *
 * Counts one GET as a hit or a miss and tells the caller how to answer it.
 * A cached copy whose identity differs from @id is dropped as stale. On a
 * miss that fits, the caller is made the loader and must end the load with
 * fc_cache_load_take() or fc_cache_load_abort(); concurrent lookups of
 * the same file are told to wait (%FC_LOOKUP_WAIT) and look again once
 * it lands, never blocked. The caller does no disk I/O under the lock: it
 * has already opened the file.
 *
 * A miss is %FC_LOOKUP_BYPASS when the file is larger than the largest
 * entry, when the cache's memory bound is reached (pinned copies), when
 * the bookkeeping cannot fit, or when @id cannot yet tell versions apart
 * (fc_settle_cacheable(): it changed within its filesystem's last tick,
 * or in the future), so that a cached copy is never of a version its
 * identity cannot tell apart. Nothing here sleeps: a later lookup loads
 * it.
 */
FcLookup
fc_cache_lookup (FcCache         *cache,
                 const char      *name,
                 const FcFileId  *id,
                 gboolean         counted,
                 GBytes         **bytes,
                 FcCacheLoad    **load,
                 FcFlight       **flight)
{
  Graveyard graveyard = { NULL };
  FcLookup result = FC_LOOKUP_BYPASS;
  /* Judged before the lock: it may log. */
  gboolean settled = fc_settle_check (id, name, fc_settle_cacheable);
  guint64 cost;
  Entry *entry;

  g_mutex_lock (&cache->lock);

  entry = g_hash_table_lookup (cache->table, name);
  if (entry != NULL && !fc_file_id_equal (&entry->id, id))
    {
      if (entry->loading)
        {
          /* Another version is being loaded; this request has a newer
           * descriptor and must not wait for old bytes. */
          if (!counted)
            count_miss (cache, name, id->size, TRUE, TRUE);
          goto out;
        }
      /* Dropped as changed: the miss below is counted so. */
      entry_drop (cache, entry, FC_EVICT_CHANGED, &graveyard);
      entry = NULL;
    }

  if (entry != NULL && !entry->loading)
    {
      if (!counted)
        count_hit (cache, name, entry->id.size);
      entry_touch (cache, entry);
      *bytes = g_bytes_ref (entry->bytes);
      result = FC_LOOKUP_READY;
      goto out;
    }

  if (!counted)
    count_miss (cache, name, id->size, TRUE, FALSE);

  if (entry != NULL)
    {
      if (flight != NULL)
        *flight = fc_flight_ref (entry->flight);
      result = FC_LOOKUP_WAIT;
      goto out;
    }

  cost = entry_cost (name);
  if (id->size > cache->max_entry_size || !settled ||
      !fc_cache_memory_allows (cache, id->size) ||
      !fc_cache_make_room (cache, id->size, cost, &graveyard))
    goto out;

  *load = fc_cache_load_begin (cache, name, id, cost);
  result = FC_LOOKUP_LOAD;

out:
  fc_cache_unlock (cache, &graveyard);
  return result;
}

/**
 * fc_cache_lookup_trusted:
 * @cache: a cache
 * @name: a file's name
 * @generation: what fc_watch_quiet() gave just now
 * @count: count the hit and make the copy the most recently used (a
 *   GET); not for a HEAD or an HTTP request's uncounted first look
 * @id: (out): with %TRUE, the identity of the copy
 * @bytes: (out) (transfer full): with %TRUE, the content
 *
 * The hot path of a GET: a hit, without a stat(), when @name's copy was
 * proved by one at @generation and its watches are intact, so nothing
 * changed since (watch.c). Otherwise nothing is counted or changed.
 *
 * Returns: %TRUE for a hit
 */
gboolean
fc_cache_lookup_trusted (FcCache     *cache,
                         const char  *name,
                         guint        generation,
                         gboolean     count,
                         FcFileId    *id,
                         GBytes     **bytes)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);
  Entry *entry = g_hash_table_lookup (cache->table, name);

  if (entry == NULL || entry->loading || entry->trusted != generation ||
      entry->mark == NULL || !fc_watch_mark_intact (entry->mark))
    return FALSE;
  if (count)
    {
      count_hit (cache, name, entry->id.size);
      entry_touch (cache, entry);
    }
  *id = entry->id;
  *bytes = g_bytes_ref (entry->bytes);
  return TRUE;
}

/**
 * fc_cache_peek:
 * @cache: a cache
 * @name: a file's name
 * @generation: what fc_watch_quiet() gave, or 0 with no watch
 * @arm: (out): whether the caller is to watch @name (fc_watch_arm()): a
 *   copy of a local file whose mark is missing or broken, not tried at
 *   @generation yet (so a file that cannot be armed, held open for
 *   writing say, is tried again only after some change)
 *
 * Counts nothing: it tells whether a freshness check without opening the
 * file (see fc_cache_lookup_hit()) is worth a try.
 *
 * Returns: whether @name has a cached copy now
 */
gboolean
fc_cache_peek (FcCache    *cache,
               const char *name,
               guint       generation,
               gboolean   *arm)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);
  Entry *entry = g_hash_table_lookup (cache->table, name);

  *arm = FALSE;
  if (entry == NULL || entry->loading)
    return FALSE;
  if (generation != 0 && !entry->id.foreign && entry->arm_tried != generation &&
      (entry->mark == NULL || !fc_watch_mark_intact (entry->mark)))
    {
      entry->arm_tried = generation;
      *arm = TRUE;
    }
  return TRUE;
}

/* @name's entry when it holds a whole copy of exactly @id, else NULL.
 * Under the lock. */
static Entry *
copy_of (FcCache        *cache,
         const char     *name,
         const FcFileId *id)
{
  Entry *entry = g_hash_table_lookup (cache->table, name);

  return entry != NULL && !entry->loading && fc_file_id_equal (&entry->id, id) ? entry : NULL;
}

/**
 * fc_cache_lookup_hit:
 * @cache: a cache
 * @name: a file's name
 * @id: the identity of the file that @name names now, from a stat() that
 *   need not have been confined: the cached copy was read through a
 *   confined open, and a match proves the same inode, unchanged
 * @mark: (transfer full) (nullable): @name's new watches, armed before
 *   that stat()
 * @generation: what fc_watch_quiet() gave after @mark was armed and
 *   before the stat(), or 0
 * @bytes: (out) (transfer full): with %TRUE, the content
 *
 * The cheap path of a GET: a hit is counted only when a cached copy of
 * exactly @id is there. Otherwise nothing is counted or changed, and the
 * caller takes the full path (open confined, then fc_cache_lookup()). A
 * hit whose watches are intact is trusted from @generation on
 * (fc_cache_lookup_trusted()).
 *
 * Returns: %TRUE for a hit
 */
gboolean
fc_cache_lookup_hit (FcCache         *cache,
                     const char      *name,
                     const FcFileId  *id,
                     FcWatchMark     *mark,
                     guint            generation,
                     GBytes         **bytes)
{
  /* Declared first, so freed after the lock is released. */
  g_autoptr(FcWatchMark) spare = mark;
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);
  Entry *entry = copy_of (cache, name, id);

  if (entry == NULL)
    return FALSE;
  if (spare != NULL)
    {
      FcWatchMark *old = entry->mark;

      entry->mark = g_steal_pointer (&spare);
      spare = old;
    }
  entry->trusted = entry->mark != NULL && fc_watch_mark_intact (entry->mark) ? generation : 0;
  count_hit (cache, name, entry->id.size);
  entry_touch (cache, entry);
  *bytes = g_bytes_ref (entry->bytes);
  return TRUE;
}

/**
 * fc_cache_holds:
 * @cache: a cache
 * @name: a file's name
 * @id: the identity of the file @name names now
 *
 * Whether a copy of exactly @id is cached, counted and touched as
 * nothing: what a GET of it would be sent though no read of the file
 * could be proved now, which a HEAD must answer alike. Any thread.
 *
 * Returns: %TRUE when such a copy is there
 */
gboolean
fc_cache_holds (FcCache        *cache,
                const char     *name,
                const FcFileId *id)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  return copy_of (cache, name, id) != NULL;
}

/**
 * fc_cache_miss:
 * @cache: a cache
 * @name: (nullable): the name asked for, if it was a valid one
 * @counted: as for fc_cache_lookup()
 * @why: %FC_EVICT_DELETED when @name names no file any more, else
 *   %FC_EVICT_CHANGED
 *
 * Counts a GET that could not be served at all (no such file, not
 * servable, invalid name) as the miss it is, and drops @name's cached
 * copy, now stale, counted as an invalidation for @why.
 */
void
fc_cache_miss (FcCache       *cache,
               const char    *name,
               gboolean       counted,
               FcEvictReason  why)
{
  Graveyard graveyard = { NULL };
  Entry *entry;

  g_mutex_lock (&cache->lock);
  entry = name != NULL ? g_hash_table_lookup (cache->table, name) : NULL;
  /* First, so that a stale copy makes the miss count as changed. */
  if (entry != NULL)
    entry_drop (cache, entry, why, &graveyard);
  if (!counted)
    count_miss (cache, name, 0, FALSE, FALSE);
  fc_cache_unlock (cache, &graveyard);
}

/**
 * fc_cache_evict:
 * @cache: a cache
 * @name: a file name
 *
 * Drops @name's cached copy. Requests already sending it keep their
 * reference and finish intact. A copy still loading is not evicted.
 *
 * Returns: %TRUE if a copy was dropped
 */
gboolean
fc_cache_evict (FcCache    *cache,
                const char *name)
{
  Graveyard graveyard = { NULL };
  Entry *entry;
  gboolean evicted = FALSE;

  g_mutex_lock (&cache->lock);
  entry = g_hash_table_lookup (cache->table, name);
  if (entry != NULL && !entry->loading)
    {
      entry_drop (cache, entry, FC_EVICT_EVICT, &graveyard);
      evicted = TRUE;
    }
  fc_cache_unlock (cache, &graveyard);
  return evicted;
}

/**
 * fc_cache_clear:
 * @cache: a cache
 *
 * Drops every cached copy (loads in progress finish normally).
 *
 * Returns: how many copies were dropped
 */
guint
fc_cache_clear (FcCache *cache)
{
  Graveyard graveyard = { NULL };
  guint n;

  g_mutex_lock (&cache->lock);
  n = shrink_to (cache, 0, 0, FC_EVICT_CLEAR, &graveyard);
  fc_cache_unlock (cache, &graveyard);
  return n;
}

/**
 * fc_cache_set_capacity:
 * @cache: a cache
 * @capacity: the new capacity in bytes; 0 disables caching
 *
 * Evicts least recently used copies at once until the cache fits, and
 * recomputes the bounds that follow from the capacity (the largest entry,
 * the bookkeeping bound).
 */
void
fc_cache_set_capacity (FcCache *cache,
                       guint64  capacity)
{
  Graveyard graveyard = { NULL };

  g_mutex_lock (&cache->lock);
  cache->capacity = capacity;
  update_bounds (cache);
  shrink_to (cache, capacity, cache->cost_bound, FC_EVICT_CAPACITY, &graveyard);
  fc_cache_unlock (cache, &graveyard);
}

guint64
fc_cache_get_capacity (FcCache *cache)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  return cache->capacity;
}

/**
 * fc_cache_get_stats:
 * @cache: a cache
 * @stats: (out): one consistent snapshot of the counters
 * @under_lock: (nullable): called with the lock held, to read other
 *   counters in the same snapshot; must not call back into @cache
 * @user_data: for @under_lock
 */
void
fc_cache_get_stats (FcCache           *cache,
                    FcCacheStats      *stats,
                    FcCacheLockedFunc  under_lock,
                    gpointer           user_data)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);

  if (under_lock != NULL)
    under_lock (user_data);

  stats->hits = cache->hits;
  stats->misses = cache->misses;
  stats->misses_cold = cache->misses_by_kind[FC_MISS_COLD];
  stats->misses_evicted = cache->misses_by_kind[FC_MISS_EVICTED];
  stats->misses_changed = cache->misses_by_kind[FC_MISS_CHANGED];
  stats->loads = cache->loads;
  stats->evictions = cache->evictions;
  stats->invalidations = cache->invalidations;
  stats->entries = cache->lru.length;
  stats->size = cache->size;
  stats->capacity = cache->capacity;
  stats->max_entry_size = cache->max_entry_size;
  stats->pinned = fc_cache_pinned (cache);
}

static void
info_clear (gpointer data)
{
  FcCacheInfo *info = data;

  g_free (info->name);
}

/**
 * fc_cache_list:
 * @cache: a cache
 *
 * Returns: (transfer full) (element-type FcCacheInfo): the cached copies,
 *   most recently used first
 */
GArray *
fc_cache_list (FcCache *cache)
{
  return fc_cache_list_range (cache, 0, G_MAXUINT);
}

/**
 * fc_cache_list_range:
 * @cache: a cache
 * @offset: position of the first copy wanted, 0 being the most recently used
 * @count: the most copies wanted
 *
 * One snapshot of part of the LRU order, copied under the lock: only the
 * copies returned are copied, whatever the size of the cache; reaching
 * @offset costs a walk of that many list links.
 *
 * Returns: (transfer full) (element-type FcCacheInfo): at most @count
 *   cached copies from position @offset on, most recently used first;
 *   empty when @offset is past the end
 */
GArray *
fc_cache_list_range (FcCache *cache,
                     guint    offset,
                     guint    count)
{
  GArray *list = g_array_new (FALSE, FALSE, sizeof (FcCacheInfo));
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&cache->lock);
  GList *l = cache->lru.head;
  guint n;

  g_array_set_clear_func (list, info_clear);
  if (offset >= cache->lru.length)
    return list;

  n = MIN (count, cache->lru.length - offset);
  for (guint i = 0; i < offset; i++)
    l = l->next;
  g_array_set_size (list, n);
  for (guint i = 0; i < n; i++, l = l->next)
    {
      const Entry *entry = l->data;
      FcCacheInfo *info = &g_array_index (list, FcCacheInfo, i);

      info->name = g_strdup (entry->name);
      info->size = entry->id.size;
      info->hits = entry->hits;
      info->last_use = entry->last_use;
    }
  return list;
}

/**
 * fc_cache_set_evicted_func:
 * @cache: a cache
 * @func: (nullable): called with every entry that leaves the cache from
 *   now on; %NULL for none
 * @user_data: for @func
 *
 * Once this returns, the previous function is not running and will not
 * be called again.
 */
void
fc_cache_set_evicted_func (FcCache            *cache,
                           FcCacheEvictedFunc  func,
                           gpointer            user_data)
{
  g_mutex_lock (&cache->lock);
  g_mutex_lock (&cache->notify_lock);
  cache->evicted_func = func;
  cache->evicted_data = user_data;
  g_mutex_unlock (&cache->notify_lock);
  g_mutex_unlock (&cache->lock);
}

/**
 * fc_evict_reason_to_string:
 * @reason: a reason
 *
 * Returns: (transfer none): its name in DBUS.md's Evicted signal
 */
const char *
fc_evict_reason_to_string (FcEvictReason reason)
{
  static const char *const names[] = {
    [FC_EVICT_CAPACITY] = "capacity",
    [FC_EVICT_EVICT] = "evict",
    [FC_EVICT_CLEAR] = "clear",
    [FC_EVICT_CHANGED] = "changed",
    [FC_EVICT_DELETED] = "deleted",
  };

  g_return_val_if_fail (reason < G_N_ELEMENTS (names), NULL);
  return names[reason];
}
