#pragma once

/* The cache's private struct and what its files share: cache.c (the LRU
 * index and the lookups), cache-cost.c (what an entry is counted as),
 * cache-load.c (loads, single flight), cache-pin.c (copies that outlive
 * their entries, and their release), cache-history.c (the requests
 * recorded, for the advisor).
 * Included by those files only. */

#include <glib.h>

#include "cache.h"
#include "history.h"
#include "watch.h"

G_BEGIN_DECLS

/* An entry is either loading (bytes NULL, not in the LRU queue, its size
 * reserved) or ready (bytes set, in the queue). It is shared by the table
 * and by each request waiting on or performing its load, hence the refs;
 * all fields are guarded by the cache lock. */
struct _FcCacheEntry {
  char *name;                   /* (owned): also the table's key */
  FcFileId id;
  GBytes *bytes;                /* (owned) (nullable) */
  FcFlight *flight;             /* (owned) (nullable): while loading */
  gboolean handed_off;          /* its loader looks again once loaded, and counts its hit then */
  FcWatchMark *mark;            /* (owned) (nullable): its name and file watched (watch.c) */
  guint trusted;                /* the watch generation its identity was proved for; 0: none */
  guint arm_tried;              /* the watch generation it was last armed at, or tried to be */
  guint64 hits;
  gint64 last_use;
  guint64 cost;                 /* bookkeeping bytes, see fc_cache_entry_cost() */
  GList link;                   /* in FcCache.lru while ready and in the table */
  guint refs;
  gboolean loading;
  gboolean in_table;
  struct _FcCacheEntry *next_dead;
};

typedef struct _FcCacheEntry Entry;

/* The bytes of every cached copy alive (cache-pin.c). */
typedef struct _FcCacheTracker Tracker;

/* Memory the cache answers for, and its bounds:
 * - size (ready entries) + reserved (loads in progress) <= capacity;
 * - no file above max_entry_size = min(capacity, physical memory / 4,
 *   --max-entry-size) is loaded;
 * - cost + reserved_cost (names and bookkeeping) <= cost_bound =
 *   1 MiB + capacity / 16, least recently used entries evicted past it;
 * - a load starts only while size + reserved + pinned + its size
 *   <= 2 x capacity, pinned being the bytes of copies no longer in the
 *   cache but still held by transfers (tracker->live - size).
 * Past any bound a file is served from disk instead. */
struct _FcCache {
  GMutex lock;
  /* Taken before the cache lock is released by a thread that has
   * evictions to announce, and held while it announces them: so they are
   * announced in the order they happened, and never after
   * fc_cache_set_evicted_func() has taken the function away. */
  GMutex notify_lock;
  FcCacheEvictedFunc evicted_func;  /* (nullable): set under both locks */
  gpointer evicted_data;
  FcHistory *history;           /* (owned) */
  GHashTable *table;            /* name → Entry, one ref each */
  GQueue lru;                   /* ready entries, most recently used first */
  Tracker *tracker;             /* (owned) */
  guint64 capacity;
  guint64 max_entry_limit;      /* --max-entry-size; G_MAXUINT64 when unset */
  guint64 max_entry_size;
  guint64 cost_bound;
  guint64 size;                 /* bytes of ready entries */
  guint64 reserved;             /* bytes promised to loads in progress */
  guint64 cost;                 /* bookkeeping of ready entries */
  guint64 reserved_cost;        /* bookkeeping of loads in progress */
  guint64 hits;
  guint64 misses;
  guint64 misses_by_kind[FC_MISS_CHANGED + 1];
  guint64 loads;
  guint64 evictions;
  guint64 invalidations;
};

/* Entries whose last ref went under the lock are freed after it is
 * released, so dropping a large GBytes (munmap) never stalls other
 * requests; the entries that left the cache are announced then too. */
typedef struct {
  Entry *head;
  GArray *evictions;            /* (owned) (nullable) (element-type FcEviction) */
} Graveyard;

/* cache.c */
void        fc_cache_entry_unref    (Entry        *entry,
                                     Graveyard    *graveyard);
void        fc_cache_entry_remove   (FcCache      *cache,
                                     Entry        *entry,
                                     Graveyard    *graveyard);
gboolean    fc_cache_make_room      (FcCache      *cache,
                                     guint64       extra,
                                     guint64       extra_cost,
                                     Graveyard    *graveyard);
void        fc_cache_unlock         (FcCache      *cache,
                                     Graveyard    *graveyard);
guint64     fc_cache_entry_limit    (FcCache      *cache);

/* cache-load.c */
Entry      *fc_cache_load_begin     (FcCache      *cache,
                                     const char   *name,
                                     const FcFileId *id,
                                     guint64       cost);

/* cache-pin.c */
Tracker    *fc_cache_tracker_new    (void);
void        fc_cache_tracker_unref  (Tracker      *tracker);
GBytes     *fc_cache_tracked_copy   (Tracker      *tracker,
                                     GBytes       *inner);
guint64     fc_cache_pinned         (FcCache      *cache);
gboolean    fc_cache_memory_allows  (FcCache      *cache,
                                     guint64       size);

G_END_DECLS
