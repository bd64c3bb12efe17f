#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "abandon.h"
#include "dir-index.h"
#include "file-read.h"
#include "jobs.h"

struct _FcJobs {
  GThreadPool *pool;            /* (owned) */
  _Atomic guint64 pushed;       /* jobs ever queued: workers push at once */
};

typedef enum {
  JOB_HASH_FILE,
  JOB_HASH_BYTES,
  JOB_LOAD,
  JOB_LIST,
} JobKind;

/* A queued job may be passed by later ones that are due before it: its
 * due time is its arrival plus its size at this rate (100 MB/s, about a
 * third of hashing speed, in bytes per µs). Small work goes first (a
 * 3 MiB load is due 31 ms after it came, a 1 GiB hash 10.7 s after), yet
 * no job waits forever behind a stream of smaller ones: once a job is
 * due, those that come later queue behind it. */
#define JOB_PATIENCE_BYTES_PER_USEC 100

/* A listing is queued as if it were this many bytes of hashing per byte
 * of the directory's st_size: an entry (5 to 8 µs) is 20 to 30 bytes of
 * st_size and costs as long as hashing 2 KiB or so. A directory of
 * 100000 entries (2 MiB on tmpfs) is then due 2 s after it came. */
#define JOB_LIST_WEIGHT 100

/* One piece of long work and all it needs, owned by the job alone: a
 * request that goes away frees nothing the job uses. */
typedef struct {
  gint64 due;                   /* monotonic µs: the queue's order, earliest first */
  guint64 arrival;              /* the queue's order among jobs due at once */
  JobKind kind;
  int fd;                       /* (owned): the file, or -1 */
  FcFileId id;                  /* the version to read */
  GBytes *bytes;                /* (owned) (nullable): JOB_HASH_BYTES' content */
  FcDigests *digests;           /* (unowned): outlives the pool */
  FcDigestJob *digest_job;      /* (owned): ended by the job */
  FcCache *cache;               /* (unowned): outlives the pool */
  FcCacheLoad *load;            /* (owned): ended by the job */
  int root_fd;                  /* (unowned): JOB_LIST's root; outlives the pool */
  char *name;                   /* (owned) (nullable): JOB_LIST's directory, "" for the root */
  gboolean json;                /* JOB_LIST's form: JSON, or HTML */
  atomic_size_t *listing_held;  /* (unowned): JOB_LIST's budget; outlives the pool */
  FcFlight *flight;             /* (owned): what the job lands; once all its joiners
                                 * have left, the job gives up at its next slice */
} Job;

static void
job_free (Job *job)
{
  if (job->fd >= 0)
    close (job->fd);
  g_clear_pointer (&job->bytes, g_bytes_unref);
  g_clear_pointer (&job->flight, fc_flight_unref);
  g_free (job->name);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

/* The queue's order: earliest due first, then first come. */
static gint
job_compare (gconstpointer a,
             gconstpointer b,
             gpointer      user_data G_GNUC_UNUSED)
{
  const Job *x = a;
  const Job *y = b;

  if (x->due != y->due)
    return x->due < y->due ? -1 : 1;
  return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

/* Reads and renders a directory, then lands the flight with the text as
 * its result, or with why there is none. A job that nobody waits for any
 * more (or that a stop abandons) gives up before it starts, or at its
 * next slice. */
static void
job_list (Job *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = NULL;

  if (fc_long_work_go_on (job->flight, N_("Listing abandoned: the daemon is stopping"),
                          N_("Listing abandoned: nobody waits for it any more"), &error))
    entries = fc_dir_index_read_dir (job->root_fd, g_steal_fd (&job->fd), job->name,
                                     FC_DIR_INDEX_MAX_ENTRIES, job->flight, &error);
  if (entries != NULL)
    {
      /* As bytes at once: a result nobody takes gives its charge back. */
      GBytes *listing = fc_dir_index_listing (job->name, entries, job->json, job->listing_held, &error);

      if (listing != NULL)
        fc_flight_set_result (job->flight, listing, (GDestroyNotify) g_bytes_unref);
    }
  fc_flight_land (job->flight, error);
}

static void
job_run (gpointer data,
         gpointer user_data G_GNUC_UNUSED)
{
  g_autoptr(Job) job = data;
  g_autoptr(GError) error = NULL;
  guint8 digest[FC_DIGEST_LEN];

  fc_long_work_thread_enter ();

  switch (job->kind)
    {
    case JOB_HASH_FILE:
      {
        g_autofree char *buf = g_malloc (FC_JOBS_SLICE + 1);

        if (fc_digest_of_file (job->fd, &job->id, buf, FC_JOBS_SLICE, digest, job->flight, &error))
          fc_digests_finish (job->digests, job->digest_job, digest);
        else
          fc_digests_abort (job->digests, job->digest_job, error);
      }
      break;

    case JOB_HASH_BYTES:
      fc_digest_of_bytes (job->bytes, digest);
      fc_digests_finish (job->digests, job->digest_job, digest);
      break;

    case JOB_LOAD:
      {
        g_autoptr(GBytes) bytes = fc_file_read_whole (job->fd, &job->id, job->flight, &error);

        if (bytes != NULL)
          g_bytes_unref (fc_cache_load_take (job->cache, job->load, g_steal_pointer (&bytes)));
        else
          fc_cache_load_abort (job->cache, job->load);
      }
      break;

    case JOB_LIST:
      job_list (job);
      break;
    }
}

/**
 * fc_jobs_new:
 * @n_threads: the most jobs run at once, at least 1; more wait in a
 *   queue, smallest first but for those that have waited long enough
 *   (JOB_PATIENCE_BYTES_PER_USEC)
 * @error: a #GThreadError when a thread cannot be made
 *
 * All the threads are made here, at start, as the workers are: a limit on
 * threads is a start-up error, never a failure under load.
 *
 * Returns: (transfer full): an empty pool, or %NULL
 */
FcJobs *
fc_jobs_new (guint    n_threads,
             GError **error)
{
  g_autoptr(FcJobs) jobs = g_new0 (FcJobs, 1);

  g_return_val_if_fail (n_threads > 0, NULL);

  /* GLib 2.74 returns an exclusive pool even when it could not make all
   * its threads, with the error set: that is a failure here. */
  jobs->pool = g_thread_pool_new (job_run, NULL, (gint) n_threads, TRUE, error);
  if (jobs->pool == NULL || (error != NULL && *error != NULL))
    {
      g_prefix_error (error, _("Cannot start a thread for long work: "));
      return NULL;
    }
  g_thread_pool_set_sort_function (jobs->pool, job_compare, NULL);
  return g_steal_pointer (&jobs);
}

/* Queues @job (transfer full), of @size bytes, in its place. */
static void
jobs_push (FcJobs  *jobs,
           Job     *job,
           guint64  size)
{
  g_autoptr(GError) error = NULL;

  job->due = g_get_monotonic_time () + (gint64) (size / JOB_PATIENCE_BYTES_PER_USEC);
  job->arrival = atomic_fetch_add (&jobs->pushed, 1);

  /* The pool's threads were all made at start: a push only queues, and
   * GLib 2.74 queues the job even when it says it failed. */
  if (!g_thread_pool_push (jobs->pool, job, &error))
    g_warning (_("Cannot start a thread for long work: %s"), error->message);
}

/**
 * fc_jobs_hash_file:
 * @jobs: a pool
 * @digests: (transfer none): the table of @job; must outlive @jobs
 * @job: (transfer full): a digest job from fc_digests_lookup()
 * @fd: (transfer full): the file, open for reading
 * @id: the version @job names, as @fd was opened
 *
 * Hashes that version in the pool, then ends @job; aborts it once
 * every joiner of its flight has left (fc_flight_unwanted()), even
 * before it starts. Any thread.
 */
void
fc_jobs_hash_file (FcJobs         *jobs,
                   FcDigests      *digests,
                   FcDigestJob    *job,
                   int             fd,
                   const FcFileId *id)
{
  Job *work = g_new0 (Job, 1);

  *work = (Job) { .kind = JOB_HASH_FILE, .fd = fd, .id = *id,
                  .digests = digests, .digest_job = job,
                  .flight = fc_flight_ref (fc_digests_job_flight (job)) };
  jobs_push (jobs, work, id->size);
}

/**
 * fc_jobs_hash_bytes:
 * @jobs: a pool
 * @digests: (transfer none): the table of @job; must outlive @jobs
 * @job: (transfer full): a digest job from fc_digests_lookup()
 * @bytes: (transfer none): the content of the version @job names
 *
 * Hashes @bytes in the pool, then ends @job. Any thread.
 */
void
fc_jobs_hash_bytes (FcJobs      *jobs,
                    FcDigests   *digests,
                    FcDigestJob *job,
                    GBytes      *bytes)
{
  Job *work = g_new0 (Job, 1);

  *work = (Job) { .kind = JOB_HASH_BYTES, .fd = -1, .bytes = g_bytes_ref (bytes),
                  .digests = digests, .digest_job = job,
                  .flight = fc_flight_ref (fc_digests_job_flight (job)) };
  jobs_push (jobs, work, g_bytes_get_size (bytes));
}

/**
 * fc_jobs_load:
 * @jobs: a pool
 * @cache: (transfer none): the cache of @load; must outlive @jobs
 * @load: (transfer full): a load from fc_cache_lookup()
 * @fd: (transfer full): the file, open for reading
 * @id: the version @load names, as @fd was opened
 *
 * Reads that version whole in the pool, then ends @load: taken, or
 * aborted when the file changed, failed, there is no memory for it, or
 * every joiner of its flight has left (fc_flight_unwanted()).
 * Any thread.
 */
void
fc_jobs_load (FcJobs         *jobs,
              FcCache        *cache,
              FcCacheLoad    *load,
              int             fd,
              const FcFileId *id)
{
  Job *work = g_new0 (Job, 1);

  *work = (Job) { .kind = JOB_LOAD, .fd = fd, .id = *id, .cache = cache, .load = load,
                  .flight = fc_flight_ref (fc_cache_load_flight (load)) };
  jobs_push (jobs, work, id->size);
}

/**
 * fc_jobs_list:
 * @jobs: a pool
 * @flight: (transfer none): a flight in progress, which the job lands:
 *   with the listing (a #GBytes of fc_dir_index_listing(),
 *   fc_flight_steal_result()), or with an error as fc_dir_index_read_dir()
 *   or the budget refuses
 * @root_fd: the served directory; must outlive @jobs
 * @dir_fd: (transfer full): the directory @name, opened with
 *   fc_open_dir_beneath()
 * @name: that directory's name from the root, "" for the root; copied
 * @json: as for fc_dir_index_listing()
 * @listing_held: (not nullable): the listings' budget the text is
 *   charged to; must outlive @jobs
 * @dir_size: the directory's st_size: its place in the queue
 *
 * Lists a directory in the pool (HTTP.md "Directories"), with the bound
 * of %FC_DIR_INDEX_MAX_ENTRIES; gives up once every joiner of @flight
 * has left (fc_flight_unwanted()), even before it starts. Any thread.
 */
void
fc_jobs_list (FcJobs        *jobs,
              FcFlight      *flight,
              int            root_fd,
              int            dir_fd,
              const char    *name,
              gboolean       json,
              atomic_size_t *listing_held,
              guint64        dir_size)
{
  Job *work = g_new0 (Job, 1);

  *work = (Job) { .kind = JOB_LIST, .fd = dir_fd, .root_fd = root_fd, .name = g_strdup (name),
                  .json = json, .listing_held = listing_held, .flight = fc_flight_ref (flight) };
  jobs_push (jobs, work, MIN (dir_size, G_MAXUINT64 / JOB_LIST_WEIGHT) * JOB_LIST_WEIGHT);
}

/**
 * fc_jobs_free:
 * @jobs: a pool
 *
 * Runs the jobs still queued and waits for all to end: call
 * fc_abandon_long_work() first, and each gives up at its next slice.
 */
void
fc_jobs_free (FcJobs *jobs)
{
  if (jobs->pool != NULL)
    g_thread_pool_free (jobs->pool, FALSE, TRUE);
  g_free (jobs);
}
