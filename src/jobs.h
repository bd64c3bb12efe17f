#pragma once

#include <stdatomic.h>

#include <glib.h>

#include "cache.h"
#include "digest.h"
#include "flight.h"

G_BEGIN_DECLS

/* The bounded pool where long work runs, so that no worker thread ever
 * waits for it: hashing a version, loading a large file into the cache,
 * listing a large directory. Each job ends its digest job or cache load,
 * which lands the flight its requests joined, or lands its listing's
 * flight itself. */
typedef struct _FcJobs FcJobs;

/* Work on at most this many bytes stays on the worker: a hash or a load
 * of 1 MiB costs about 3 ms (SHA-256 at 300-400 MB/s, a copy from the
 * page cache at several GB/s), less than a hand-off to the pool and back
 * costs a request that waits behind it. */
#define FC_JOBS_INLINE_MAX (1024 * 1024)

/* A job reads (and hashes) this much between two looks at
 * fc_long_work_abandoned(): 3 ms or so. */
#define FC_JOBS_SLICE (1024 * 1024)

FcJobs *fc_jobs_new         (guint            n_threads,
                             GError         **error);
void    fc_jobs_hash_file   (FcJobs          *jobs,
                             FcDigests       *digests,
                             FcDigestJob     *job,
                             int              fd,
                             const FcFileId  *id);
void    fc_jobs_hash_bytes  (FcJobs          *jobs,
                             FcDigests       *digests,
                             FcDigestJob     *job,
                             GBytes          *bytes);
void    fc_jobs_load        (FcJobs          *jobs,
                             FcCache         *cache,
                             FcCacheLoad     *load,
                             int              fd,
                             const FcFileId  *id);
void    fc_jobs_list        (FcJobs          *jobs,
                             FcFlight        *flight,
                             int              root_fd,
                             int              dir_fd,
                             const char      *name,
                             gboolean         json,
                             atomic_size_t   *listing_held,
                             guint64          dir_size);
void    fc_jobs_free        (FcJobs          *jobs);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcJobs, fc_jobs_free)

G_END_DECLS
