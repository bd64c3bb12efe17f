#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "cache-cost.h"
#include "cache-private.h"

/* What an entry costs besides its struct and its name: the hash table's
 * slot, the tracked copy's GBytes and Copy, and allocator headers. An
 * estimate, on the high side. */
#define ENTRY_OVERHEAD 128

/* The bound on bookkeeping is this plus a sixteenth of the capacity: a
 * cache of 1 byte still holds thousands of names of empty files, and
 * none grows without bound. */
#define BOOKKEEPING_BASE (G_GUINT64_CONSTANT (1) << 20)

/**
 * fc_cache_entry_cost:
 * @name_len: the length of a name, in bytes
 *
 * Returns: the bookkeeping bytes an entry of such a name is counted as
 */
guint64
fc_cache_entry_cost (gsize name_len)
{
  return sizeof (Entry) + name_len + 1 + ENTRY_OVERHEAD;
}

/**
 * fc_cache_bookkeeping_bound:
 * @capacity: a capacity in bytes
 *
 * Returns: the most bookkeeping bytes a cache of @capacity holds; least
 *   recently used entries are evicted past it
 */
guint64
fc_cache_bookkeeping_bound (guint64 capacity)
{
  return BOOKKEEPING_BASE + capacity / 16;
}
