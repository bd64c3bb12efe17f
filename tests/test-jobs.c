/* The pool for long work and the flights its results land on: work runs
 * in the pool, never in the caller, and each joiner is called once. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "abandon.h"
#include "cache.h"
#include "digest.h"
#include "dir-index.h"
#include "beneath.h"
#include "file-read.h"
#include "flight.h"
#include "jobs.h"

/* Waits (with a hang guard) for a flight joined from this thread to land
 * in another. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint landed;
  GThread *thread;              /* where it landed */
  GError *error;                /* (owned) (nullable) */
} Landing;

static void
landing_init (Landing *landing)
{
  memset (landing, 0, sizeof *landing);
  g_mutex_init (&landing->lock);
  g_cond_init (&landing->cond);
}

static void
landing_clear (Landing *landing)
{
  g_clear_error (&landing->error);
  g_cond_clear (&landing->cond);
  g_mutex_clear (&landing->lock);
}

static void
on_landed (FcFlight *flight,
           gpointer  user_data)
{
  Landing *landing = user_data;
  const GError *error = fc_flight_get_error (flight);

  g_mutex_lock (&landing->lock);
  landing->landed++;
  landing->thread = g_thread_self ();
  /* Each joiner lands: the last error stays. */
  g_clear_error (&landing->error);
  if (error != NULL)
    landing->error = g_error_copy (error);
  g_cond_signal (&landing->cond);
  g_mutex_unlock (&landing->lock);
}

static void
landing_wait (Landing *landing)
{
  gint64 guard = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_mutex_lock (&landing->lock);
  while (landing->landed == 0)
    g_assert_true (g_cond_wait_until (&landing->cond, &landing->lock, guard));
  g_mutex_unlock (&landing->lock);
}

/* A flight calls each joiner once, with its result; one that landed
 * already is not joined, so the joiner looks again itself. */
static void
test_flight_join_land (void)
{
  g_autoptr(FcFlight) flight = fc_flight_new ();
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BUSY, "changed");
  Landing landing;

  landing_init (&landing);
  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  g_assert_cmpuint (landing.landed, ==, 0);
  fc_flight_land (flight, error);
  g_assert_cmpuint (landing.landed, ==, 2);
  g_assert_error (landing.error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_false (fc_flight_join (flight, on_landed, &landing));
  g_assert_cmpuint (landing.landed, ==, 2);
  landing_clear (&landing);
}

/* Who still wants a flight: work that nobody joined yet goes on (its
 * requester joins after the hand-off); once every joiner has left, it
 * may give up; a joiner who stays keeps it; a landed one is done. */
static void
test_flight_interest (void)
{
  g_autoptr(FcFlight) flight = fc_flight_new ();
  Landing first;
  Landing second;

  landing_init (&first);
  landing_init (&second);
  g_assert_false (fc_flight_unwanted (flight));
  g_assert_false (fc_flight_unwanted (NULL));
  g_assert_false (fc_flight_leave (flight, on_landed, &first));

  g_assert_true (fc_flight_join (flight, on_landed, &first));
  g_assert_true (fc_flight_join (flight, on_landed, &second));
  g_assert_true (fc_flight_leave (flight, on_landed, &first));
  g_assert_false (fc_flight_leave (flight, on_landed, &first));
  g_assert_false (fc_flight_unwanted (flight));
  g_assert_true (fc_flight_leave (flight, on_landed, &second));
  g_assert_true (fc_flight_unwanted (flight));

  /* A late joiner keeps it after all; only it is called. */
  g_assert_true (fc_flight_join (flight, on_landed, &second));
  g_assert_false (fc_flight_unwanted (flight));
  fc_flight_land (flight, NULL);
  g_assert_cmpuint (first.landed, ==, 0);
  g_assert_cmpuint (second.landed, ==, 1);
  g_assert_false (fc_flight_leave (flight, on_landed, &second));
  g_assert_false (fc_flight_unwanted (flight));
  landing_clear (&first);
  landing_clear (&second);
}

static void
count_free (gpointer data)
{
  (*(guint *) data)++;
}

/* A flight's result goes to the first who takes it; one nobody takes is
 * freed with the flight. */
static void
test_flight_result (void)
{
  g_autoptr(FcFlight) flight = fc_flight_new ();
  FcFlight *untaken = fc_flight_new ();
  guint freed = 0;

  fc_flight_set_result (flight, &freed, count_free);
  fc_flight_land (flight, NULL);
  g_assert_true (fc_flight_steal_result (flight) == &freed);
  g_assert_null (fc_flight_steal_result (flight));

  fc_flight_set_result (untaken, &freed, count_free);
  fc_flight_land (untaken, NULL);
  g_assert_cmpuint (freed, ==, 0);
  fc_flight_unref (untaken);
  g_assert_cmpuint (freed, ==, 1);
}

/* A listing made in the pool lands its flight there with the text a
 * listing made in the caller would have; one nobody waits for any more
 * is given up, with no text. */
static void
test_list (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (1, NULL);
  g_autofree char *dir = g_dir_make_tmp ("test-jobs-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "a.txt", NULL);
  g_autoptr(FcFlight) flight = fc_flight_new ();
  g_autoptr(FcFlight) unwanted = fc_flight_new ();
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GString) expected = NULL;
  g_autoptr(GBytes) text = NULL;
  atomic_size_t held = 0;
  Landing landing;
  Landing gone;
  struct stat st;
  int root_fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  landing_init (&landing);
  landing_init (&gone);
  g_assert_true (g_file_set_contents (file, "alpha\n", -1, NULL));
  entries = fc_dir_index_read (root_fd, "", FC_DIR_INDEX_MAX_ENTRIES, NULL);
  expected = fc_dir_index_json (entries, &held, NULL);
  g_assert_cmpuint (held, ==, expected->allocated_len);

  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  fc_jobs_list (jobs, flight, root_fd, fc_open_dir_beneath (root_fd, "", &st, NULL), "", TRUE, &held, 0);
  landing_wait (&landing);
  g_assert_true (landing.thread != g_thread_self ());
  g_assert_no_error (landing.error);
  text = fc_flight_steal_result (flight);
  g_assert_cmpmem (g_bytes_get_data (text, NULL), g_bytes_get_size (text), expected->str, expected->len);
  /* The text is charged while it is held, and given back with it. */
  g_assert_cmpuint (held, ==, 2 * expected->allocated_len);
  g_clear_pointer (&text, g_bytes_unref);
  g_assert_cmpuint (held, ==, expected->allocated_len);

  g_assert_true (fc_flight_join (unwanted, on_landed, &gone));
  g_assert_true (fc_flight_leave (unwanted, on_landed, &gone));
  fc_jobs_list (jobs, unwanted, root_fd, fc_open_dir_beneath (root_fd, "", &st, NULL), "", TRUE, &held, 0);
  /* Waits for the pool to be done with it. */
  g_clear_pointer (&jobs, fc_jobs_free);
  g_assert_cmpuint (gone.landed, ==, 0);
  g_assert_null (fc_flight_steal_result (unwanted));
  g_assert_error (fc_flight_get_error (unwanted), G_IO_ERROR, G_IO_ERROR_CANCELLED);

  close (root_fd);
  g_unlink (file);
  g_rmdir (dir);
  landing_clear (&landing);
  landing_clear (&gone);
}

/* Content of @size bytes in a temporary file; returns its descriptor
 * and identity. */
static int
temp_file (gsize       size,
           GBytes    **content,
           FcFileId   *id)
{
  g_autofree char *path = NULL;
  g_autofree guint8 *data = g_malloc (size);
  struct stat st;
  int writer = g_file_open_tmp ("test-jobs-XXXXXX", &path, NULL);
  struct timespec now;
  int fd;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + i / 4096);
  g_assert_cmpint (writer, >=, 0);
  g_assert_cmpint (write (writer, data, size), ==, (gssize) size);
  /* A file open for writing is read as no version at all. */
  g_assert_cmpint (close (writer), ==, 0);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  fc_file_id_from_stat (id, &st);
  /* Past the tick that stamped it: a version that can be trusted. */
  do
    {
      g_usleep (1000);
      clock_gettime (CLOCK_REALTIME_COARSE, &now);
    }
  while ((gint64) now.tv_sec * 1000000000 + now.tv_nsec <= id->ctime_ns);
  *content = g_bytes_new_take (g_steal_pointer (&data), size);
  return fd;
}

/* A file's digest, computed in the pool: the requester and a second one
 * wait on one flight, which lands in a pool thread; both then read the
 * same digest, that of the content. */
static void
test_hash_file (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (2, NULL);
  g_autoptr(FcDigests) digests = fc_digests_new (4);
  g_autoptr(GBytes) content = NULL;
  g_autoptr(FcFlight) flight = NULL;
  g_autoptr(FcFlight) second = NULL;
  guint8 expected[FC_DIGEST_LEN];
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;
  FcFileId id;
  Landing landing;
  int fd = temp_file (3 * FC_JOBS_SLICE + 5, &content, &id);

  landing_init (&landing);
  fc_digest_of_bytes (content, expected);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  flight = fc_flight_ref (fc_digests_job_flight (job));
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, NULL, &second), ==, FC_DIGEST_WAIT);
  g_assert_true (second == flight);
  /* Joined before the job runs: it cannot have landed yet. */
  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  fc_jobs_hash_file (jobs, digests, job, fd, &id);

  landing_wait (&landing);
  g_assert_no_error (landing.error);
  g_assert_true (landing.thread != g_thread_self ());
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_READY);
  g_assert_cmpmem (out, sizeof out, expected, sizeof expected);
  landing_clear (&landing);
}

/* A large load in the pool: the requester's hit is counted once, when it
 * looks again, and the copy is the file's content. */
static void
test_load (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (2, NULL);
  g_autoptr(FcCache) cache = fc_cache_new (64 * FC_JOBS_SLICE);
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GBytes) none = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(FcFlight) flight = NULL;
  g_autoptr(GArray) list = NULL;
  FcCacheLoad *load = NULL;
  FcCacheStats stats;
  FcFileId id;
  Landing landing;
  int fd = temp_file (2 * FC_JOBS_SLICE + 1, &content, &id);

  landing_init (&landing);
  g_assert_cmpint (fc_cache_lookup (cache, "f", &id, FALSE, &none, &load, NULL), ==, FC_LOOKUP_LOAD);
  flight = fc_cache_load_hand_off (load);
  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  fc_jobs_load (jobs, cache, load, fd, &id);

  landing_wait (&landing);
  g_assert_no_error (landing.error);
  g_assert_cmpint (fc_cache_lookup (cache, "f", &id, TRUE, &bytes, &load, NULL), ==, FC_LOOKUP_READY);
  g_assert_true (g_bytes_equal (bytes, content));
  fc_cache_get_stats (cache, &stats, NULL, NULL);
  g_assert_cmpuint (stats.misses, ==, 1);
  g_assert_cmpuint (stats.loads, ==, 1);
  list = fc_cache_list (cache);
  g_assert_cmpuint (g_array_index (list, FcCacheInfo, 0).hits, ==, 1);
  landing_clear (&landing);
}

/* The order jobs land in: a pool of one thread, held by a first job
 * (its flight's joiner blocks in the pool thread) while the others are
 * queued behind it. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean holding;             /* the pool thread is in the first job's joiner */
  gboolean released;
  GArray *order;                /* (owned) (element-type guint): the sizes, as they landed */
  FcDigests *digests;           /* (owned) */
  guint64 next_ino;
} Queue;

typedef struct {
  Queue *queue;
  guint64 size;
} Queued;

static void
on_hold (FcFlight *flight G_GNUC_UNUSED,
         gpointer  user_data)
{
  Queue *queue = user_data;
  gint64 guard = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_mutex_lock (&queue->lock);
  queue->holding = TRUE;
  g_cond_broadcast (&queue->cond);
  while (!queue->released)
    g_assert_true (g_cond_wait_until (&queue->cond, &queue->lock, guard));
  queue->holding = FALSE;
  g_mutex_unlock (&queue->lock);
}

static void
on_queued_landed (FcFlight *flight G_GNUC_UNUSED,
                  gpointer  user_data)
{
  Queued *queued = user_data;
  Queue *queue = queued->queue;

  g_mutex_lock (&queue->lock);
  g_array_append_val (queue->order, queued->size);
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
  g_free (queued);
}

/* Hashes @size zero bytes in the pool, a version of its own; its flight
 * calls @func with @user_data, or records its size in @queue's order. */
static void
queue_hash (Queue        *queue,
            FcJobs       *jobs,
            guint64       size,
            FcFlightFunc  func,
            gpointer      user_data)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (size), size);
  FcFileId id = { .dev = 1, .ino = ++queue->next_ino, .size = size };
  FcDigestJob *job = NULL;
  guint8 out[FC_DIGEST_LEN];

  g_assert_cmpint (fc_digests_lookup (queue->digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  if (func == NULL)
    {
      Queued *queued = g_new (Queued, 1);

      *queued = (Queued) { queue, size };
      func = on_queued_landed;
      user_data = queued;
    }
  g_assert_true (fc_flight_join (fc_digests_job_flight (job), func, user_data));
  fc_jobs_hash_bytes (jobs, queue->digests, job, bytes);
}

/* Queues a first job and waits until the pool's one thread is held in
 * it. */
static void
queue_hold (Queue  *queue,
            FcJobs *jobs)
{
  gint64 guard = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  queue->released = FALSE;
  queue_hash (queue, jobs, 1, on_hold, queue);
  g_mutex_lock (&queue->lock);
  while (!queue->holding)
    g_assert_true (g_cond_wait_until (&queue->cond, &queue->lock, guard));
  g_mutex_unlock (&queue->lock);
}

/* Lets the held thread go and waits for @n queued jobs to land. */
static void
queue_release (Queue *queue,
               guint  n)
{
  gint64 guard = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  g_mutex_lock (&queue->lock);
  queue->released = TRUE;
  g_cond_broadcast (&queue->cond);
  while (queue->order->len < n)
    g_assert_true (g_cond_wait_until (&queue->cond, &queue->lock, guard));
  g_mutex_unlock (&queue->lock);
}

/* Queued work runs smallest first, whatever the order it came in; but a
 * job that has waited past its due time (its size at 100 MB/s) is no
 * longer passed by smaller ones that come later. */
static void
test_queue_order (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (1, NULL);
  Queue queue = { .order = g_array_new (FALSE, FALSE, sizeof (guint64)),
                  .digests = fc_digests_new (16) };

  g_mutex_init (&queue.lock);
  g_cond_init (&queue.cond);

  queue_hold (&queue, jobs);
  queue_hash (&queue, jobs, 64 * FC_JOBS_SLICE, NULL, NULL);
  queue_hash (&queue, jobs, 8 * FC_JOBS_SLICE, NULL, NULL);
  queue_hash (&queue, jobs, 1, NULL, NULL);
  queue_release (&queue, 3);
  g_assert_cmpuint (g_array_index (queue.order, guint64, 0), ==, 1);
  g_assert_cmpuint (g_array_index (queue.order, guint64, 1), ==, 8 * FC_JOBS_SLICE);
  g_assert_cmpuint (g_array_index (queue.order, guint64, 2), ==, 64 * FC_JOBS_SLICE);

  /* Due 21 ms after it came: 100 ms later, it goes first. */
  queue_hold (&queue, jobs);
  queue_hash (&queue, jobs, 2 * FC_JOBS_SLICE, NULL, NULL);
  g_usleep (100 * 1000);
  queue_hash (&queue, jobs, 1, NULL, NULL);
  queue_release (&queue, 5);
  g_assert_cmpuint (g_array_index (queue.order, guint64, 3), ==, 2 * FC_JOBS_SLICE);
  g_assert_cmpuint (g_array_index (queue.order, guint64, 4), ==, 1);

  g_clear_pointer (&jobs, fc_jobs_free);
  fc_digests_free (queue.digests);
  g_array_unref (queue.order);
  g_cond_clear (&queue.cond);
  g_mutex_clear (&queue.lock);
}

/* A hash whose every joiner left before it ran is dropped when it comes
 * up: nothing is kept, and the version is computed afresh next time. One
 * joiner who stays keeps the same work alive. */
static void
test_unwanted (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (1, NULL);
  g_autoptr(FcDigests) digests = fc_digests_new (4);
  g_autoptr(GBytes) content = NULL;
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;
  FcFileId id;
  Landing gone;
  Landing staying;
  int fd = temp_file (2 * FC_JOBS_SLICE, &content, &id);

  landing_init (&gone);
  landing_init (&staying);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  g_assert_true (fc_flight_join (fc_digests_job_flight (job), on_landed, &gone));
  g_assert_true (fc_flight_leave (fc_digests_job_flight (job), on_landed, &gone));
  fc_jobs_hash_file (jobs, digests, job, dup (fd), &id);
  /* Waits for the pool to be done with it. */
  g_clear_pointer (&jobs, fc_jobs_free);
  g_assert_cmpuint (gone.landed, ==, 0);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);

  jobs = fc_jobs_new (1, NULL);
  g_assert_true (fc_flight_join (fc_digests_job_flight (job), on_landed, &gone));
  g_assert_true (fc_flight_join (fc_digests_job_flight (job), on_landed, &staying));
  g_assert_true (fc_flight_leave (fc_digests_job_flight (job), on_landed, &gone));
  fc_jobs_hash_file (jobs, digests, job, fd, &id);
  landing_wait (&staying);
  g_assert_no_error (staying.error);
  g_assert_cmpuint (gone.landed, ==, 0);
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_READY);
  landing_clear (&gone);
  landing_clear (&staying);
}

/* Once the daemon stops, long work gives up at its next slice, and the
 * flight lands with why. Last: the flag is for the whole process. */
static void
test_abandoned (void)
{
  g_autoptr(FcJobs) jobs = fc_jobs_new (1, NULL);
  g_autoptr(FcDigests) digests = fc_digests_new (4);
  g_autoptr(GBytes) content = NULL;
  g_autoptr(FcFlight) flight = NULL;
  guint8 out[FC_DIGEST_LEN];
  FcDigestJob *job = NULL;
  FcFileId id;
  Landing landing;
  int fd = temp_file (2 * FC_JOBS_SLICE, &content, &id);

  landing_init (&landing);
  fc_abandon_long_work ();
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  flight = fc_flight_ref (fc_digests_job_flight (job));
  g_assert_true (fc_flight_join (flight, on_landed, &landing));
  fc_jobs_hash_file (jobs, digests, job, fd, &id);
  landing_wait (&landing);
  g_assert_error (landing.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Nothing was kept: the version is computed anew next time. */
  g_assert_cmpint (fc_digests_lookup (digests, &id, out, &job, NULL), ==, FC_DIGEST_COMPUTE);
  fc_digests_abort (digests, job, NULL);
  landing_clear (&landing);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jobs/flight/join-land", test_flight_join_land);
  g_test_add_func ("/jobs/flight/interest", test_flight_interest);
  g_test_add_func ("/jobs/flight/result", test_flight_result);
  g_test_add_func ("/jobs/list", test_list);
  g_test_add_func ("/jobs/hash-file", test_hash_file);
  g_test_add_func ("/jobs/load", test_load);
  g_test_add_func ("/jobs/queue-order", test_queue_order);
  g_test_add_func ("/jobs/unwanted", test_unwanted);
  g_test_add_func ("/jobs/abandoned", test_abandoned);
  return g_test_run ();
}
