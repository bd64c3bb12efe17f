#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <stdatomic.h>

#include <glib/gi18n.h>

#include "abandon.h"
#include "cache-private.h"

/* Counts the bytes of every cached copy alive, in the cache or only in
 * transfers. Shared by the cache and each copy, since copies may outlive
 * the cache. */
struct _FcCacheTracker {
  gatomicrefcount refs;
  atomic_uint_fast64_t live;    /* (atomic) */
};

/* The user data of a tracked copy: the GBytes whose memory it shares. */
typedef struct {
  GBytes *inner;                /* (owned) */
  Tracker *tracker;             /* (owned) */
} Copy;

void
fc_cache_tracker_unref (Tracker *tracker)
{
  if (g_atomic_ref_count_dec (&tracker->refs))
    g_free (tracker);
}

static void
copy_release (Copy *copy)
{
  gsize size = g_bytes_get_size (copy->inner);

  /* The memory goes first, so that pinned never says less than is held. */
  g_bytes_unref (copy->inner);
  atomic_fetch_sub (&copy->tracker->live, size);
  fc_cache_tracker_unref (copy->tracker);
  g_free (copy);
}

/* A copy this large is given back to the system by the releaser thread,
 * never by whoever let go of it last: that is a worker when a transfer of
 * an evicted copy ends, or when a lookup evicts or drops a copy no
 * transfer holds. Unmapping 2 GiB of touched pages took 130-200 ms on
 * this project's 2-core machine, and every connection of that worker
 * waited as long. 16 MiB takes about 1 ms. */
#define RELEASE_AWAY (16 * 1024 * 1024)

/* Freeing runs as long work (fc_long_work_thread_enter()): it may wait
 * for the workers' spare cycles; pinned counts the memory until it is
 * gone, so new loads are refused meanwhile rather than memory
 * overcommitted. */
static GThreadPool *releaser;   /* (owned): one thread, made with the first cache, for the process's life */

static void
release_run (gpointer data,
             gpointer user_data G_GNUC_UNUSED)
{
  fc_long_work_thread_enter ();
  copy_release (data);
}

static void
pool_free_now (GThreadPool *pool)
{
  g_thread_pool_free (pool, TRUE, FALSE);
}

/* Made at start, as every thread of the daemon is; without it (no thread
 * could be made) copies are freed where they are let go, as before. */
static void
releaser_init (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      g_autoptr(GError) error = NULL;

      releaser = g_thread_pool_new (release_run, NULL, 1, TRUE, &error);
      /* GLib 2.74 returns an exclusive pool with no thread, and the error
       * set, when it cannot make one: such a pool would never free. */
      if (releaser != NULL && error != NULL)
        g_clear_pointer (&releaser, pool_free_now);
      if (releaser == NULL)
        g_warning (_("Cannot start the thread that frees large copies: %s"), error->message);
      g_once_init_leave (&done, 1);
    }
}

/* (transfer full): a tracker of no copies yet; the first one made
 * starts the releaser. */
Tracker *
fc_cache_tracker_new (void)
{
  Tracker *tracker = g_new0 (Tracker, 1);

  releaser_init ();
  g_atomic_ref_count_init (&tracker->refs);
  return tracker;
}

static void
copy_free (gpointer data)
{
  Copy *copy = data;

  if (releaser != NULL && g_bytes_get_size (copy->inner) >= RELEASE_AWAY)
    {
      /* GLib 2.74 queues the job even when it says it failed. */
      g_thread_pool_push (releaser, copy, NULL);
      return;
    }
  copy_release (copy);
}

/* (transfer full): a GBytes sharing @inner's memory, counted in live for
 * as long as anyone holds it. Takes @inner. */
GBytes *
fc_cache_tracked_copy (Tracker *tracker,
                       GBytes  *inner)
{
  Copy *copy = g_new (Copy, 1);
  gsize size;
  gconstpointer data = g_bytes_get_data (inner, &size);

  copy->inner = inner;
  copy->tracker = tracker;
  g_atomic_ref_count_inc (&tracker->refs);
  atomic_fetch_add (&tracker->live, size);
  return g_bytes_new_with_free_func (data, size, copy_free, copy);
}

/* Bytes of copies no longer in the cache but still held by transfers.
 * Every ready entry holds its copy, so live never falls below size. */
guint64
fc_cache_pinned (FcCache *cache)
{
  return atomic_load (&cache->tracker->live) - cache->size;
}

/* Whether a load of @size bytes may start now without the memory held
 * for cached content (size, reserved, pinned) passing twice the
 * capacity: beyond it, evicting more would only pin more. */
gboolean
fc_cache_memory_allows (FcCache *cache,
                        guint64  size)
{
  guint64 bound = cache->capacity > G_MAXUINT64 / 2 ? G_MAXUINT64 : 2 * cache->capacity;
  guint64 held = cache->size + cache->reserved + fc_cache_pinned (cache);

  return held <= bound && size <= bound - held;
}

