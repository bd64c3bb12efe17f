#pragma once

#include <stdatomic.h>

#include <glib.h>

#include "cache.h"
#include "digest.h"

G_BEGIN_DECLS

/* What every part of serving connections shares: set up by the server
 * before its workers start, read-only after that but for the counters. */
typedef struct {
  int root_fd;                  /* (unowned): O_PATH, the served directory */
  FcCache *cache;               /* (unowned) */
  FcDigests *digests;           /* (owned) */
  gint64 request_timeout;       /* µs */
  gint64 idle_timeout;          /* µs */
  gint64 send_timeout;          /* µs */
  gboolean debug;               /* per-request g_debug() output is wanted */

  atomic_uint_fast64_t requests;
  atomic_uint_fast64_t errors;
  atomic_uint_fast64_t bytes_sent;
  atomic_uint clients;          /* connections open now */
  atomic_size_t listing_bytes;  /* LIST replies held by connections */
} FcServeContext;

/* The most bytes of LIST replies held at once, by all connections. */
#define FC_LISTING_BUDGET (64u * 1024 * 1024)

/* GLib 2.74 formats a debug message before deciding to drop it: on the
 * hot path, ask once whether anyone listens. */
#define FC_REQUEST_DEBUG(context, ...) \
  G_STMT_START { if (G_UNLIKELY ((context)->debug)) g_debug (__VA_ARGS__); } G_STMT_END

G_END_DECLS
