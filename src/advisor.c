#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "advisor.h"
#include "cache.h"

/* A name that left the cache, and when: the request count then. */
typedef struct {
  guint64 name_key;           /* also the table's key */
  guint64 at_request;         /* requests recorded when it left */
  guint64 serial;             /* which departure of the ring it is */
  FcMissKind why;
} Departure;

/* The last @length requests, and the names that left the cache while
 * they were made (at most @length of those too, the oldest forgotten
 * first). Not locked: its owner (the cache) holds its own lock. */
struct _FcHistory {
  FcRequestRecord *ring;      /* (owned): @length records */
  guint length;
  guint64 recorded;           /* requests recorded since start */
  GHashTable *departed;       /* &name_key → Departure (owned) */
  guint64 *departure_ring;    /* (owned): serial % length → name_key */
  guint64 departures;         /* departures noted since start */
};

/* FNV-1a, 64 bits: see FcRequestRecord on collisions. */
static guint64
name_key (const char *name)
{
  guint64 hash = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    hash = (hash ^ *p) * G_GUINT64_CONSTANT (0x100000001b3);
  return hash;
}

/**
 * fc_history_new:
 * @length: the most requests (and departures) remembered; at least 1
 *
 * Returns: (transfer full): an empty history. Not thread-safe: the caller
 *   serializes every call on it.
 */
FcHistory *
fc_history_new (guint length)
{
  FcHistory *history = g_new0 (FcHistory, 1);

  g_return_val_if_fail (length > 0, NULL);
  history->length = length;
  history->ring = g_new0 (FcRequestRecord, length);
  history->departure_ring = g_new0 (guint64, length);
  history->departed = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  return history;
}

void
fc_history_free (FcHistory *history)
{
  g_hash_table_unref (history->departed);
  g_free (history->departure_ring);
  g_free (history->ring);
  g_free (history);
}

/**
 * fc_history_record:
 * @history: a history
 * @name: (nullable): the name asked for; %NULL for one that broke the rules
 * @size: bytes of the file asked for; ignored when not @served
 * @served: %FALSE when the request was answered with an error
 *
 * Records one request counted as a hit or a miss, forgetting the oldest
 * when full.
 */
void
fc_history_record (FcHistory  *history,
                   const char *name,
                   guint64     size,
                   gboolean    served)
{
  FcRequestRecord *record = &history->ring[history->recorded % history->length];

  record->name_key = name != NULL ? name_key (name) : 0;
  record->size = served ? size : 0;
  record->cost = name != NULL ? (guint32) fc_cache_entry_cost (strlen (name)) : 0;
  record->served = served && name != NULL;
  history->recorded++;
}

/* Returns: how many requests are recorded (at most the length). */
guint
fc_history_get_length (FcHistory *history)
{
  return (guint) MIN (history->recorded, (guint64) history->length);
}

/**
 * fc_history_copy:
 * @history: a history
 *
 * Returns: (transfer full) (element-type FcRequestRecord): the recorded
 *   requests, oldest first
 */
GArray *
fc_history_copy (FcHistory *history)
{
  guint n = fc_history_get_length (history);
  guint first = (guint) ((history->recorded - n) % history->length);
  guint head = MIN (n, history->length - first);
  GArray *records = g_array_sized_new (FALSE, FALSE, sizeof (FcRequestRecord), n);

  g_array_append_vals (records, history->ring + first, head);
  g_array_append_vals (records, history->ring, n - head);
  return records;
}

/**
 * fc_history_depart:
 * @history: a history
 * @name: a name whose cached copy just left the cache
 * @why: %FC_MISS_EVICTED or %FC_MISS_CHANGED: what its next miss will be
 *   counted as, while within the history's window
 */
void
fc_history_depart (FcHistory  *history,
                   const char *name,
                   FcMissKind  why)
{
  guint64 key = name_key (name);
  guint slot = (guint) (history->departures % history->length);
  Departure *departure;

  /* The oldest departure makes way, unless a newer one of its name has
   * replaced it in the table. */
  if (history->departures >= history->length)
    {
      Departure *oldest = g_hash_table_lookup (history->departed, &history->departure_ring[slot]);

      if (oldest != NULL && oldest->serial + history->length == history->departures)
        g_hash_table_remove (history->departed, &oldest->name_key);
    }

  departure = g_hash_table_lookup (history->departed, &key);
  if (departure == NULL)
    {
      departure = g_new (Departure, 1);
      departure->name_key = key;
      g_hash_table_insert (history->departed, &departure->name_key, departure);
    }
  departure->at_request = history->recorded;
  departure->serial = history->departures;
  departure->why = why;
  history->departure_ring[slot] = key;
  history->departures++;
}

/**
 * fc_history_classify_miss:
 * @history: a history
 * @name: a name that missed and whose cached copy was not stale
 *
 * Returns: how @name left the cache if it did within the last
 *   length requests, else %FC_MISS_COLD
 */
FcMissKind
fc_history_classify_miss (FcHistory  *history,
                          const char *name)
{
  guint64 key = name_key (name);
  const Departure *departure = g_hash_table_lookup (history->departed, &key);

  if (departure == NULL || departure->at_request + history->length < history->recorded)
    return FC_MISS_COLD;
  return departure->why;
}

/* A Fenwick tree over request positions 1..n, holding at the last
 * request of each name still in the simulated LRU stack its size and its
 * bookkeeping: a suffix sum is then what the names used since take. */
typedef struct {
  guint64 *size;              /* (owned) */
  guint64 *cost;              /* (owned) */
  guint n;
  guint64 total_size;
  guint64 total_cost;
} Fenwick;

static void
fenwick_add (Fenwick *tree,
             guint    position,
             gint64   size,
             gint64   cost)
{
  tree->total_size += (guint64) size;
  tree->total_cost += (guint64) cost;
  for (guint i = position + 1; i <= tree->n; i += i & -i)
    {
      tree->size[i] += (guint64) size;
      tree->cost[i] += (guint64) cost;
    }
}

/* Sums of positions >= @position. */
static void
fenwick_suffix (const Fenwick *tree,
                guint          position,
                guint64       *size,
                guint64       *cost)
{
  guint64 before_size = 0, before_cost = 0;

  for (guint i = position; i > 0; i -= i & -i)
    {
      before_size += tree->size[i];
      before_cost += tree->cost[i];
    }
  *size = tree->total_size - before_size;
  *cost = tree->total_cost - before_cost;
}

static int
compare_u64 (const void *a,
             const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return (x > y) - (x < y);
}

/* Dense indices for the names of @records, so that a pass keeps its
 * per-name state in arrays. Returns how many names there are. */
static guint
number_names (const FcRequestRecord *records,
              guint                  n,
              guint                 *ids)
{
  g_autoptr(GHashTable) table = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < n; i++)
    {
      gpointer id;

      if (!g_hash_table_lookup_extended (table, &records[i].name_key, NULL, &id))
        {
          id = GUINT_TO_POINTER (g_hash_table_size (table));
          g_hash_table_insert (table, (gpointer) &records[i].name_key, id);
        }
      ids[i] = GPOINTER_TO_UINT (id);
    }
  return g_hash_table_size (table);
}

/* One pass of the stack algorithm over @records, the LRU stack holding
 * only files of at most @admitted bytes (the others bypass the cache at
 * these capacities), adding to @hits[k] each hit at @capacities[k]. */
static void
simulate_pass (const FcRequestRecord *records,
               const guint           *ids,
               guint                  n,
               guint                  n_names,
               guint64                admitted,
               const guint64         *capacities,
               const guint           *members,
               guint                  n_members,
               guint64               *hits)
{
  g_autofree guint *last = g_new (guint, n_names);   /* position + 1; 0: not in the stack */
  Fenwick tree = { g_new0 (guint64, n + 1), g_new0 (guint64, n + 1), n, 0, 0 };

  memset (last, 0, n_names * sizeof (guint));
  for (guint i = 0; i < n; i++)
    {
      const FcRequestRecord *record = &records[i];
      guint at = last[ids[i]];

      if (at > 0)
        {
          const FcRequestRecord *previous = &records[at - 1];

          /* A hit needs the same version; the entry leaves either way (a
           * stale copy is dropped, an error drops it). */
          if (record->served && previous->size == record->size)
            {
              guint64 size, cost;

              fenwick_suffix (&tree, at - 1, &size, &cost);
              for (guint k = 0; k < n_members; k++)
                {
                  guint64 capacity = capacities[members[k]];

                  hits[members[k]] += size <= capacity &&
                                      cost <= fc_cache_bookkeeping_bound (capacity);
                }
            }
          fenwick_add (&tree, at - 1, -(gint64) previous->size, -(gint64) previous->cost);
          last[ids[i]] = 0;
        }
      if (record->served && record->size <= admitted)
        {
          fenwick_add (&tree, i, (gint64) record->size, record->cost);
          last[ids[i]] = i + 1;
        }
    }
  g_free (tree.size);
  g_free (tree.cost);
}

/**
 * fc_advisor_simulate:
 * @records: (array length=n_records): requests, oldest first
 * @n_records: how many
 * @entry_limit: the largest entry whatever the capacity (the smaller of a
 *   quarter of physical memory and --max-entry-size), in bytes
 * @capacities: (array length=n_capacities): capacities in bytes
 * @n_capacities: how many
 * @ratios: (out caller-allocates) (array length=n_capacities): for each
 *   capacity, the hits over @n_records (0 when there are none) that an
 *   empty cache of that capacity would have had over @records
 *
 * Mattson's LRU stack algorithm, by bytes: a request hits at capacity C
 * iff the names used since its name's last request, and itself, take at
 * most C bytes and at most the bookkeeping bound of C. This is exact for
 * fc_cache_lookup(), because its cache is at all times the longest prefix
 * of the recency stack within both bounds: a hit moves a name within the
 * prefix, a miss puts one on top and evicts from the cold end until both
 * fit. Files above the largest entry never enter the stack. It is not
 * exact after an entry is dropped out of LRU order (an error, a stale
 * copy): the real cache then has room the stack does not show, until it
 * fills again; nor when a file of exactly the capacity evicts empty
 * files with everything else. Runs in O(n log n) per distinct set of
 * admitted sizes among @capacities, so at most 64 passes.
 */
void
fc_advisor_simulate (const FcRequestRecord *records,
                     guint                  n_records,
                     guint64                entry_limit,
                     const guint64         *capacities,
                     guint                  n_capacities,
                     double                *ratios)
{
  g_autofree guint *ids = g_new (guint, MAX (n_records, 1));
  g_autofree guint64 *sizes = g_new (guint64, MAX (n_records, 1));
  g_autofree guint64 *hits = g_new0 (guint64, MAX (n_capacities, 1));
  g_autofree guint64 *admitted = g_new0 (guint64, MAX (n_capacities, 1));
  g_autofree gboolean *done = g_new0 (gboolean, MAX (n_capacities, 1));
  g_autofree guint *members = g_new (guint, MAX (n_capacities, 1));
  guint n_names = number_names (records, n_records, ids);
  guint n_sizes = 0;

  /* Capacities that admit the same recorded sizes share the same stack:
   * one pass serves them all. The largest recorded size admitted names
   * the set. */
  for (guint i = 0; i < n_records; i++)
    if (records[i].served)
      sizes[n_sizes++] = records[i].size;
  qsort (sizes, n_sizes, sizeof (guint64), compare_u64);
  for (guint k = 0; k < n_capacities; k++)
    {
      guint64 limit = MIN (capacities[k], entry_limit);
      guint lo = 0, hi = n_sizes;

      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;

          if (sizes[mid] <= limit)
            lo = mid + 1;
          else
            hi = mid;
        }
      admitted[k] = lo > 0 ? sizes[lo - 1] : 0;
      /* Capacity 0 caches nothing, not even empty files. */
      done[k] = capacities[k] == 0 || lo == 0;
    }

  for (guint k = 0; k < n_capacities; k++)
    {
      guint n_members = 0;

      if (done[k])
        continue;
      for (guint j = k; j < n_capacities; j++)
        if (!done[j] && admitted[j] == admitted[k])
          {
            members[n_members++] = j;
            done[j] = TRUE;
          }
      simulate_pass (records, ids, n_records, n_names, admitted[k], capacities,
                     members, n_members, hits);
    }

  for (guint k = 0; k < n_capacities; k++)
    ratios[k] = n_records > 0 ? (double) hits[k] / n_records : 0.0;
}
