#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How the kernel should schedule each kind of the daemon's threads: the
 * length of the time slice each asks for, so that a worker woken by a
 * request runs at once, while threads that move bulk data keep their
 * share of the processors but give way on every such wake-up. */

/* What a thread does, for its time slice. */
typedef enum {
  FC_THREAD_WORKER,             /* answers requests: short runs, latency bound */
  FC_THREAD_BULK,               /* sends large replies: long runs, throughput bound */
} FcThreadKind;

/* Slices asked for, in nanoseconds; see src/thread-sched.c for why. */
#define FC_THREAD_WORKER_SLICE_NS (100 * 1000)
#define FC_THREAD_BULK_SLICE_NS (20 * 1000 * 1000)

void    fc_thread_sched_enter (FcThreadKind kind);
guint64 fc_thread_slice       (int          tid);

G_END_DECLS
