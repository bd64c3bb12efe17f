#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "abandon.h"
#include "digest.h"
#include "errors.h"
#include "file-read.h"
#include "settle.h"

/* An entry is computing (a job: one thread hashes, other requests join
 * its flight) or ready. Ready entries are in LRU order; past max_entries
 * the least recently used goes. A job is never dropped, so at most
 * max_entries plus the jobs in progress are held. */
struct _FcDigestEntry {
  FcFileId id;                  /* also the table's key */
  guint8 digest[FC_DIGEST_LEN];
  FcFlight *flight;             /* (owned) (nullable): while computing */
  GList link;                   /* in FcDigests.lru while ready */
  guint refs;
  gboolean computing;
  gboolean in_table;
};

typedef struct _FcDigestEntry Entry;

struct _FcDigests {
  GMutex lock;
  GHashTable *table;            /* FcFileId → Entry: one ref */
  GQueue lru;                   /* ready entries, most recently used first */
  guint max_entries;
};

static guint
id_hash (gconstpointer key)
{
  const FcFileId *id = key;

  return (guint) (id->ino ^ (id->ino >> 32) ^ id->dev ^ id->size ^
                  (guint64) id->mtime_ns ^ ((guint64) id->ctime_ns >> 7));
}

static gboolean
id_equal (gconstpointer a,
          gconstpointer b)
{
  return fc_file_id_equal (a, b);
}

/**
 * fc_digests_new:
 * @max_entries: how many ready digests to keep, at least 1; each costs
 *   about 120 bytes
 *
 * Returns: (transfer full): an empty table, safe to share between threads
 */
FcDigests *
fc_digests_new (guint max_entries)
{
  FcDigests *digests = g_new0 (FcDigests, 1);

  g_mutex_init (&digests->lock);
  digests->table = g_hash_table_new (id_hash, id_equal);
  g_queue_init (&digests->lru);
  digests->max_entries = MAX (max_entries, 1);
  return digests;
}

void
fc_digests_free (FcDigests *digests)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, digests->table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_free (value);
  g_hash_table_unref (digests->table);
  g_mutex_clear (&digests->lock);
  g_free (digests);
}

static void
entry_unref (Entry *entry)
{
  if (--entry->refs == 0)
    g_free (entry);
}

static void
entry_remove (FcDigests *digests,
              Entry     *entry)
{
  g_hash_table_remove (digests->table, &entry->id);
  entry->in_table = FALSE;
  if (!entry->computing)
    g_queue_unlink (&digests->lru, &entry->link);
  entry_unref (entry);
}

/* With @start FALSE, a version neither known nor computing is
 * FC_DIGEST_WAIT with no flight, and no job is made. */
static FcDigestLookup
lookup (FcDigests       *digests,
        const FcFileId  *id,
        guint8           digest[FC_DIGEST_LEN],
        FcDigestJob    **job,
        FcFlight       **flight,
        gboolean         start)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&digests->lock);
  Entry *entry = g_hash_table_lookup (digests->table, id);

  if (entry != NULL && !entry->computing)
    {
      g_queue_unlink (&digests->lru, &entry->link);
      g_queue_push_head_link (&digests->lru, &entry->link);
      memcpy (digest, entry->digest, FC_DIGEST_LEN);
      return FC_DIGEST_READY;
    }
  if (entry != NULL)
    {
      if (flight != NULL)
        *flight = fc_flight_ref (entry->flight);
      return FC_DIGEST_WAIT;
    }
  if (!start)
    return FC_DIGEST_WAIT;

  *job = g_new0 (Entry, 1);
  (*job)->id = *id;
  (*job)->link.data = *job;
  (*job)->flight = fc_flight_new ();
  (*job)->computing = TRUE;
  (*job)->in_table = TRUE;
  (*job)->refs = 2;
  g_hash_table_insert (digests->table, &(*job)->id, *job);
  return FC_DIGEST_COMPUTE;
}

/**
 * fc_digests_lookup:
 * @digests: a table
 * @id: the version wanted
 * @digest: (out caller-allocates): with %FC_DIGEST_READY, its SHA-256
 * @job: (out): with %FC_DIGEST_COMPUTE, the job the caller must end with
 *   fc_digests_finish() or fc_digests_abort()
 * @flight: (out) (transfer full) (optional): with %FC_DIGEST_WAIT, the computation
 *   of the same version in progress (single flight), to join: once it
 *   lands, look again (a failed one leaves no entry, so the next lookup
 *   computes)
 *
 * Any thread; never blocks but on the table's lock.
 */
FcDigestLookup
fc_digests_lookup (FcDigests       *digests,
                   const FcFileId  *id,
                   guint8           digest[FC_DIGEST_LEN],
                   FcDigestJob    **job,
                   FcFlight       **flight)
{
  return lookup (digests, id, digest, job, flight, TRUE);
}

/**
 * fc_digests_peek:
 * @digests: a table
 * @id: the version wanted
 * @digest: (out caller-allocates): its SHA-256, when %TRUE
 *
 * The digest only if it is known already: nothing is computed, nothing
 * waited for (HTTP.md: without `Want-Repr-Digest`, `Repr-Digest` is sent
 * only when the daemon has it). Counts as a use for the LRU. Any thread.
 *
 * Returns: whether @digest was filled
 */
gboolean
fc_digests_peek (FcDigests      *digests,
                 const FcFileId *id,
                 guint8          digest[FC_DIGEST_LEN])
{
  FcDigestJob *job = NULL;

  return lookup (digests, id, digest, &job, NULL, FALSE) == FC_DIGEST_READY;
}

/**
 * fc_digests_job_flight:
 * @job: a job in progress
 *
 * Returns: (transfer none): the flight that lands when @job ends: its
 *   requester joins it too when the work is done elsewhere
 */
FcFlight *
fc_digests_job_flight (FcDigestJob *job)
{
  return job->flight;
}

static void
job_end (FcDigests    *digests,
         FcDigestJob  *job,
         const guint8 *digest,
         const GError *error)
{
  g_autoptr(FcFlight) flight = NULL;

  g_mutex_lock (&digests->lock);
  /* Out of the table while still computing: it was never in the LRU
   * queue, so it must not be unlinked from it. */
  if (job->in_table && digest == NULL)
    entry_remove (digests, job);
  job->computing = FALSE;
  flight = g_steal_pointer (&job->flight);
  if (job->in_table)
    {
      memcpy (job->digest, digest, FC_DIGEST_LEN);
      g_queue_push_head_link (&digests->lru, &job->link);
      while (digests->lru.length > digests->max_entries)
        entry_remove (digests, digests->lru.tail->data);
    }
  entry_unref (job);
  g_mutex_unlock (&digests->lock);

  /* Unlocked: a joiner may look the table up again at once. */
  fc_flight_land (flight, error);
}

/**
 * fc_digests_finish:
 * @digests: a table
 * @job: (transfer full): a job from fc_digests_lookup()
 * @digest: the SHA-256 of exactly the version the job names
 *
 * Keeps @digest for later lookups only once any change to the file would
 * stamp another ctime (fc_settle_cacheable(), the cache's racy-entry
 * rule): until then a same-length rewrite could keep the identity, and
 * the digest would outlive its content. Waiters then look again.
 */
void
fc_digests_finish (FcDigests    *digests,
                   FcDigestJob  *job,
                   const guint8  digest[FC_DIGEST_LEN])
{
  gboolean settled = fc_settle_check (&job->id, NULL, fc_settle_cacheable);

  job_end (digests, job, settled ? digest : NULL, NULL);
}

/**
 * fc_digests_abort:
 * @digests: a table
 * @job: (transfer full): a job that could not be done (the file changed
 *   or failed): those who joined its flight look again
 * @error: why, handed to them
 */
void
fc_digests_abort (FcDigests    *digests,
                  FcDigestJob  *job,
                  const GError *error)
{
  job_end (digests, job, NULL, error);
}

/**
 * fc_digest_of_bytes:
 * @bytes: content
 * @digest: (out caller-allocates): its SHA-256
 */
void
fc_digest_of_bytes (GBytes *bytes,
                    guint8  digest[FC_DIGEST_LEN])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size;
  const guchar *data = g_bytes_get_data (bytes, &size);
  gsize len = FC_DIGEST_LEN;

  /* GChecksum takes a gssize. */
  for (gsize done = 0; done < size; done += MIN (size - done, G_MAXSSIZE))
    g_checksum_update (checksum, data + done, (gssize) MIN (size - done, G_MAXSSIZE));
  g_checksum_get_digest (checksum, digest, &len);
}

/**
 * fc_digest_of_file:
 * @fd: an open file
 * @id: its identity when opened
 * @buf: (out caller-allocates): scratch space, @buf_size bytes plus one
 * @buf_size: how much to read at a time
 * @digest: (out caller-allocates): the SHA-256 of the version @id names
 * @wanted_by: (nullable): the flight the digest lands, for work that
 *   gives up once nobody waits for it; %NULL: done in any case
 * @error: as for fc_file_read_at(): %G_IO_ERROR_BUSY when the file
 *   changed (start over), %FC_ERROR_SIZE_MISMATCH, %FC_ERROR_READ_FAILED;
 *   or %G_IO_ERROR_CANCELLED when the daemon stops (fc_abandon_long_work())
 *   or every joiner of @wanted_by has left
 *
 * Every piece hashed is proved to belong to that version, so a digest is
 * never given for bytes other than those it describes. Any thread.
 */
gboolean
fc_digest_of_file (int              fd,
                   const FcFileId  *id,
                   char            *buf,
                   gsize            buf_size,
                   guint8           digest[FC_DIGEST_LEN],
                   FcFlight        *wanted_by,
                   GError         **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  FcFileId proved = *id;
  guint64 offset = 0;
  gsize len = FC_DIGEST_LEN;

  do
    {
      gsize want = (gsize) MIN (id->size - offset, buf_size);

      if (!fc_long_work_go_on (wanted_by, N_("Hashing abandoned: the daemon is stopping"),
                               N_("Hashing abandoned: nobody waits for it any more"), error))
        return FALSE;
      if (!fc_file_read_at (fd, &proved, offset, buf, want, error))
        return FALSE;
      g_checksum_update (checksum, (const guchar *) buf, (gssize) want);
      offset += want;
    }
  while (offset < id->size);

  g_checksum_get_digest (checksum, digest, &len);
  return TRUE;
}

/**
 * fc_digest_to_hex:
 * @digest: a SHA-256
 * @hex: (out caller-allocates): its 64 lowercase hex digits, no NUL
 */
void
fc_digest_to_hex (const guint8 digest[FC_DIGEST_LEN],
                  char         hex[FC_DIGEST_HEX_LEN])
{
  static const char digits[] = "0123456789abcdef";

  for (guint i = 0; i < FC_DIGEST_LEN; i++)
    {
      hex[2 * i] = digits[digest[i] >> 4];
      hex[2 * i + 1] = digits[digest[i] & 0xf];
    }
}

/**
 * fc_digest_from_hex:
 * @hex: at least 64 characters
 * @digest: (out caller-allocates): the digest they spell
 *
 * Returns: whether the first 64 characters are lowercase hex digits
 *   (PROTOCOL.md 1.1: upper case is not a digest)
 */
gboolean
fc_digest_from_hex (const char *hex,
                    guint8      digest[FC_DIGEST_LEN])
{
  for (guint i = 0; i < FC_DIGEST_HEX_LEN; i++)
    {
      char c = hex[i];
      guint v;

      if (c >= '0' && c <= '9')
        v = (guint) (c - '0');
      else if (c >= 'a' && c <= 'f')
        v = (guint) (c - 'a' + 10);
      else
        return FALSE;
      if (i % 2 == 0)
        digest[i / 2] = (guint8) (v << 4);
      else
        digest[i / 2] |= (guint8) v;
    }
  return TRUE;
}
