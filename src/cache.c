#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "cache.h"

/* An entry is either loading (bytes NULL, not in the LRU queue, its size
 * reserved) or ready (bytes set, in the queue). It is shared by the table
 * and by each request waiting on or performing its load, hence the refs;
 * all fields are guarded by the cache lock. */
struct _FcCacheEntry {
  char *name;                   /* (owned): also the table's key */
  FcFileId id;
  GBytes *bytes;                /* (owned) (nullable) */
  guint64 hits;
  gint64 last_use;
  GList link;                   /* in FcCache.lru while ready and in the table */
  guint refs;
  gboolean loading;
  gboolean in_table;
  struct _FcCacheEntry *next_dead;
};

typedef struct _FcCacheEntry Entry;

struct _FcCache {
  GMutex lock;
  GCond loaded;                 /* broadcast whenever a load ends */
  GHashTable *table;            /* name → Entry, one ref each */
  GQueue lru;                   /* ready entries, most recently used first */
  guint64 capacity;
  guint64 size;                 /* bytes of ready entries */
  guint64 reserved;             /* bytes promised to loads in progress */
  guint64 hits;
  guint64 misses;
  guint64 loads;
  guint64 evictions;
  guint64 invalidations;
};

/* Entries whose last ref went under the lock are freed after it is
 * released, so dropping a large GBytes (munmap) never stalls other
 * requests. */
typedef struct {
  Entry *head;
} Graveyard;

void
fc_file_id_from_stat (FcFileId          *id,
                      const struct stat *st)
{
  id->dev = st->st_dev;
  id->ino = st->st_ino;
  id->size = (guint64) st->st_size;
  id->mtime_ns = (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
  id->ctime_ns = (gint64) st->st_ctim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_ctim.tv_nsec;
}

gboolean
fc_file_id_equal (const FcFileId *a,
                  const FcFileId *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static void
entry_unref (Entry     *entry,
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
      g_free (entry->name);
      g_free (entry);
    }
}

/* Drops @entry from the table (and the queue when ready). */
static void
entry_remove (FcCache   *cache,
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
    }
  entry_unref (entry, graveyard);
}

/* Evicts from the cold end until at most @keep bytes are held; with 0,
 * empty files go too, as nothing may stay in a cache with no room. */
static guint
shrink_to (FcCache   *cache,
           guint64    keep,
           Graveyard *graveyard)
{
  guint n = 0;

  while (cache->lru.tail != NULL && (keep == 0 || cache->size + cache->reserved > keep))
    {
      entry_remove (cache, cache->lru.tail->data, graveyard);
      cache->evictions++;
      n++;
    }
  return n;
}

/* Evicts least recently used entries until @extra more bytes fit, or
 * returns FALSE (evicting nothing) when they cannot fit at all because of
 * the capacity or of loads in progress. Capacity 0 holds not even an empty
 * file: it means caching is off. */
static gboolean
make_room (FcCache   *cache,
           guint64    extra,
           Graveyard *graveyard)
{
  if (cache->capacity == 0 || extra > cache->capacity ||
      cache->reserved > cache->capacity - extra)
    return FALSE;

  shrink_to (cache, cache->capacity - extra, graveyard);
  return TRUE;
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
  g_cond_init (&cache->loaded);
  cache->table = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&cache->lru);
  cache->capacity = capacity;
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
  g_cond_clear (&cache->loaded);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* A request that found @entry loading waits for that load instead of
 * reading the file again (single flight). */
static FcLookup
wait_for_load (FcCache  *cache,
               Entry    *entry,
               GBytes  **bytes)
{
  entry->refs++;
  while (entry->loading)
    g_cond_wait (&cache->loaded, &cache->lock);

  if (entry->bytes == NULL)
    return FC_LOOKUP_BYPASS;

  entry_touch (cache, entry);
  *bytes = g_bytes_ref (entry->bytes);
  return FC_LOOKUP_READY;
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
 *
 * Counts one GET as a hit or a miss and tells the caller how to answer it.
 * A cached copy whose identity differs from @id is dropped as stale. On a
 * miss that fits, the caller is made the loader and must end the load with
 * fc_cache_load_finish() or fc_cache_load_abort(); concurrent lookups of
 * the same file block until then and share the result. The caller does no
 * disk I/O under the lock: it has already opened the file.
 */
FcLookup
fc_cache_lookup (FcCache         *cache,
                 const char      *name,
                 const FcFileId  *id,
                 gboolean         counted,
                 GBytes         **bytes,
                 FcCacheLoad    **load)
{
  Graveyard graveyard = { NULL };
  FcLookup result = FC_LOOKUP_BYPASS;
  Entry *entry;

  g_mutex_lock (&cache->lock);

  entry = g_hash_table_lookup (cache->table, name);
  if (entry != NULL && !fc_file_id_equal (&entry->id, id))
    {
      if (entry->loading)
        {
          /* Another version is being loaded; this request has a newer
           * descriptor and must not wait for old bytes. */
          cache->misses += !counted;
          goto out;
        }
      entry_remove (cache, entry, &graveyard);
      cache->invalidations++;
      entry = NULL;
    }

  if (entry != NULL && !entry->loading)
    {
      cache->hits += !counted;
      entry_touch (cache, entry);
      *bytes = g_bytes_ref (entry->bytes);
      result = FC_LOOKUP_READY;
      goto out;
    }

  cache->misses += !counted;

  if (entry != NULL)
    {
      result = wait_for_load (cache, entry, bytes);
      entry_unref (entry, &graveyard);
      goto out;
    }

  if (!make_room (cache, id->size, &graveyard))
    goto out;

  entry = g_new0 (Entry, 1);
  entry->name = g_strdup (name);
  entry->id = *id;
  entry->link.data = entry;
  entry->loading = TRUE;
  entry->in_table = TRUE;
  entry->refs = 2;
  g_hash_table_insert (cache->table, entry->name, entry);
  cache->reserved += id->size;
  *load = entry;
  result = FC_LOOKUP_LOAD;

out:
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
  return result;
}

/* Ends the load of @entry: its reservation is released and the requests
 * waiting on it are woken, with @bytes or (on failure) none. */
static void
load_end (FcCache   *cache,
          Entry     *entry,
          GBytes    *bytes,
          Graveyard *graveyard)
{
  g_assert (entry->loading);

  cache->reserved -= entry->id.size;

  /* Capacity may have shrunk, or the name been invalidated, meanwhile:
   * the waiters still get the bytes, the table only if they fit. */
  if (entry->in_table && (bytes == NULL || !make_room (cache, entry->id.size, graveyard)))
    entry_remove (cache, entry, graveyard);

  entry->loading = FALSE;
  if (bytes != NULL)
    {
      cache->loads++;
      entry->bytes = g_bytes_ref (bytes);
      entry->hits = 1;
      entry->last_use = g_get_real_time ();
      if (entry->in_table)
        {
          g_queue_push_head_link (&cache->lru, &entry->link);
          cache->size += entry->id.size;
        }
    }

  g_cond_broadcast (&cache->loaded);
  entry_unref (entry, graveyard);
}

/**
 * fc_cache_load_finish:
 * @cache: a cache
 * @load: (transfer full): from fc_cache_lookup()
 * @bytes: the whole content, of exactly the size in the lookup's identity
 *
 * Makes @bytes the cached copy and hands it to the requests that waited.
 * The entry counts the loader's GET as its first hit.
 */
void
fc_cache_load_finish (FcCache     *cache,
                      FcCacheLoad *load,
                      GBytes      *bytes)
{
  Graveyard graveyard = { NULL };

  g_return_if_fail (g_bytes_get_size (bytes) == load->id.size);

  g_mutex_lock (&cache->lock);
  load_end (cache, load, bytes, &graveyard);
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
}

/**
 * fc_cache_load_abort:
 * @cache: a cache
 * @load: (transfer full): from fc_cache_lookup()
 *
 * Ends a load that failed; waiting requests serve from disk themselves.
 */
void
fc_cache_load_abort (FcCache     *cache,
                     FcCacheLoad *load)
{
  Graveyard graveyard = { NULL };

  g_mutex_lock (&cache->lock);
  load_end (cache, load, NULL, &graveyard);
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
}

/**
 * fc_cache_miss:
 * @cache: a cache
 * @name: (nullable): the name asked for, if it was a valid one
 * @counted: as for fc_cache_lookup()
 *
 * Counts a GET that could not be served at all (no such file, not
 * servable, invalid name) as the miss it is, and drops @name's cached
 * copy, now stale, counted as an invalidation.
 */
void
fc_cache_miss (FcCache    *cache,
               const char *name,
               gboolean    counted)
{
  Graveyard graveyard = { NULL };
  Entry *entry;

  g_mutex_lock (&cache->lock);
  cache->misses += !counted;
  entry = name != NULL ? g_hash_table_lookup (cache->table, name) : NULL;
  if (entry != NULL)
    {
      entry_remove (cache, entry, &graveyard);
      cache->invalidations++;
    }
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
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
      entry_remove (cache, entry, &graveyard);
      cache->evictions++;
      evicted = TRUE;
    }
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
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
  n = shrink_to (cache, 0, &graveyard);
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
  return n;
}

/**
 * fc_cache_set_capacity:
 * @cache: a cache
 * @capacity: the new capacity in bytes; 0 disables caching
 *
 * Evicts least recently used copies at once until the cache fits.
 */
void
fc_cache_set_capacity (FcCache *cache,
                       guint64  capacity)
{
  Graveyard graveyard = { NULL };

  g_mutex_lock (&cache->lock);
  cache->capacity = capacity;
  shrink_to (cache, capacity, &graveyard);
  g_mutex_unlock (&cache->lock);
  graveyard_bury (&graveyard);
}

guint64
fc_cache_get_capacity (FcCache *cache)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&cache->lock);

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
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&cache->lock);

  if (under_lock != NULL)
    under_lock (user_data);

  stats->hits = cache->hits;
  stats->misses = cache->misses;
  stats->loads = cache->loads;
  stats->evictions = cache->evictions;
  stats->invalidations = cache->invalidations;
  stats->entries = cache->lru.length;
  stats->size = cache->size;
  stats->capacity = cache->capacity;
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
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&cache->lock);
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
