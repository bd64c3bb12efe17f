#pragma once

#include <stdatomic.h>

#include <glib.h>

#include "access-log.h"
#include "cache.h"
#include "digest.h"
#include "jobs.h"
#include "mime.h"
#include "watch.h"

G_BEGIN_DECLS

/* What every part of serving connections shares: set up by the server
 * before its workers start, read-only after that but for the counters
 * and the settings a reload may change (atomic). */
typedef struct {
  int root_fd;                  /* (unowned): O_PATH, the served directory */
  FcCache *cache;               /* (unowned) */
  FcDigests *digests;           /* (owned) */
  FcWatch *watch;               /* (owned) (nullable): without it, every hit takes a stat() */
  FcJobs *jobs;                 /* (owned) (nullable): set while serving */
  FcMimeTable *mime;            /* (owned): Content-Type by extension; atomic, a reload
                                 * swaps it (fc_server_reload_mime()) */
  FcAccessLog *access_log;      /* (owned): written to while access_log_on */
  atomic_bool http;             /* the HTTP dialect is on (HTTP.md, `--no-http`) */
  atomic_bool index;            /* HTTP lists directories (`--index`) */
  atomic_int_fast64_t request_timeout;  /* µs */
  atomic_int_fast64_t idle_timeout;     /* µs */
  atomic_int_fast64_t send_timeout;     /* µs */
  atomic_bool debug;            /* per-request g_debug() output is wanted */
  atomic_bool access_log_on;    /* HTTP requests are logged (`--access-log`) */

  atomic_uint_fast64_t requests;
  atomic_uint_fast64_t requests_http;   /* of those, in the HTTP dialect */
  atomic_uint_fast64_t errors;
  atomic_uint_fast64_t bytes_sent;
  atomic_uint clients;          /* connections open now */
  atomic_uint max_clients;      /* connections open at once at most; beyond, refused */
  atomic_uint_fast64_t clients_total;   /* connections admitted ever */
  atomic_size_t listing_bytes;  /* listings made or held by connections (listing-budget.h) */
} FcServeContext;


/* GLib 2.74 formats a debug message before deciding to drop it: on the
 * hot path, ask once whether anyone listens. */
#define FC_REQUEST_DEBUG(context, ...) \
  G_STMT_START { \
    if (G_UNLIKELY (atomic_load_explicit (&(context)->debug, memory_order_relaxed))) \
      g_debug (__VA_ARGS__); \
  } G_STMT_END

/* A setting a reload may change: any recent value will do, so no
 * ordering is paid for on the hot path. */
#define FC_SETTING_LOAD(context, field) \
  atomic_load_explicit (&(context)->field, memory_order_relaxed)

G_END_DECLS
