#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "advisor.h"
#include "cache-cost.h"

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
