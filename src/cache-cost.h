#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the cache counts for the bookkeeping of an entry, and how much of
 * it a capacity allows: shared with the request history, which records
 * each request's cost, and the advisor, which replays those requests
 * against the same bound. */
guint64     fc_cache_entry_cost     (gsize         name_len);
guint64     fc_cache_bookkeeping_bound (guint64    capacity);

G_END_DECLS
