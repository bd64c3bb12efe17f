#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread-sched.h"

/* The kernel's struct sched_attr as first published (SCHED_ATTR_SIZE_VER0,
 * 48 bytes), which every later kernel accepts: glibc 2.36 has no wrapper,
 * and <linux/sched/types.h> clashes with <sched.h>. */
typedef struct {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
} SchedAttr;

/* Why slices. With EEVDF (Linux 6.6 on), a fair thread's deadline is its
 * virtual runtime plus its slice, and since 6.12 a thread may ask for its
 * own slice (sched_setattr(2), sched_runtime, 0.1 to 100 ms; the default
 * is 0.7 ms times 1 + log2 of the processors, 1.4 ms on 2). A thread
 * that wakes with a shorter slice than the running one's preempts it
 * (PREEMPT_SHORT), and the shortest slice queued in a group (an
 * autogroup, a service's cgroup) is the group's. Measured under
 * bench/pressure with `perf sched timehist`: a late probe's worker was
 * never off the processor on a lock or a fault, only runnable and not
 * running, 20-60 ms at a time, behind a bulk sender at the same nice (a
 * run of 88 ms), the pool's threads at nice 10 (runs of 30 ms) and other
 * processes. A worker runs tens of microseconds per wake-up: it asks for
 * the shortest slice. A bulk sender asks for a long one, so that every
 * thread with the default slice (a client of this machine, a worker of
 * another process) also goes before it when it wakes, while the sender's
 * share of the processors, set by its weight (nice 0, as README says
 * why), is unchanged, and it runs longer stretches when nobody waits.
 * Neither needs a privilege; an older kernel ignores sched_runtime for a
 * fair thread. */

/**
 * fc_thread_sched_enter:
 * @kind: what the calling thread does
 *
 * Asks the kernel for the time slice of @kind for the calling thread
 * (%FC_THREAD_WORKER_SLICE_NS, %FC_THREAD_BULK_SLICE_NS), keeping its
 * policy and nice value; only a thread under the fair policies
 * (SCHED_OTHER, SCHED_BATCH) is changed. Call it once, at the start of
 * the thread. A failure (a seccomp filter such as the shipped unit's
 * `~@resources`, a kernel without sched_setattr(2)) only leaves the
 * default slice, logged with g_debug().
 */
void
fc_thread_sched_enter (FcThreadKind kind)
{
  SchedAttr attr = { 0 };

  if (syscall (SYS_sched_getattr, 0, &attr, (unsigned int) sizeof attr, 0U) != 0)
    {
      g_debug ("Cannot read the scheduling of a thread: %s", g_strerror (errno));
      return;
    }
  if (attr.sched_policy != SCHED_OTHER && attr.sched_policy != SCHED_BATCH)
    return;
  attr.size = sizeof attr;
  attr.sched_flags = 0;
  attr.sched_runtime = kind == FC_THREAD_WORKER ? FC_THREAD_WORKER_SLICE_NS : FC_THREAD_BULK_SLICE_NS;
  if (syscall (SYS_sched_setattr, 0, &attr, 0U) != 0)
    g_debug ("Cannot set the time slice of a thread: %s", g_strerror (errno));
}

/**
 * fc_thread_slice:
 * @tid: a thread's id, or 0 for the calling thread
 *
 * Returns: the time slice the kernel gives thread @tid, in nanoseconds;
 *   0 when it cannot be read, or the kernel says none (before Linux 6.6)
 */
guint64
fc_thread_slice (int tid)
{
  SchedAttr attr = { 0 };

  if (syscall (SYS_sched_getattr, tid, &attr, (unsigned int) sizeof attr, 0U) != 0)
    return 0;
  return attr.sched_runtime;
}
