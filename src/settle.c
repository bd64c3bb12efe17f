#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <inttypes.h>
#include <sys/vfs.h>
#include <time.h>

#include <glib/gi18n.h>

#include "ratelimit.h"
#include "settle.h"

#define NSEC_PER_SEC G_GINT64_CONSTANT (1000000000)

/* The longest tick of a kernel's coarse clock, which stamps files: HZ is
 * at least 100. A filesystem whose stamps carry nanoseconds may still
 * be stamped from such a clock, on this machine or on a server. */
#define COARSE_TICK_NS (10 * G_GINT64_CONSTANT (1000000))

/* Where no lease can prove that nobody writes, a version is trusted once
 * its identity has held for long enough that a write() that began at its
 * ctime has ended: a write stamps ctime when it begins (file_modified()
 * in generic_perform_write()), then copies at page-cache speed, or at
 * disk speed when dirty pages are throttled (balance_dirty_pages()).
 * 32 MiB/s is a slow disk's; a single write() moves at most 2 GiB
 * (MAX_RW_COUNT), so the wait never exceeds 64 s plus a tick. */
#define SETTLE_BYTES_PER_SEC (G_GINT64_CONSTANT (32) << 20)
#define MAX_RW_COUNT (G_GINT64_CONSTANT (0x7ffff000))

/* How far a file server's clock may be behind this one's, for the rule
 * that trusts a ctime by its age: past it, the age of a ctime stamped
 * by another clock is trusted only by when this daemon first saw it. */
#define FOREIGN_SKEW_NS (60 * NSEC_PER_SEC)

/* When the daemon first saw each recent identity: two ways of 4096
 * slots, about 400 KiB. A forgotten identity is seen anew, which only
 * delays trust in it. */
#define SEEN_SETS 4096
#define SEEN_WAYS 2

typedef struct {
  FcFileId id;                  /* the identity; dev 0 and ino 0 when free */
  gint64 first_seen_us;         /* g_get_monotonic_time() */
  gboolean future_told;         /* its future ctime was logged */
} Seen;

/* Process-wide, like the clocks the rule reads: one file is one file for
 * every cache and every read. */
static GMutex seen_lock;
static Seen seen[SEEN_SETS][SEEN_WAYS];  /* guarded by seen_lock */

/**
 * fc_settle_probe_fs:
 * @id: (inout): the identity of @fd, whose `foreign` it sets
 * @fd: an open file
 *
 * Tells whether @fd's filesystem is stamped by another machine's clock
 * or written by other machines (network and FUSE filesystems, by
 * fstatfs() f_type): then neither this machine's clock nor a lease here
 * says anything about its writes. An unknown type is taken as local: it
 * costs one fstatfs() per opened file, and a failed one says foreign.
 */
void
fc_settle_probe_fs (FcFileId *id,
                    int       fd)
{
  /* From linux/magic.h and the filesystems' sources. */
  static const guint64 foreign[] = {
    0x6969,      /* NFS */
    0x517b,      /* SMB */
    0xff534d42,  /* CIFS */
    0xfe534d42,  /* SMB2 */
    0x65735546,  /* FUSE: sshfs, s3fs, virtiofs, glusterfs */
    0x01021997,  /* 9P */
    0x00c36400,  /* Ceph */
    0x5346414f,  /* AFS */
    0x6b414653,  /* kAFS */
    0x73757245,  /* Coda */
    0x7461636f,  /* OCFS2 */
    0x01161970,  /* GFS2 */
    0x13661366,  /* OrangeFS */
    0x0bd00bd0,  /* Lustre */
    0x47504653,  /* GPFS */
  };
  struct statfs fs;

  id->foreign = TRUE;
  if (fstatfs (fd, &fs) != 0)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (foreign); i++)
    if ((guint64) (guint32) fs.f_type == foreign[i])
      return;
  id->foreign = FALSE;
}

/**
 * fc_settle_granularity:
 * @ctime_ns: a ctime, in nanoseconds since the epoch
 *
 * The coarsest timestamp step @ctime_ns is consistent with: the largest
 * power of ten dividing its nanoseconds, and two seconds for whole
 * seconds (FAT counts in twos). On a nanosecond filesystem this is
 * nanoseconds, but for one stamp in ten million, which only delays
 * trust a little.
 *
 * Returns: the step, in nanoseconds
 */
gint64
fc_settle_granularity (gint64 ctime_ns)
{
  gint64 nsec = ctime_ns % NSEC_PER_SEC;
  gint64 granularity = 1;

  if (nsec < 0)
    nsec += NSEC_PER_SEC;
  if (nsec == 0)
    return 2 * NSEC_PER_SEC;
  while (nsec % (granularity * 10) == 0)
    granularity *= 10;
  return granularity;
}

/* Whether a change stamped from this machine's coarse clock at
 * @coarse_ns would give @id's file another ctime. */
static gboolean
tick_passed (const FcFileId *id,
             gint64          coarse_ns)
{
  return id->ctime_ns + fc_settle_granularity (id->ctime_ns) <= coarse_ns;
}

/* How long an identity must have been seen before the filesystem's own
 * clock, whatever its offset from ours, has left its ctime's tick: one
 * tick of the coarsest clock it can be stamped by. */
static gint64
tick_of (const FcFileId *id)
{
  return MAX (fc_settle_granularity (id->ctime_ns), COARSE_TICK_NS);
}

static gboolean
seen_for (const FcSettleClocks *clocks,
          gint64                ns)
{
  return (clocks->monotonic_us - clocks->first_seen_us) * 1000 >= ns;
}

/**
 * fc_settle_cacheable:
 * @id: a file's identity, as stat() gave it
 * @clocks: the clocks now
 *
 * The racy-entry rule (git's "racily clean" entries): a copy may be kept
 * under @id only if any change from now on moves ctime, else a rewrite
 * of the same length within ctime's tick would leave the copy stale for
 * good. Either of two proofs:
 * - the daemon saw @id at least one tick ago (by its monotonic clock):
 *   the filesystem's clock, whatever its offset, had stamped ctime by
 *   then, so it has left that tick now;
 * - on a local filesystem, stamped from this machine's coarse clock,
 *   ctime is at least one granularity behind that clock now.
 * mtime is left out on purpose: it may be set anywhere (touch -d), and a
 * change moves ctime anyway. A ctime ahead of the real-time clock was
 * stamped by a clock this rule knows nothing of: never trusted.
 *
 * Returns: the verdict
 */
FcSettle
fc_settle_cacheable (const FcFileId       *id,
                     const FcSettleClocks *clocks)
{
  if (id->ctime_ns > clocks->real_ns)
    return FC_SETTLE_FUTURE;
  if (!id->foreign && tick_passed (id, clocks->coarse_ns))
    return FC_SETTLE_TRUSTED;
  return seen_for (clocks, tick_of (id)) ? FC_SETTLE_TRUSTED : FC_SETTLE_NOT_YET;
}

/**
 * fc_settle_readable:
 * @id: a file's identity, as stat() gave it
 * @clocks: the clocks now
 *
 * Where no lease tells whether anyone is writing, whether bytes read now
 * and found under the same identity after can be of one version: only
 * if any write() under way when the read begins began long enough ago to
 * have ended, at SETTLE_BYTES_PER_SEC for the file's size. By the
 * daemon's monotonic clock from when it first saw @id, or by ctime's
 * age on this machine's clock, allowing FOREIGN_SKEW_NS when another
 * clock stamped it. It cannot see a writer through a shared mapping,
 * whose stores stamp no ctime once a page is dirty.
 *
 * Returns: %FC_SETTLE_TRUSTED or %FC_SETTLE_NOT_YET
 */
FcSettle
fc_settle_readable (const FcFileId       *id,
                    const FcSettleClocks *clocks)
{
  gint64 write_ns = (gint64) MIN (id->size, (guint64) MAX_RW_COUNT) * NSEC_PER_SEC /
                    SETTLE_BYTES_PER_SEC;
  gint64 settle_ns = tick_of (id) + write_ns;
  gint64 skew_ns = id->foreign ? FOREIGN_SKEW_NS : 0;

  if (seen_for (clocks, settle_ns) || id->ctime_ns + settle_ns + skew_ns <= clocks->real_ns)
    return FC_SETTLE_TRUSTED;
  return FC_SETTLE_NOT_YET;
}

static gint64
clock_ns (clockid_t clock)
{
  struct timespec now;

  clock_gettime (clock, &now);
  return (gint64) now.tv_sec * NSEC_PER_SEC + now.tv_nsec;
}

/**
 * fc_settle_clocks_now:
 * @clocks: (out caller-allocates): the clocks now, the identity judged
 *   taken as first seen now
 *
 * Reads the clocks only: no rule is stricter for an identity seen
 * earlier, so a verdict of TRUSTED on these needs no table.
 */
void
fc_settle_clocks_now (FcSettleClocks *clocks)
{
  clocks->coarse_ns = clock_ns (CLOCK_REALTIME_COARSE);
  clocks->real_ns = clock_ns (CLOCK_REALTIME);
  clocks->monotonic_us = g_get_monotonic_time ();
  clocks->first_seen_us = clocks->monotonic_us;
}

/**
 * fc_settle_tick_passed:
 * @id: the identity of a file on a local filesystem
 *
 * Whether any change from now on gives the file another ctime: this
 * machine's coarse clock, which stamps it, has left ctime's tick. Costs
 * one vDSO clock read. Any thread.
 *
 * Returns: %FALSE while a change could keep @id, or its ctime is ahead
 */
gboolean
fc_settle_tick_passed (const FcFileId *id)
{
  return tick_passed (id, clock_ns (CLOCK_REALTIME_COARSE));
}

static guint
seen_set (const FcFileId *id)
{
  guint64 h = id->ino * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) ^ id->dev;

  return (guint) ((h >> 32) % SEEN_SETS);
}

/* The slot of @id, made when missing (in place of the way seen longest
 * ago); the lock is held. */
static Seen *
seen_find (const FcFileId *id,
           gint64          now_us)
{
  Seen *ways = seen[seen_set (id)];
  Seen *oldest = &ways[0];

  for (guint i = 0; i < SEEN_WAYS; i++)
    {
      if (fc_file_id_equal (&ways[i].id, id))
        return &ways[i];
      if (ways[i].first_seen_us < oldest->first_seen_us)
        oldest = &ways[i];
    }
  *oldest = (Seen) { .id = *id, .first_seen_us = now_us };
  return oldest;
}

/**
 * fc_settle_check:
 * @id: a file's identity, as stat() gave it now
 * @name: (nullable): its name, to tell an admin about a ctime in the
 *   future; %NULL says nothing
 * @rule: fc_settle_cacheable() or fc_settle_readable()
 *
 * Judges @id by @rule on the clocks now, recording when the daemon
 * first saw it. A ctime in the future is logged once per identity, and
 * within FC_RATE_LIMIT_FAILURES. Any thread; the table's lock is taken
 * only when the clocks alone do not trust @id.
 *
 * Returns: whether @rule trusts @id
 */
gboolean
fc_settle_check (const FcFileId *id,
                 const char     *name,
                 FcSettle      (*rule) (const FcFileId *, const FcSettleClocks *))
{
  static FcRateLimit futures = FC_RATE_LIMIT_FAILURES;
  FcSettleClocks clocks;
  FcSettle verdict;
  gboolean tell = FALSE;

  fc_settle_clocks_now (&clocks);
  if (rule (id, &clocks) == FC_SETTLE_TRUSTED)
    return TRUE;

  g_mutex_lock (&seen_lock);
  {
    Seen *slot = seen_find (id, clocks.monotonic_us);

    clocks.first_seen_us = slot->first_seen_us;
    verdict = rule (id, &clocks);
    if (verdict == FC_SETTLE_FUTURE && name != NULL && !slot->future_told)
      slot->future_told = tell = TRUE;
  }
  g_mutex_unlock (&seen_lock);

  if (tell)
    fc_rate_limit_log (&futures, G_LOG_LEVEL_MESSAGE,
                       _("“%s” changed %" PRId64 " s in the future by this "
                         "machine’s clock: it is not cached until that time has passed"),
                       name, (id->ctime_ns - clocks.real_ns) / NSEC_PER_SEC + 1);
  return verdict == FC_SETTLE_TRUSTED;
}
