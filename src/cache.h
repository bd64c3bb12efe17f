#pragma once

#include <glib.h>

#include "cache-cost.h"
#include "file-id.h"
#include "watch.h"
#include "flight.h"

G_BEGIN_DECLS

typedef struct _FcCache FcCache;
typedef struct _FcCacheEntry FcCacheLoad;

typedef enum {
  FC_LOOKUP_READY,   /* cached bytes returned: send them */
  FC_LOOKUP_LOAD,    /* caller reads the file and finishes or aborts the load */
  FC_LOOKUP_BYPASS,  /* not cacheable now: caller serves from disk */
  FC_LOOKUP_WAIT,    /* another request loads it: join the flight, look again once it lands */
} FcLookup;

/* Why an entry left the cache (DBUS.md 1.1, the Evicted signal). */
typedef enum {
  FC_EVICT_CAPACITY,  /* made room, a lower capacity, the bookkeeping bound */
  FC_EVICT_EVICT,     /* fc_cache_evict() */
  FC_EVICT_CLEAR,     /* fc_cache_clear() */
  FC_EVICT_CHANGED,   /* the file changed or was replaced on disk */
  FC_EVICT_DELETED,   /* the file is gone */
} FcEvictReason;

typedef struct {
  char *name;             /* (owned) */
  FcEvictReason reason;
} FcEviction;

/* Called with the entries that just left the cache, oldest first
 * (element-type FcEviction, transfer none), after the cache lock is
 * released, in whichever thread evicted them; calls never overlap and
 * come in the order of the evictions. Must not call into the cache. */
typedef void (*FcCacheEvictedFunc) (GArray   *evictions,
                                    gpointer  user_data);

typedef struct {
  guint64 hits;
  guint64 misses;
  guint64 misses_cold;     /* the three add up to misses */
  guint64 misses_evicted;
  guint64 misses_changed;
  guint64 loads;
  guint64 evictions;
  guint64 invalidations;
  guint entries;
  guint64 size;
  guint64 capacity;
  guint64 max_entry_size;  /* larger files are streamed, never loaded */
  guint64 pinned;          /* bytes of copies evicted but still held by transfers */
} FcCacheStats;

typedef struct {
  char *name;        /* (owned) */
  guint64 size;
  guint64 hits;
  gint64 last_use;   /* g_get_real_time() of the last GET it answered */
} FcCacheInfo;

FcCache    *fc_cache_new            (guint64       capacity);
void        fc_cache_free           (FcCache      *cache);
void        fc_cache_set_max_entry_size (FcCache  *cache,
                                     guint64       limit);

/* What a server does with each GET, once it has opened the file and filled
 * an FcFileId from fstat() on that descriptor:
 *
 *   switch (fc_cache_lookup (cache, name, &id, counted, &bytes, &load))
 *     READY:  send @bytes.
 *     LOAD:   read the whole file (fc_file_read_whole(), which never aborts
 *             for want of memory); on failure fc_cache_load_abort (cache,
 *             load) and refuse or stream; on success bytes =
 *             fc_cache_load_take (cache, load, bytes) and send those bytes.
 *     BYPASS: stream the file from disk through a small buffer.
 *     WAIT:   join @flight; once it lands, look again (counted = TRUE).
 *
 * Send what fc_cache_load_take() returns, not the GBytes given to it: the
 * returned copy is the one the `pinned` count follows. */
FcLookup    fc_cache_lookup         (FcCache       *cache,
                                     const char    *name,
                                     const FcFileId *id,
                                     gboolean       counted,
                                     GBytes       **bytes,
                                     FcCacheLoad  **load,
                                     FcFlight     **flight);
FcFlight   *fc_cache_load_hand_off  (FcCacheLoad  *load);
FcFlight   *fc_cache_load_flight    (FcCacheLoad  *load);
gboolean    fc_cache_lookup_trusted (FcCache       *cache,
                                     const char    *name,
                                     guint          generation,
                                     gboolean       count,
                                     FcFileId      *id,
                                     GBytes       **bytes);
gboolean    fc_cache_peek           (FcCache       *cache,
                                     const char    *name,
                                     guint          generation,
                                     gboolean      *arm);
gboolean    fc_cache_lookup_hit     (FcCache       *cache,
                                     const char    *name,
                                     const FcFileId *id,
                                     FcWatchMark   *mark,
                                     guint          generation,
                                     GBytes       **bytes);
gboolean    fc_cache_holds          (FcCache       *cache,
                                     const char    *name,
                                     const FcFileId *id);
GBytes     *fc_cache_load_take      (FcCache      *cache,
                                     FcCacheLoad  *load,
                                     GBytes       *bytes);
void        fc_cache_load_abort     (FcCache      *cache,
                                     FcCacheLoad  *load);
void        fc_cache_miss           (FcCache      *cache,
                                     const char   *name,
                                     gboolean      counted,
                                     FcEvictReason why);

gboolean    fc_cache_evict          (FcCache      *cache,
                                     const char   *name);
guint       fc_cache_clear          (FcCache      *cache);
void        fc_cache_set_capacity   (FcCache      *cache,
                                     guint64       capacity);
guint64     fc_cache_get_capacity   (FcCache      *cache);

typedef void (*FcCacheLockedFunc) (gpointer user_data);

void        fc_cache_get_stats      (FcCache          *cache,
                                     FcCacheStats     *stats,
                                     FcCacheLockedFunc under_lock,
                                     gpointer          user_data);
GArray     *fc_cache_list           (FcCache      *cache);
void        fc_cache_set_evicted_func (FcCache    *cache,
                                     FcCacheEvictedFunc func,
                                     gpointer      user_data);
const char *fc_evict_reason_to_string (FcEvictReason reason);
void        fc_eviction_clear       (gpointer      data);
guint       fc_cache_get_history_length (FcCache  *cache);
typedef struct _FcCacheHistory FcCacheHistory;

FcCacheHistory *fc_cache_history_snapshot (FcCache        *cache);
void        fc_cache_history_simulate (FcCacheHistory *history,
                                     const guint64 *capacities,
                                     guint         n_capacities,
                                     double       *ratios);
void        fc_cache_history_free   (FcCacheHistory *history);
void        fc_cache_simulate       (FcCache      *cache,
                                     const guint64 *capacities,
                                     guint         n_capacities,
                                     double       *ratios);
GArray     *fc_cache_list_range     (FcCache      *cache,
                                     guint         offset,
                                     guint         count);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcCache, fc_cache_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcCacheHistory, fc_cache_history_free)

G_END_DECLS
