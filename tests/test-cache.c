#include <glib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

static FcFileId
file_id (guint64 ino,
         guint64 size)
{
  return (FcFileId) { .dev = 1, .ino = ino, .size = size, .mtime_ns = 1000, .ctime_ns = 1000 };
}

static GBytes *
content (const char *name,
         guint64     size)
{
  char *data = g_malloc (size);

  for (guint64 i = 0; i < size; i++)
    data[i] = name[i % strlen (name)];
  return g_bytes_new_take (data, size);
}

/* One GET of @name as the server does it: load on a miss, share on a hit. */
static FcLookup
get (FcCache        *cache,
     const char     *name,
     const FcFileId *id,
     GBytes        **out)
{
  g_autoptr(GBytes) bytes = NULL;
  FcCacheLoad *load = NULL;
  FcLookup result = fc_cache_lookup (cache, name, id, FALSE, &bytes, &load, NULL);

  if (result == FC_LOOKUP_LOAD)
    bytes = fc_cache_load_take (cache, load, content (name, id->size));
  if (out != NULL)
    *out = g_steal_pointer (&bytes);
  return result;
}

static void
assert_order (FcCache    *cache,
              const char *expected)
{
  g_autoptr(GArray) list = fc_cache_list (cache);
  g_autoptr(GString) names = g_string_new (NULL);

  for (guint i = 0; i < list->len; i++)
    {
      const FcCacheInfo *info = &g_array_index (list, FcCacheInfo, i);

      g_string_append_printf (names, "%s%s", i > 0 ? " " : "", info->name);
    }
  g_assert_cmpstr (names->str, ==, expected);
}

static void
assert_range (FcCache    *cache,
              guint       offset,
              guint       count,
              const char *expected)
{
  g_autoptr(GArray) list = fc_cache_list_range (cache, offset, count);
  g_autoptr(GString) names = g_string_new (NULL);

  for (guint i = 0; i < list->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? " " : "",
                            g_array_index (list, FcCacheInfo, i).name);
  g_assert_cmpstr (names->str, ==, expected);
}

static void
assert_stats (FcCache *cache,
              guint64  hits,
              guint64  misses,
              guint64  loads,
              guint64  evictions,
              guint64  invalidations,
              guint    entries,
              guint64  size)
{
  FcCacheStats stats;

  fc_cache_get_stats (cache, &stats, NULL, NULL);
  g_assert_cmpuint (stats.hits, ==, hits);
  g_assert_cmpuint (stats.misses, ==, misses);
  g_assert_cmpuint (stats.loads, ==, loads);
  g_assert_cmpuint (stats.evictions, ==, evictions);
  g_assert_cmpuint (stats.invalidations, ==, invalidations);
  g_assert_cmpuint (stats.entries, ==, entries);
  g_assert_cmpuint (stats.size, ==, size);
}

static void
test_lru_order (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (1000);
  FcFileId a = file_id (1, 10), b = file_id (2, 20), c = file_id (3, 30);
  g_autoptr(GArray) list = NULL;

  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "b", &b, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "c", &c, NULL), ==, FC_LOOKUP_LOAD);
  assert_order (cache, "c b a");

  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_READY);
  assert_order (cache, "a c b");
  g_assert_cmpint (get (cache, "b", &b, NULL), ==, FC_LOOKUP_READY);
  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_READY);
  assert_order (cache, "a b c");

  list = fc_cache_list (cache);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 0).hits, ==, 3);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 1).hits, ==, 2);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 2).hits, ==, 1);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 2).size, ==, 30);
  g_assert_cmpint (g_array_index (list, FcCacheInfo, 0).last_use, >=,
                   g_array_index (list, FcCacheInfo, 2).last_use);
  assert_stats (cache, 3, 3, 3, 0, 0, 3, 60);
}

/* Pages of the LRU order, as ListCacheRange serves them. */
static void
test_list_range (void)
{
  static const struct {
    guint offset;
    guint count;
    const char *expected;
  } cases[] = {
    { 0, 2, "e d" },
    { 0, 5, "e d c b a" },
    { 2, G_MAXUINT, "c b a" },
    { 3, 10, "b a" },
    { 4, 1, "a" },
    { 1, 0, "" },
    { 5, 1, "" },
    { G_MAXUINT, G_MAXUINT, "" },
  };
  g_autoptr(FcCache) cache = fc_cache_new (1000);
  const char *names[] = { "a", "b", "c", "d", "e" };
  g_autoptr(GArray) page = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      FcFileId id = file_id (i + 1, 10 * (i + 1));

      g_assert_cmpint (get (cache, names[i], &id, NULL), ==, FC_LOOKUP_LOAD);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_range (cache, cases[i].offset, cases[i].count, cases[i].expected);

  page = fc_cache_list_range (cache, 1, 1);
  g_assert_cmpstr (g_array_index (page, FcCacheInfo, 0).name, ==, "d");
  g_assert_cmpuint (g_array_index (page, FcCacheInfo, 0).size, ==, 40);
  g_assert_cmpuint (g_array_index (page, FcCacheInfo, 0).hits, ==, 1);
}

static void
test_exactly_full (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 40), b = file_id (2, 60);

  get (cache, "a", &a, NULL);
  get (cache, "b", &b, NULL);
  assert_order (cache, "b a");
  assert_stats (cache, 0, 2, 2, 0, 0, 2, 100);
}

static void
test_one_byte_over (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 40), b = file_id (2, 60), c = file_id (3, 1);

  get (cache, "a", &a, NULL);
  get (cache, "b", &b, NULL);
  get (cache, "a", &a, NULL);
  /* b is now the least recently used, so it goes. */
  g_assert_cmpint (get (cache, "c", &c, NULL), ==, FC_LOOKUP_LOAD);
  assert_order (cache, "c a");
  assert_stats (cache, 1, 3, 3, 1, 0, 2, 41);
}

static void
test_equal_to_capacity (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 10), b = file_id (2, 20), big = file_id (3, 100);

  get (cache, "a", &a, NULL);
  get (cache, "b", &b, NULL);
  g_assert_cmpint (get (cache, "big", &big, NULL), ==, FC_LOOKUP_LOAD);
  assert_order (cache, "big");
  assert_stats (cache, 0, 3, 3, 2, 0, 1, 100);
  g_assert_cmpint (get (cache, "big", &big, NULL), ==, FC_LOOKUP_READY);
}

static void
test_larger_than_capacity (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 10), huge = file_id (2, 101);

  get (cache, "a", &a, NULL);
  g_assert_cmpint (get (cache, "huge", &huge, NULL), ==, FC_LOOKUP_BYPASS);
  g_assert_cmpint (get (cache, "huge", &huge, NULL), ==, FC_LOOKUP_BYPASS);
  /* Streaming a huge file must not cost the cache its contents. */
  assert_order (cache, "a");
  assert_stats (cache, 0, 3, 1, 0, 0, 1, 10);
}

static void
test_capacity_zero (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (0);
  FcFileId a = file_id (1, 10), empty = file_id (2, 0);

  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_BYPASS);
  g_assert_cmpint (get (cache, "empty", &empty, NULL), ==, FC_LOOKUP_BYPASS);
  assert_order (cache, "");
  assert_stats (cache, 0, 2, 0, 0, 0, 0, 0);
}

static void
test_empty_file (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (10);
  FcFileId empty = file_id (1, 0);
  g_autoptr(GBytes) bytes = NULL;

  g_assert_cmpint (get (cache, "empty", &empty, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "empty", &empty, &bytes), ==, FC_LOOKUP_READY);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
}

static void
test_evict_while_held (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 50), b = file_id (2, 50), c = file_id (3, 50);
  g_autoptr(GBytes) held_a = NULL;
  g_autoptr(GBytes) held_b = NULL;
  g_autoptr(GBytes) expected_a = content ("a", 50);
  g_autoptr(GBytes) expected_b = content ("b", 50);

  get (cache, "a", &a, &held_a);
  get (cache, "b", &b, &held_b);

  g_assert_true (fc_cache_evict (cache, "a"));
  g_assert_false (fc_cache_evict (cache, "a"));
  g_assert_false (fc_cache_evict (cache, "never"));
  get (cache, "c", &c, NULL);
  g_assert_cmpuint (fc_cache_clear (cache), ==, 2);
  assert_order (cache, "");
  assert_stats (cache, 0, 3, 3, 3, 0, 0, 0);

  /* Under ASan or valgrind a freed buffer here is a report, not luck. */
  g_assert_true (g_bytes_equal (held_a, expected_a));
  g_assert_true (g_bytes_equal (held_b, expected_b));
}

static void
test_refresh_on_change (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId old = file_id (1, 10);
  FcFileId renamed = file_id (2, 10);
  FcFileId grown = file_id (2, 11);
  FcFileId touched = grown;
  FcFileId chmodded = grown;
  g_autoptr(GBytes) held = NULL;

  touched.mtime_ns++;
  chmodded.mtime_ns++;
  chmodded.ctime_ns++;

  get (cache, "f", &old, &held);
  g_assert_cmpint (get (cache, "f", &renamed, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &grown, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &touched, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &chmodded, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &chmodded, NULL), ==, FC_LOOKUP_READY);
  assert_stats (cache, 1, 5, 5, 0, 4, 1, 11);
  g_assert_cmpuint (g_bytes_get_size (held), ==, 10);
}

static void
test_miss_unservable (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 10);

  get (cache, "a", &a, NULL);
  fc_cache_miss (cache, "a", FALSE, FC_EVICT_DELETED);
  fc_cache_miss (cache, "never", FALSE, FC_EVICT_DELETED);
  fc_cache_miss (cache, NULL, FALSE, FC_EVICT_CHANGED);
  assert_order (cache, "");
  assert_stats (cache, 0, 4, 1, 0, 1, 0, 0);
}

/* A GET tried again after its file changed under the first read is
 * still one GET: one miss, though the copy it ends up with counts it. */
static void
test_retry_counted_once (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId old = file_id (1, 10), fresh = file_id (1, 12);
  g_autoptr(GBytes) none = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) shared = NULL;
  g_autoptr(GArray) list = NULL;
  FcCacheLoad *load = NULL;

  g_assert_cmpint (fc_cache_lookup (cache, "f", &old, FALSE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  fc_cache_load_abort (cache, load);
  g_assert_cmpint (fc_cache_lookup (cache, "f", &fresh, TRUE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  bytes = fc_cache_load_take (cache, load, content ("f", 12));
  assert_stats (cache, 0, 1, 1, 0, 0, 1, 12);

  g_assert_cmpint (fc_cache_lookup (cache, "f", &fresh, TRUE, &shared, &load, NULL), ==, FC_LOOKUP_READY);
  fc_cache_miss (cache, "gone", TRUE, FC_EVICT_DELETED);
  assert_stats (cache, 0, 1, 1, 0, 0, 1, 12);
  list = fc_cache_list (cache);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 0).hits, ==, 2);
}

static void
test_set_capacity (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 30), b = file_id (2, 30), c = file_id (3, 30);

  get (cache, "a", &a, NULL);
  get (cache, "b", &b, NULL);
  get (cache, "c", &c, NULL);
  get (cache, "a", &a, NULL);
  fc_cache_set_capacity (cache, 60);
  g_assert_cmpuint (fc_cache_get_capacity (cache), ==, 60);
  assert_order (cache, "a c");
  fc_cache_set_capacity (cache, 0);
  assert_order (cache, "");
  assert_stats (cache, 1, 3, 3, 3, 0, 0, 0);
  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_BYPASS);
  fc_cache_set_capacity (cache, 1000);
  g_assert_cmpint (get (cache, "a", &a, NULL), ==, FC_LOOKUP_LOAD);
}

typedef struct {
  guint landed;
  guint failed;
} Landings;

static void
on_landed (FcFlight *flight,
           gpointer  user_data)
{
  Landings *landings = user_data;

  landings->landed++;
  if (fc_flight_get_error (flight) != NULL)
    landings->failed++;
}

/* @n lookups of "f" while its load is in progress: each is counted, told
 * to wait, never blocked, and joins the load's flight. */
static void
join_waiters (FcCache  *cache,
              guint     n,
              Landings *landings)
{
  for (guint i = 0; i < n; i++)
    {
      FcFileId id = file_id (1, 100);
      g_autoptr(GBytes) none = NULL;
      g_autoptr(FcFlight) flight = NULL;
      FcCacheLoad *load = NULL;

      g_assert_cmpint (fc_cache_lookup (cache, "f", &id, FALSE, &none, &load, &flight), ==, FC_LOOKUP_WAIT);
      g_assert_null (none);
      g_assert_true (fc_flight_join (flight, on_landed, landings));
    }
}

static void
test_single_flight (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (1000);
  FcFileId id = file_id (1, 100);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) none = NULL;
  g_autoptr(GArray) list = NULL;
  Landings landings = { 0, 0 };
  FcCacheLoad *load = NULL;

  g_assert_cmpint (fc_cache_lookup (cache, "f", &id, FALSE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  /* A loading copy is neither listed nor evictable. */
  assert_order (cache, "");
  g_assert_false (fc_cache_evict (cache, "f"));
  g_assert_cmpuint (fc_cache_clear (cache), ==, 0);

  join_waiters (cache, 16, &landings);
  g_assert_cmpuint (landings.landed, ==, 0);
  bytes = fc_cache_load_take (cache, load, content ("f", 100));
  g_assert_cmpuint (landings.landed, ==, 16);
  g_assert_cmpuint (landings.failed, ==, 0);

  /* Each looks again, counted already, and shares the loaded copy. */
  for (guint i = 0; i < 16; i++)
    {
      g_autoptr(GBytes) shared = NULL;

      g_assert_cmpint (fc_cache_lookup (cache, "f", &id, TRUE, &shared, &load, NULL), ==, FC_LOOKUP_READY);
      g_assert_true (shared == bytes);
    }

  assert_stats (cache, 0, 17, 1, 0, 0, 1, 100);
  list = fc_cache_list (cache);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 0).hits, ==, 17);
}

static void
test_single_flight_abort (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (1000);
  FcFileId id = file_id (1, 100);
  g_autoptr(GBytes) none = NULL;
  Landings landings = { 0, 0 };
  FcCacheLoad *load = NULL;

  g_assert_cmpint (fc_cache_lookup (cache, "f", &id, FALSE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  join_waiters (cache, 4, &landings);
  fc_cache_load_abort (cache, load);
  g_assert_cmpuint (landings.landed, ==, 4);
  g_assert_cmpuint (landings.failed, ==, 4);
  assert_stats (cache, 0, 5, 0, 0, 0, 0, 0);
  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_LOAD);
}

static void
test_loads_reserve_capacity (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 60), b = file_id (2, 60), newer = file_id (1, 61);
  g_autoptr(GBytes) none = NULL;
  FcCacheLoad *load = NULL;

  g_assert_cmpint (fc_cache_lookup (cache, "a", &a, FALSE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  /* Two loads in flight may not promise more memory than the capacity. */
  g_assert_cmpint (get (cache, "b", &b, NULL), ==, FC_LOOKUP_BYPASS);
  /* A newer version than the one loading is served from disk, not waited for. */
  g_assert_cmpint (get (cache, "a", &newer, NULL), ==, FC_LOOKUP_BYPASS);
  /* The capacity shrank meanwhile: the load completes but is not kept. */
  fc_cache_set_capacity (cache, 50);
  g_bytes_unref (fc_cache_load_take (cache, load, content ("a", 60)));
  assert_order (cache, "");
  assert_stats (cache, 0, 3, 1, 0, 0, 0, 0);
}

static guint64
max_entry_size (FcCache *cache)
{
  FcCacheStats stats;

  fc_cache_get_stats (cache, &stats, NULL, NULL);
  return stats.max_entry_size;
}

static guint64
pinned (FcCache *cache)
{
  FcCacheStats stats;

  fc_cache_get_stats (cache, &stats, NULL, NULL);
  return stats.pinned;
}

static void
test_max_entry_size_option (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (1000);
  FcFileId over = file_id (1, 101), at = file_id (2, 100);

  g_assert_cmpuint (max_entry_size (cache), ==, 1000);
  fc_cache_set_max_entry_size (cache, 100);
  g_assert_cmpuint (max_entry_size (cache), ==, 100);
  g_assert_cmpint (get (cache, "over", &over, NULL), ==, FC_LOOKUP_BYPASS);
  g_assert_cmpint (get (cache, "at", &at, NULL), ==, FC_LOOKUP_LOAD);
  assert_order (cache, "at");

  /* Never above the capacity, as the capacity goes down and up again. */
  fc_cache_set_capacity (cache, 50);
  g_assert_cmpuint (max_entry_size (cache), ==, 50);
  fc_cache_set_capacity (cache, 5000);
  g_assert_cmpuint (max_entry_size (cache), ==, 100);
  fc_cache_set_max_entry_size (cache, G_MAXUINT64);
  g_assert_cmpuint (max_entry_size (cache), ==, 5000);
}

static guint64
physical_memory (void)
{
  return (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE);
}

/* A capacity larger than memory does not make a file as large as memory
 * (or 64 GiB, a sparse file's typical size) loadable. */
static void
test_max_entry_size_memory (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (G_MAXUINT64);
  FcFileId huge = file_id (1, MAX (G_GUINT64_CONSTANT (64) << 30, physical_memory ()));

  g_assert_cmpuint (max_entry_size (cache), <=, physical_memory () / 4);
  g_assert_cmpint (get (cache, "huge", &huge, NULL), ==, FC_LOOKUP_BYPASS);
  fc_cache_set_capacity (cache, G_MAXUINT64 - 1);
  g_assert_cmpuint (max_entry_size (cache), <=, physical_memory () / 4);
  g_assert_cmpint (get (cache, "huge", &huge, NULL), ==, FC_LOOKUP_BYPASS);
}

static void
test_pinned_while_held (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId a = file_id (1, 40), b = file_id (2, 30);
  GBytes *loader = NULL;
  GBytes *reader = NULL;
  GBytes *held_b = NULL;

  get (cache, "a", &a, &loader);
  get (cache, "a", &a, &reader);
  get (cache, "b", &b, &held_b);
  g_assert_cmpuint (pinned (cache), ==, 0);

  g_assert_true (fc_cache_evict (cache, "a"));
  g_assert_cmpuint (pinned (cache), ==, 40);
  g_bytes_unref (loader);
  g_assert_cmpuint (pinned (cache), ==, 40);
  g_assert_cmpuint (fc_cache_clear (cache), ==, 1);
  g_assert_cmpuint (pinned (cache), ==, 70);
  g_bytes_unref (reader);
  g_assert_cmpuint (pinned (cache), ==, 30);
  g_bytes_unref (held_b);
  g_assert_cmpuint (pinned (cache), ==, 0);
}

typedef struct {
  GMutex lock;
  GCond cond;
  gpointer data;                /* (owned) */
  GThread *freed_by;            /* (nullable) */
} Release;

static void
release_note (gpointer user_data)
{
  Release *release = user_data;

  g_mutex_lock (&release->lock);
  g_clear_pointer (&release->data, g_free);
  release->freed_by = g_thread_self ();
  g_cond_signal (&release->cond);
  g_mutex_unlock (&release->lock);
}

/* Loads a copy of @size bytes, evicts it while held, lets go of it, and
 * returns the thread that freed its memory. */
static GThread *
freed_by (gsize size)
{
  g_autoptr(FcCache) cache = fc_cache_new (size);
  FcFileId id = file_id (1, size);
  FcCacheLoad *load = NULL;
  GBytes *held = NULL;
  Release release = { .data = g_malloc0 (size) };
  GThread *thread;

  g_mutex_init (&release.lock);
  g_cond_init (&release.cond);
  g_assert_cmpint (fc_cache_lookup (cache, "f", &id, FALSE, &held, &load, NULL), ==, FC_LOOKUP_LOAD);
  held = fc_cache_load_take (cache, load,
                             g_bytes_new_with_free_func (release.data, size, release_note, &release));
  g_assert_true (fc_cache_evict (cache, "f"));
  g_assert_cmpuint (pinned (cache), ==, size);
  g_bytes_unref (held);

  g_mutex_lock (&release.lock);
  while (release.freed_by == NULL)
    g_cond_wait (&release.cond, &release.lock);
  thread = release.freed_by;
  g_mutex_unlock (&release.lock);
  /* Counted until its memory was gone, then no more. */
  while (pinned (cache) != 0)
    g_usleep (1000);
  g_mutex_clear (&release.lock);
  g_cond_clear (&release.cond);
  return thread;
}

/* A worker that lets go of a large copy last (a transfer of an evicted
 * copy ends, a lookup drops a stale one) does not unmap it itself: that
 * took 130-200 ms for 2 GiB. A small one is freed at once, where it is. */
static void
test_large_copy_freed_elsewhere (void)
{
  g_assert_true (freed_by (1024 * 1024) == g_thread_self ());
  g_assert_true (freed_by (16 * 1024 * 1024) != g_thread_self ());
}

/* Stalled transfers each holding a different evicted file: past twice
 * the capacity, new files are served from disk rather than loaded. */
static void
test_pinned_bound (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  FcCacheStats stats;
  guint loaded = 0;

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%u", i);
      FcFileId id = file_id (i + 1, 60);
      GBytes *bytes = NULL;

      if (get (cache, name, &id, &bytes) == FC_LOOKUP_LOAD)
        {
          loaded++;
          g_ptr_array_add (held, bytes);
        }
      fc_cache_get_stats (cache, &stats, NULL, NULL);
      g_assert_cmpuint (stats.size + stats.pinned, <=, 200);
    }
  g_assert_cmpuint (loaded, ==, 3);
  g_assert_cmpuint (stats.pinned, ==, 120);

  /* Once the transfers let go, loading resumes. */
  g_ptr_array_set_size (held, 0);
  g_assert_cmpuint (pinned (cache), ==, 0);
  {
    FcFileId id = file_id (10, 60);

    g_assert_cmpint (get (cache, "g", &id, NULL), ==, FC_LOOKUP_LOAD);
  }
}

/* 16,384 names of one empty file (links to "." make them) in a cache of
 * one byte: the names are what costs, and they are bounded. */
static void
test_bookkeeping_bound (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (1);
  FcFileId empty = file_id (1, 0);
  const guint n = 16384;
  g_autoptr(GString) name = g_string_new (NULL);
  g_autoptr(GArray) list = NULL;
  FcCacheStats stats;

  for (guint i = 0; i < n; i++)
    {
      g_string_assign (name, "");
      for (guint j = 0; j < 500; j++)
        g_string_append (name, "./");
      g_string_append_printf (name, "empty-%u", i);
      g_assert_cmpint (get (cache, name->str, &empty, NULL), ==, FC_LOOKUP_LOAD);
    }

  fc_cache_get_stats (cache, &stats, NULL, NULL);
  /* 1 MiB + capacity / 16, and each name costs more than its length. */
  g_assert_cmpuint (stats.entries, >, 0);
  g_assert_cmpuint (stats.entries, <, (1 << 20) / name->len);
  g_assert_cmpuint (stats.evictions, ==, n - stats.entries);
  list = fc_cache_list (cache);
  g_assert_cmpstr (g_array_index (list, FcCacheInfo, 0).name, ==, name->str);
}

static gint64
coarse_now_ns (void)
{
  struct timespec now;

  clock_gettime (CLOCK_REALTIME_COARSE, &now);
  return (gint64) now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Whole-second stamps from a file server's clock ten seconds behind
 * ours: by our clock the ctime looks old, yet the server may stamp that
 * second again. The first GET is served from disk at once, nothing
 * sleeps; once the daemon has seen the identity for the granularity,
 * two seconds, a GET loads it. */
static void
test_racy_foreign_clock (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId id = file_id (1, 10);

  id.ctime_ns = id.mtime_ns = (coarse_now_ns () / 1000000000 - 10) * 1000000000;
  id.foreign = TRUE;

  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_BYPASS);
  assert_order (cache, "");
  g_usleep (2100 * 1000);
  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_READY);
}

/* A ctime ahead of the clock (an image made on a machine with a wrong
 * clock) is never cached, and an admin is told why, once. */
static void
test_racy_future (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  FcFileId id = file_id (1, 10);

  id.ctime_ns = id.mtime_ns = g_get_real_time () * 1000 + 3600 * G_GINT64_CONSTANT (1000000000) + 7;
  g_test_expect_message ("filecached", G_LOG_LEVEL_MESSAGE, "*future*");
  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_BYPASS);
  g_test_assert_expected_messages ();
  g_usleep (20 * 1000);
  g_assert_cmpint (get (cache, "f", &id, NULL), ==, FC_LOOKUP_BYPASS);
  assert_order (cache, "");
}

/* On a filesystem stamping whole seconds, a file changed within the last
 * two seconds is served from disk, not cached yet. */
static void
test_racy_whole_seconds (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (100);
  gint64 second = coarse_now_ns () / 1000000000 * 1000000000;
  FcFileId recent = file_id (1, 10), settled = file_id (1, 10);

  recent.ctime_ns = recent.mtime_ns = second;
  settled.ctime_ns = settled.mtime_ns = second - 3 * G_GINT64_CONSTANT (1000000000);

  g_assert_cmpint (get (cache, "f", &recent, NULL), ==, FC_LOOKUP_BYPASS);
  assert_order (cache, "");
  g_assert_cmpint (get (cache, "f", &settled, NULL), ==, FC_LOOKUP_LOAD);
  g_assert_cmpint (get (cache, "f", &settled, NULL), ==, FC_LOOKUP_READY);
}

static void
collect_evictions (GArray   *evictions,
                   gpointer  user_data)
{
  GString *seen = user_data;

  for (guint i = 0; i < evictions->len; i++)
    {
      const FcEviction *eviction = &g_array_index (evictions, FcEviction, i);

      g_string_append_printf (seen, "%s%s:%s", seen->len > 0 ? " " : "", eviction->name,
                              fc_evict_reason_to_string (eviction->reason));
    }
}

static void
test_evicted_reasons (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (31);
  g_autoptr(GString) seen = g_string_new (NULL);
  FcFileId a = file_id (1, 10), b = file_id (2, 10), c = file_id (3, 10);
  FcFileId d = file_id (4, 10), a2 = file_id (1, 11);
  FcCacheStats stats;

  fc_cache_set_evicted_func (cache, collect_evictions, seen);
  get (cache, "a", &a, NULL);
  get (cache, "b", &b, NULL);
  get (cache, "c", &c, NULL);
  get (cache, "d", &d, NULL);                         /* a makes room */
  fc_cache_evict (cache, "b");
  get (cache, "b", &b, NULL);
  get (cache, "c", &a2, NULL);                        /* c changed */
  fc_cache_miss (cache, "d", FALSE, FC_EVICT_DELETED);
  fc_cache_clear (cache);
  g_assert_cmpstr (seen->str, ==,
                   "a:capacity b:evict c:changed d:deleted b:clear c:clear");
  fc_cache_get_stats (cache, &stats, NULL, NULL);
  g_assert_cmpuint (stats.evictions + stats.invalidations, ==, 6);

  /* Taken away, the function is not called again. */
  fc_cache_set_evicted_func (cache, NULL, NULL);
  get (cache, "a", &a, NULL);
  fc_cache_clear (cache);
  g_assert_cmpstr (seen->str, ==,
                   "a:capacity b:evict c:changed d:deleted b:clear c:clear");
}

static void
test_miss_kinds (void)
{
  g_autoptr(FcCache) cache = fc_cache_new (20);
  FcFileId a = file_id (1, 10), b = file_id (2, 10), c = file_id (3, 10);
  FcFileId b2 = file_id (2, 12);
  FcCacheStats stats;

  get (cache, "a", &a, NULL);                         /* cold */
  get (cache, "b", &b, NULL);                         /* cold */
  get (cache, "c", &c, NULL);                         /* cold; a leaves */
  get (cache, "a", &a, NULL);                         /* evicted; b leaves */
  get (cache, "c", &c, NULL);                         /* hit */
  get (cache, "c", &b2, NULL);                        /* changed: stale copy */
  fc_cache_miss (cache, "c", FALSE, FC_EVICT_DELETED); /* changed: a stale copy */
  get (cache, "c", &c, NULL);                         /* changed: it left as deleted */
  fc_cache_miss (cache, NULL, FALSE, FC_EVICT_CHANGED); /* cold */

  fc_cache_get_stats (cache, &stats, NULL, NULL);
  g_assert_cmpuint (stats.hits, ==, 1);
  g_assert_cmpuint (stats.misses, ==, 8);
  g_assert_cmpuint (stats.misses_cold, ==, 4);
  g_assert_cmpuint (stats.misses_evicted, ==, 1);
  g_assert_cmpuint (stats.misses_changed, ==, 3);
  g_assert_cmpuint (fc_cache_get_history_length (cache), ==, 9);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cache/lru/order", test_lru_order);
  g_test_add_func ("/cache/list/range", test_list_range);
  g_test_add_func ("/cache/capacity/exactly-full", test_exactly_full);
  g_test_add_func ("/cache/capacity/one-byte-over", test_one_byte_over);
  g_test_add_func ("/cache/capacity/file-equal-to-capacity", test_equal_to_capacity);
  g_test_add_func ("/cache/capacity/file-larger-than-capacity", test_larger_than_capacity);
  g_test_add_func ("/cache/capacity/zero", test_capacity_zero);
  g_test_add_func ("/cache/capacity/set-lower", test_set_capacity);
  g_test_add_func ("/cache/empty-file", test_empty_file);
  g_test_add_func ("/cache/evict/while-held", test_evict_while_held);
  g_test_add_func ("/cache/refresh/changed-identity", test_refresh_on_change);
  g_test_add_func ("/cache/refresh/miss-unservable", test_miss_unservable);
  g_test_add_func ("/cache/refresh/retry-counted-once", test_retry_counted_once);
  g_test_add_func ("/cache/single-flight/shared", test_single_flight);
  g_test_add_func ("/cache/single-flight/abort", test_single_flight_abort);
  g_test_add_func ("/cache/load/reserves-capacity", test_loads_reserve_capacity);
  g_test_add_func ("/cache/max-entry-size/option", test_max_entry_size_option);
  g_test_add_func ("/cache/max-entry-size/bounded-by-memory", test_max_entry_size_memory);
  g_test_add_func ("/cache/pinned/while-held", test_pinned_while_held);
  g_test_add_func ("/cache/pinned/bound-bypasses", test_pinned_bound);
  g_test_add_func ("/cache/pinned/large-freed-elsewhere", test_large_copy_freed_elsewhere);
  g_test_add_func ("/cache/bookkeeping/bounded", test_bookkeeping_bound);
  g_test_add_func ("/cache/racy/foreign-clock-behind", test_racy_foreign_clock);
  g_test_add_func ("/cache/racy/future-not-cached-and-told", test_racy_future);
  g_test_add_func ("/cache/evicted/reasons-in-order", test_evicted_reasons);
  g_test_add_func ("/cache/misses/split-by-cause", test_miss_kinds);
  g_test_add_func ("/cache/racy/whole-seconds-not-cached", test_racy_whole_seconds);
  return g_test_run ();
}
