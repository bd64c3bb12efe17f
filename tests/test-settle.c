/* The rules that say when an identity stands for one version, on
 * injected clocks: a file server's clock behind or ahead of ours, and
 * writes too long to have ended. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "settle.h"

#define SEC G_GINT64_CONSTANT (1000000000)
#define MiB (G_GUINT64_CONSTANT (1) << 20)

/* Our clock's "now": a whole second plus a little, as the coarse clock
 * reads between two ticks. */
#define NOW (G_GINT64_CONSTANT (1800000000) * SEC + 4000000)

static FcFileId
stamped (gint64   ctime_ns,
         guint64  size,
         gboolean foreign)
{
  return (FcFileId) { .dev = 7, .ino = 42, .size = size, .mtime_ns = ctime_ns,
                      .ctime_ns = ctime_ns, .foreign = foreign };
}

/* The daemon's clocks at NOW, having first seen the identity @seen_ago_ms
 * before. */
static FcSettleClocks
clocks_at (gint64 seen_ago_ms)
{
  return (FcSettleClocks) { .coarse_ns = NOW, .real_ns = NOW + 1000,
                            .first_seen_us = 1000000000 - seen_ago_ms * 1000,
                            .monotonic_us = 1000000000 };
}

static void
test_granularity (void)
{
  g_assert_cmpint (fc_settle_granularity (5 * SEC), ==, 2 * SEC);
  g_assert_cmpint (fc_settle_granularity (5 * SEC + 300000000), ==, 100000000);
  g_assert_cmpint (fc_settle_granularity (5 * SEC + 4000000), ==, 1000000);
  g_assert_cmpint (fc_settle_granularity (5 * SEC + 123456789), ==, 1);
  g_assert_cmpint (fc_settle_granularity (-5 * SEC + 10), ==, 10);
}

/* Files stamped by a clock 10 s behind ours, whole seconds (NFS, sshfs):
 * by our clock their ctime looks old, yet the server may stamp the same
 * second again. Trusted only once the daemon has seen the identity for
 * one granularity, two seconds. */
static void
test_foreign_clock_behind (void)
{
  FcFileId id = stamped (NOW / SEC * SEC - 10 * SEC, 100, TRUE);
  FcSettleClocks seen_now = clocks_at (0), seen_1s = clocks_at (1000), seen_2s = clocks_at (2000);

  g_assert_cmpint (fc_settle_cacheable (&id, &seen_now), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_cacheable (&id, &seen_1s), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_cacheable (&id, &seen_2s), ==, FC_SETTLE_TRUSTED);

  /* The same stamps on a local filesystem came from our own clock. */
  id.foreign = FALSE;
  g_assert_cmpint (fc_settle_cacheable (&id, &seen_now), ==, FC_SETTLE_TRUSTED);
}

/* Nanosecond stamps from another machine: one tick of the coarsest
 * kernel clock, 10 ms, after the daemon first saw them. */
static void
test_foreign_clock_fine (void)
{
  FcFileId id = stamped (NOW - 30 * SEC + 123456789, 100, TRUE);
  FcSettleClocks seen_5ms = clocks_at (5), seen_10ms = clocks_at (10);

  g_assert_cmpint (fc_settle_cacheable (&id, &seen_5ms), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_cacheable (&id, &seen_10ms), ==, FC_SETTLE_TRUSTED);
}

/* Local, within the current tick: not yet, however the identity was
 * seen; a tick on, trusted by the clock alone. */
static void
test_local_tick (void)
{
  FcFileId recent = stamped (NOW - 1000, 100, FALSE);
  FcFileId older = stamped (NOW - 5000000, 100, FALSE);
  FcSettleClocks seen_now = clocks_at (0);

  recent.ctime_ns = NOW;
  g_assert_cmpint (fc_settle_cacheable (&recent, &seen_now), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_cacheable (&older, &seen_now), ==, FC_SETTLE_TRUSTED);
}

/* Ahead of our real-time clock, local or not: never trusted, however
 * long it was seen. */
static void
test_future (void)
{
  FcFileId local = stamped (NOW + 10 * SEC + 5, 100, FALSE);
  FcFileId foreign = stamped (NOW + 10 * SEC + 5, 100, TRUE);
  FcSettleClocks seen_long_ago = clocks_at (100000);

  g_assert_cmpint (fc_settle_cacheable (&local, &seen_long_ago), ==, FC_SETTLE_FUTURE);
  g_assert_cmpint (fc_settle_cacheable (&foreign, &seen_long_ago), ==, FC_SETTLE_FUTURE);
}

/* Without a lease: a version is read only once a write() that began at
 * its ctime would have ended at 32 MiB/s, plus a tick. */
static void
test_readable_scaled (void)
{
  FcFileId id = stamped (NOW - 100000, 64 * MiB, FALSE);
  FcFileId aged = stamped (NOW - 3 * SEC, 64 * MiB, FALSE);
  FcFileId small = stamped (NOW - 20000000, 100, FALSE);
  FcSettleClocks seen_now = clocks_at (0), seen_1s = clocks_at (1000), seen_3s = clocks_at (3000);

  g_assert_cmpint (fc_settle_readable (&small, &seen_now), ==, FC_SETTLE_TRUSTED);
  g_assert_cmpint (fc_settle_readable (&aged, &seen_now), ==, FC_SETTLE_TRUSTED);
  g_assert_cmpint (fc_settle_readable (&id, &seen_now), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_readable (&id, &seen_1s), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_readable (&id, &seen_3s), ==, FC_SETTLE_TRUSTED);
}

/* Another clock's ctime is trusted by its age only past a minute's
 * skew; before that, by how long the daemon has seen it. */
static void
test_readable_foreign (void)
{
  FcFileId id = stamped (NOW - 30 * SEC + 123456789, 100, TRUE);
  FcFileId old = stamped (NOW - 90 * SEC + 123456789, 100, TRUE);
  FcSettleClocks seen_now = clocks_at (0), seen_20ms = clocks_at (20);

  g_assert_cmpint (fc_settle_readable (&id, &seen_now), ==, FC_SETTLE_NOT_YET);
  g_assert_cmpint (fc_settle_readable (&id, &seen_20ms), ==, FC_SETTLE_TRUSTED);
  g_assert_cmpint (fc_settle_readable (&old, &seen_now), ==, FC_SETTLE_TRUSTED);
}

/* The first-seen table: a new identity is not yet trusted, the same one
 * a tick later is. */
static void
test_check_remembers (void)
{
  FcFileId id = stamped (g_get_real_time () * 1000 - 30 * SEC + 123456789, 100, TRUE);

  g_assert_false (fc_settle_check (&id, "f", fc_settle_cacheable));
  g_usleep (20 * 1000);
  g_assert_true (fc_settle_check (&id, "f", fc_settle_cacheable));
}

static void
test_probe_local (void)
{
  g_autofree char *path = NULL;
  FcFileId id = { .foreign = TRUE };
  int fd = g_file_open_tmp ("settle-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  fc_settle_probe_fs (&id, fd);
  /* The build directory's filesystem is local wherever tests run. */
  g_assert_false (id.foreign);
  close (fd);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/settle/granularity", test_granularity);
  g_test_add_func ("/settle/cacheable/foreign-clock-behind", test_foreign_clock_behind);
  g_test_add_func ("/settle/cacheable/foreign-clock-fine", test_foreign_clock_fine);
  g_test_add_func ("/settle/cacheable/local-tick", test_local_tick);
  g_test_add_func ("/settle/cacheable/future", test_future);
  g_test_add_func ("/settle/readable/scaled-to-size", test_readable_scaled);
  g_test_add_func ("/settle/readable/foreign", test_readable_foreign);
  g_test_add_func ("/settle/check/remembers-first-sight", test_check_remembers);
  g_test_add_func ("/settle/probe/local", test_probe_local);
  return g_test_run ();
}
