#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abandon.h"
#include "errors.h"

#include "digest.h"

static FcFileId
version (guint64 ino)
{
  return (FcFileId) { .dev = 1, .ino = ino, .size = 10, .mtime_ns = 5, .ctime_ns = 5 };
}

static void
test_hex_round_trip (void)
{
  static const char hex[] = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
  guint8 digest[FC_DIGEST_LEN];
  char back[FC_DIGEST_HEX_LEN];
  g_autoptr(GBytes) bytes = g_bytes_new_static ("hello world\n", 12);

  g_assert_true (fc_digest_from_hex (hex, digest));
  fc_digest_to_hex (digest, back);
  g_assert_cmpmem (back, sizeof back, hex, FC_DIGEST_HEX_LEN);
  /* PROTOCOL.md 1.1's example. */
  fc_digest_of_bytes (bytes, digest);
  fc_digest_to_hex (digest, back);
  g_assert_cmpmem (back, sizeof back, hex, FC_DIGEST_HEX_LEN);
}

static void
test_hex_refused (void)
{
  static const char *const bad[] = {
    "A948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
    "g948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
    "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a44 ",
  };
  guint8 digest[FC_DIGEST_LEN];

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (fc_digest_from_hex (bad[i], digest));
}

/* A version's digest is computed once; others read it back. */
static void
test_table_once (void)
{
  g_autoptr(FcDigests) digests = fc_digests_new (4);
  FcFileId id = version (1);
  guint8 digest[FC_DIGEST_LEN] = { 7 };
  guint8 out[FC_DIGEST_LEN] = { 0 };
  FcDigestJob *job = NULL;

  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  fc_digests_finish (digests, job, digest);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_READY);
  g_assert_cmpmem (out, sizeof out, digest, sizeof digest);

  /* Another version of the same file is another digest. */
  id.mtime_ns++;
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  fc_digests_abort (digests, job, NULL);
}

/* A version whose ctime's tick may not be over (here: whole seconds from
 * a file server's clock, ten seconds behind ours, seen for the first
 * time) could be rewritten keeping its identity: its digest answers this
 * request only, and the next one computes again. */
static void
test_table_racy (void)
{
  g_autoptr(FcDigests) digests = fc_digests_new (4);
  FcFileId id = version (1);
  guint8 digest[FC_DIGEST_LEN] = { 9 };
  guint8 out[FC_DIGEST_LEN] = { 0 };
  FcDigestJob *job = NULL;

  id.ctime_ns = id.mtime_ns = (g_get_real_time () / G_USEC_PER_SEC - 10) * 1000000000;
  id.foreign = TRUE;
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  fc_digests_finish (digests, job, digest);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  fc_digests_abort (digests, job, NULL);
}

/* A failed computation leaves the table as it was: the ready digests
 * stay, and the version can be computed again. */
static void
test_table_abort (void)
{
  g_autoptr(FcDigests) digests = fc_digests_new (2);
  guint8 digest[FC_DIGEST_LEN] = { 3 };
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;

  for (guint64 ino = 1; ino <= 2; ino++)
    {
      FcFileId id = version (ino);

      g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
      fc_digests_finish (digests, job, digest);
    }
  for (guint round = 0; round < 3; round++)
    {
      FcFileId failing = version (9);

      g_assert_cmpint (fc_digests_lookup (digests, &failing, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
      fc_digests_abort (digests, job, NULL);
    }
  for (guint64 ino = 1; ino <= 3; ino++)
    {
      FcFileId id = version (ino);
      FcDigestLookup result = fc_digests_lookup (digests, &id, out, &job, NULL);

      g_assert_cmpint (result, ==, ino <= 2 ? FC_DIGEST_READY : FC_DIGEST_COMPUTE);
      if (result == FC_DIGEST_COMPUTE)
        fc_digests_finish (digests, job, digest);
    }
  /* Bounded still: 3 went in, 1 (least recently used) went out. */
  {
    FcFileId first = version (1);

    g_assert_cmpint (fc_digests_lookup (digests, &first, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
    fc_digests_abort (digests, job, NULL);
  }
}

/* Past its bound the least recently used digest goes. */
static void
test_table_bounded (void)
{
  g_autoptr(FcDigests) digests = fc_digests_new (3);
  guint8 digest[FC_DIGEST_LEN] = { 1 };
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;

  for (guint64 ino = 1; ino <= 4; ino++)
    {
      FcFileId id = version (ino);

      g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
      fc_digests_finish (digests, job, digest);
      if (ino == 3)
        {
          /* 1 becomes the most recently used. */
          FcFileId first = version (1);

          g_assert_cmpint (fc_digests_lookup (digests, &first, out, &job, NULL), ==, FC_DIGEST_READY);
        }
    }
  for (guint64 ino = 1; ino <= 4; ino++)
    {
      FcFileId id = version (ino);
      FcDigestLookup result = fc_digests_lookup (digests, &id, out, &job, NULL);

      g_assert_cmpint (result, ==, ino == 2 ? FC_DIGEST_COMPUTE : FC_DIGEST_READY);
      if (result == FC_DIGEST_COMPUTE)
        fc_digests_abort (digests, job, NULL);
    }
}

static void
on_landed (FcFlight *flight,
           gpointer  user_data)
{
  guint *landed = user_data;

  g_assert_null (fc_flight_get_error (flight));
  (*landed)++;
}

/* 16 requests for one version while it is computed: one computes, the
 * others are told to wait (never blocked), join its flight, and read the
 * digest back once it lands. */
static void
test_table_single_flight (void)
{
  g_autoptr(FcDigests) digests = fc_digests_new (8);
  FcFileId id = version (9);
  guint8 digest[FC_DIGEST_LEN] = { 9 };
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;
  guint landed = 0;

  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  for (guint i = 1; i < 16; i++)
    {
      g_autoptr(FcFlight) flight = NULL;
      FcDigestJob *none = NULL;

      g_assert_cmpint (fc_digests_lookup (digests, &id, out, &none, &flight), ==, FC_DIGEST_WAIT);
      g_assert_true (flight == fc_digests_job_flight (job));
      g_assert_true (fc_flight_join (flight, on_landed, &landed));
    }
  g_assert_cmpuint (landed, ==, 0);
  fc_digests_finish (digests, job, digest);
  g_assert_cmpuint (landed, ==, 15);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_READY);
  g_assert_cmpuint (out[0], ==, 9);
}

/* Once a stop abandons long work, hashing a file gives up at its next
 * slice with G_IO_ERROR_CANCELLED. Last: nothing resets the flag. */
static void
test_file_abandoned (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("digest-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "f", NULL);
  char buf[5];
  guint8 digest[FC_DIGEST_LEN];
  FcFileId id;
  struct stat st;
  int fd;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, "0123456789", 10, NULL));
  fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  fc_file_id_from_stat (&id, &st);

  g_assert_true (fc_digest_of_file (fd, &id, buf, 4, digest, NULL, &error));
  g_assert_no_error (error);
  fc_abandon_long_work ();
  g_assert_false (fc_digest_of_file (fd, &id, buf, 4, digest, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  close (fd);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/digest/hex/round-trip", test_hex_round_trip);
  g_test_add_func ("/digest/hex/refused", test_hex_refused);
  g_test_add_func ("/digest/table/once-per-version", test_table_once);
  g_test_add_func ("/digest/table/bounded", test_table_bounded);
  g_test_add_func ("/digest/table/abort", test_table_abort);
  g_test_add_func ("/digest/table/racy-not-kept", test_table_racy);
  g_test_add_func ("/digest/table/single-flight", test_table_single_flight);
  g_test_add_func ("/digest/file/abandoned", test_file_abandoned);
  return g_test_run ();
}
