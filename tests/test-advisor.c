#include <glib.h>
#include <string.h>

#include "advisor.h"
#include "cache.h"
#include "zipf.h"

/* How many requests each random stream makes: enough for every capacity
 * below to evict often, few enough for a sanitizer build. */
#define STREAM_LENGTH 20000

typedef struct {
  guint n_names;
  double name_exponent;
  guint size_step;        /* sizes are multiples of it, Zipf-drawn ranks */
  double size_exponent;
  guint32 seed;
} Stream;

/* The largest entry the replayed caches take: some files go past it. */
#define ENTRY_LIMIT (96 * 1024)

static void
replay (FcCache     *cache,
        const char **names,
        const guint64 *sizes,
        const guint *order,
        guint        n)
{
  for (guint i = 0; i < n; i++)
    {
      FcFileId id = { .dev = 1, .ino = order[i] + 1, .size = sizes[order[i]],
                      .mtime_ns = 1000, .ctime_ns = 1000 };
      g_autoptr(GBytes) bytes = NULL;
      FcCacheLoad *load = NULL;

      if (fc_cache_lookup (cache, names[order[i]], &id, FALSE, &bytes, &load, NULL) == FC_LOOKUP_LOAD)
        {
          GBytes *taken = fc_cache_load_take (cache, load,
                                              g_bytes_new_take (g_malloc0 (id.size), id.size));

          g_clear_pointer (&taken, g_bytes_unref);
        }
    }
}

/* The ground truth is the cache itself: each capacity's hit ratio as
 * measured by replaying the same stream through fc_cache_lookup(). */
static void
check_stream (const Stream  *stream,
              const guint64 *capacities,
              guint          n_capacities)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (stream->seed);
  g_autoptr(FcbZipf) name_zipf = fcb_zipf_new (stream->n_names, stream->name_exponent);
  g_autoptr(FcbZipf) size_zipf = fcb_zipf_new (1000, stream->size_exponent);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree guint64 *sizes = g_new (guint64, stream->n_names);
  g_autofree guint *order = g_new (guint, STREAM_LENGTH);
  g_autofree double *ratios = g_new (double, n_capacities);
  g_autofree double *measured = g_new (double, n_capacities);

  for (guint i = 0; i < stream->n_names; i++)
    {
      /* Names of several lengths: the bookkeeping counts them. */
      g_ptr_array_add (names, g_strdup_printf ("dir-%u/%*u", i % 7, (int) (i % 40), i));
      sizes[i] = (guint64) (fcb_zipf_sample (size_zipf, g_rand_double (rand)) + 1) * stream->size_step;
    }
  for (guint i = 0; i < STREAM_LENGTH; i++)
    order[i] = fcb_zipf_sample (name_zipf, g_rand_double (rand));

  for (guint k = 0; k < n_capacities; k++)
    {
      g_autoptr(FcCache) cache = fc_cache_new (capacities[k]);
      FcCacheStats stats;

      fc_cache_set_max_entry_size (cache, ENTRY_LIMIT);
      replay (cache, (const char **) names->pdata, sizes, order, STREAM_LENGTH);
      fc_cache_get_stats (cache, &stats, NULL, NULL);
      g_assert_cmpuint (stats.hits + stats.misses, ==, STREAM_LENGTH);
      g_assert_cmpuint (fc_cache_get_history_length (cache), ==, STREAM_LENGTH);
      measured[k] = (double) stats.hits / STREAM_LENGTH;
      /* Every replay's history is the same stream: the first one's
       * stands for all. */
      if (k == 0)
        fc_cache_simulate (cache, capacities, n_capacities, ratios);
    }

  for (guint k = 0; k < n_capacities; k++)
    {
      g_test_message ("capacity %" G_GUINT64_FORMAT ": measured %.4f, simulated %.4f",
                      capacities[k], measured[k], ratios[k]);
      g_assert_cmpfloat_with_epsilon (ratios[k], measured[k], 1e-9);
    }
}

static void
test_matches_replay_sizes (void)
{
  /* Capacity is the binding bound; 16 KiB and 64 KiB also turn away
   * files above them, 1 MiB files above ENTRY_LIMIT. */
  const Stream stream = { 3000, 0.9, 97, 1.1, 7 };
  const guint64 capacities[] = { 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024 };

  check_stream (&stream, capacities, G_N_ELEMENTS (capacities));
}

static void
test_matches_replay_bookkeeping (void)
{
  /* Thousands of tiny files: the bookkeeping bound (1 MiB + capacity /
   * 16, some 250 bytes an entry) binds before the capacity does. */
  const Stream stream = { 12000, 0.7, 3, 1.0, 11 };
  const guint64 capacities[] = { 512 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024 };

  check_stream (&stream, capacities, G_N_ELEMENTS (capacities));
}

static void
test_capacity_zero (void)
{
  g_autoptr(FcHistory) history = fc_history_new (16);
  g_autoptr(GArray) records = NULL;
  const guint64 capacities[] = { 0, 1 };
  double ratios[2];

  /* Empty files, asked for twice: capacity 1 holds them, 0 nothing. */
  for (guint i = 0; i < 4; i++)
    fc_history_record (history, i % 2 ? "a" : "b", 0, TRUE);
  records = fc_history_copy (history);
  fc_advisor_simulate ((const FcRequestRecord *) (gpointer) records->data, records->len,
                       G_MAXUINT64, capacities, 2, ratios);
  g_assert_cmpfloat (ratios[0], ==, 0.0);
  g_assert_cmpfloat (ratios[1], ==, 0.5);
}

static void
test_errors_miss (void)
{
  g_autoptr(FcHistory) history = fc_history_new (16);
  g_autoptr(GArray) records = NULL;
  const guint64 capacity = 100;
  double ratio;

  /* a, a (hit), a as a 404 (a miss that drops it), a (a miss again). */
  fc_history_record (history, "a", 10, TRUE);
  fc_history_record (history, "a", 10, TRUE);
  fc_history_record (history, "a", 0, FALSE);
  fc_history_record (history, "a", 10, TRUE);
  records = fc_history_copy (history);
  fc_advisor_simulate ((const FcRequestRecord *) (gpointer) records->data, records->len,
                       G_MAXUINT64, &capacity, 1, &ratio);
  g_assert_cmpfloat (ratio, ==, 0.25);
}

static void
test_history_bounded (void)
{
  g_autoptr(FcHistory) history = fc_history_new (3);
  g_autoptr(GArray) records = NULL;

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%u", i);

      fc_history_record (history, name, i, TRUE);
    }
  g_assert_cmpuint (fc_history_get_length (history), ==, 3);
  records = fc_history_copy (history);
  g_assert_cmpuint (records->len, ==, 3);
  /* The oldest are forgotten; the rest stay in order. */
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_array_index (records, FcRequestRecord, i).size, ==, i + 2);
}

static void
test_departure_window (void)
{
  g_autoptr(FcHistory) history = fc_history_new (4);

  fc_history_depart (history, "gone", FC_MISS_CHANGED);
  fc_history_depart (history, "dropped", FC_MISS_EVICTED);
  g_assert_cmpint (fc_history_classify_miss (history, "gone"), ==, FC_MISS_CHANGED);
  g_assert_cmpint (fc_history_classify_miss (history, "dropped"), ==, FC_MISS_EVICTED);
  g_assert_cmpint (fc_history_classify_miss (history, "other"), ==, FC_MISS_COLD);

  /* Once the history has moved on by its length, the departure is old. */
  for (guint i = 0; i < 5; i++)
    fc_history_record (history, "other", 1, TRUE);
  g_assert_cmpint (fc_history_classify_miss (history, "gone"), ==, FC_MISS_COLD);

  /* And at most length departures are remembered. */
  fc_history_depart (history, "first", FC_MISS_EVICTED);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("later%u", i);

      fc_history_depart (history, name, FC_MISS_EVICTED);
    }
  g_assert_cmpint (fc_history_classify_miss (history, "first"), ==, FC_MISS_COLD);
  g_assert_cmpint (fc_history_classify_miss (history, "later0"), ==, FC_MISS_EVICTED);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/advisor/simulate/matches-lru-replay", test_matches_replay_sizes);
  g_test_add_func ("/advisor/simulate/matches-lru-replay-bookkeeping", test_matches_replay_bookkeeping);
  g_test_add_func ("/advisor/simulate/capacity-zero", test_capacity_zero);
  g_test_add_func ("/advisor/simulate/errors-miss", test_errors_miss);
  g_test_add_func ("/advisor/history/bounded", test_history_bounded);
  g_test_add_func ("/advisor/history/departure-window", test_departure_window);

  return g_test_run ();
}
