#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "fetch.h"
#include "names.h"
#include "progress.h"

/* Keeps ".NAME.XXXXXX" within NAME_MAX (255) whatever the length of NAME. */
#define TMP_NAME_PART_MAX 200

#define CHUNK_SIZE (64 * 1024)

/* The temporary file being filled, for the signal handler: nothing else
 * would remove it when the user interrupts a long transfer. */
static const char *volatile signal_unlink_path;

/* Signals a user can send that end the process by default. Not SIGPIPE:
 * GSocket ignores it process-wide, so a closed stderr is an EPIPE. */
static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
unlink_and_die (int signum)
{
  const char *path = signal_unlink_path;

  if (path != NULL)
    unlink (path);
  /* SA_RESETHAND restored the default action: die of the same signal. */
  raise (signum);
}

/**
 * fcc_fetch_clean_up_on_signals:
 *
 * Makes the signals that would end the process (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, unless ignored already) remove the temporary file of
 * a transfer in progress first, and turns a file size limit (`ulimit -f`) from a silent death by
 * SIGXFSZ into a write error (EFBIG) that is reported and cleaned up
 * like any other.
 */
void
fcc_fetch_clean_up_on_signals (void)
{
  struct sigaction action = { 0 };

  action.sa_handler = unlink_and_die;
  action.sa_flags = SA_RESETHAND;
  /* One at a time: the process dies of the first. */
  sigemptyset (&action.sa_mask);
  for (gsize i = 0; i < G_N_ELEMENTS (fatal_signals); i++)
    sigaddset (&action.sa_mask, fatal_signals[i]);

  for (gsize i = 0; i < G_N_ELEMENTS (fatal_signals); i++)
    {
      struct sigaction old;

      /* One ignored on entry stays so: `nohup filecache get` must outlive
       * its terminal. */
      if (sigaction (fatal_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction (fatal_signals[i], &action, NULL);
    }
  signal (SIGXFSZ, SIG_IGN);
}

/* Blocks (@block) or unblocks the fatal signals, so that a temporary file
 * is never created without the handler knowing its name. */
static void
block_fatal_signals (gboolean block)
{
  sigset_t set;

  sigemptyset (&set);
  for (gsize i = 0; i < G_N_ELEMENTS (fatal_signals); i++)
    sigaddset (&set, fatal_signals[i]);
  sigprocmask (block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}


static void G_GNUC_PRINTF (3, 4)
set_error_from_errno (GError     **error,
                      int          saved_errno,
                      const char  *format,
                      ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "%s: %s", what, g_strerror (saved_errno));
}

/* Errors name @path, the file the user asked for, not the hidden
 * temporary one @fd refers to: ENOSPC, EDQUOT, EFBIG, EIO. */
static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          len,
           const char    *path,
           GError       **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
          return FALSE;
        }
      /* A short write (a limit or a full disk reached midway) is retried:
       * the next write says why it cannot go on. */
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Where one name is saved, and the hidden files beside it. */
typedef struct {
  char *path;         /* (owned): the file, under the output folder */
  char *folder;       /* (owned): the folder holding it */
  char *hidden_base;  /* (owned): ".BASE", BASE cut to TMP_NAME_PART_MAX bytes */
  char *part_path;    /* (owned): ".BASE.part", a resumable transfer */
  char *digest_path;  /* (owned): ".BASE.part.sha256", the digest it belongs to */
} Target;

static void
target_init (Target     *target,
             const char *dir,
             const char *name)
{
  const char *slash = strrchr (name, '/');
  const char *base = slash != NULL ? slash + 1 : name;
  g_autofree char *part_name = NULL;
  g_autofree char *digest_name = NULL;

  target->path = g_build_filename (dir, name, NULL);
  target->folder = g_path_get_dirname (target->path);
  /* Two long names that share their first TMP_NAME_PART_MAX bytes share
   * these files too; the digest kept with a part keeps one from being
   * resumed with the other's bytes. */
  target->hidden_base = g_strdup_printf (".%.*s", (int) MIN (strlen (base), TMP_NAME_PART_MAX),
                                         base);
  part_name = g_strconcat (target->hidden_base, ".part", NULL);
  digest_name = g_strconcat (part_name, ".sha256", NULL);
  target->part_path = g_build_filename (target->folder, part_name, NULL);
  target->digest_path = g_build_filename (target->folder, digest_name, NULL);
}

static void
target_clear (Target *target)
{
  g_clear_pointer (&target->path, g_free);
  g_clear_pointer (&target->folder, g_free);
  g_clear_pointer (&target->hidden_base, g_free);
  g_clear_pointer (&target->part_path, g_free);
  g_clear_pointer (&target->digest_path, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Target, target_clear)

struct _FccFetcher {
  FccConn *conn;            /* (unowned) */
  FccFetchOptions options;  /* its dir (unowned) outlives the fetcher */
  gboolean server_1_0;      /* the server answered a STAT with ERR 400 */
};

/* A mismatch or a changed file is tried again once, from a fresh STAT. */
#define ATTEMPTS 2

/**
 * fcc_fetch_check_names:
 * @names: (array zero-terminated=1): the names given to `filecache get`
 *
 * Checks, before anything is fetched, that each name is one the protocol
 * allows (and so a relative path without "." or ".."), and that no two
 * would be saved to one file: neither the same name twice nor a name and
 * another inside it ("a" and "a/b").
 *
 * Returns: %FALSE with @error set (in %FCC_ERROR_BAD_NAME) otherwise
 */
gboolean
fcc_fetch_check_names (const char *const  *names,
                       GError            **error)
{
  g_autoptr(GHashTable) given = g_hash_table_new (g_str_hash, g_str_equal);

  for (const char *const *name = names; *name != NULL; name++)
    {
      g_autoptr(GError) local_error = NULL;

      if (!fc_name_validate (*name, strlen (*name), &local_error))
        {
          g_set_error (error, FCC_ERROR, FCC_ERROR_BAD_NAME, "%s: %s", *name,
                       local_error->message);
          return FALSE;
        }
      if (!g_hash_table_add (given, (gpointer) *name))
        {
          g_set_error (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                       _("%s: given twice; it would be saved twice to one file"), *name);
          return FALSE;
        }
    }

  for (const char *const *name = names; *name != NULL; name++)
    for (const char *slash = strchr (*name, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
      {
        g_autofree char *folder = g_strndup (*name, slash - *name);

        if (g_hash_table_contains (given, folder))
          {
            g_set_error (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                         _("%s and %s cannot both be saved: the first would be a folder, the second a file"),
                         *name, folder);
            return FALSE;
          }
      }
  return TRUE;
}

/**
 * fcc_fetcher_new:
 * @conn: (transfer none): the connection to fetch over; it must outlive
 *   the fetcher
 * @options: (transfer none): copied, but not the folder it names
 *
 * Returns: (transfer full): a fetcher, which remembers from one name to
 *   the next whether the server speaks protocol 1.1
 */
FccFetcher *
fcc_fetcher_new (FccConn               *conn,
                 const FccFetchOptions *options)
{
  FccFetcher *fetcher = g_new0 (FccFetcher, 1);

  fetcher->conn = conn;
  fetcher->options = *options;
  return fetcher;
}

void
fcc_fetcher_free (FccFetcher *fetcher)
{
  g_free (fetcher);
}

/* Reads the body whose status line was just read, @body_size bytes, into
 * @fd, adding them to @checksum if not %NULL. @resumed bytes of the file
 * were there already. */
static gboolean
receive (FccConn     *conn,
         const char  *label,
         int          fd,
         const char  *path,
         guint64      resumed,
         guint64      body_size,
         GChecksum   *checksum,
         GError     **error)
{
  g_autofree guint8 *chunk = g_malloc (CHUNK_SIZE);
  g_auto(FccProgress) progress = { 0 };

  fcc_progress_begin (&progress, label, resumed + body_size, resumed);
  for (guint64 done = 0; done < body_size;)
    {
      gssize n = fcc_conn_read_body (conn, chunk, CHUNK_SIZE, error);

      if (n < 0 || !write_all (fd, chunk, n, path, error))
        return FALSE;
      if (checksum != NULL)
        g_checksum_update (checksum, chunk, n);
      done += n;
      fcc_progress_update (&progress, resumed + done);
    }
  return TRUE;
}

/* Without it, a crash soon after the rename could leave an empty file
 * under the final name on filesystems that allocate blocks late; and a
 * full disk or quota may only show here. Then closes @fd: a network
 * filesystem may report a full disk only then. The first error is the
 * one reported; @ok says whether there was one already. */
static gboolean
sync_and_close (int          fd,
                const char  *path,
                gboolean     ok,
                GError     **error)
{
  int saved_errno;

  if (ok && fsync (fd) != 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
      ok = FALSE;
    }
  if (close (fd) != 0 && errno != EINTR && ok)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
      ok = FALSE;
    }
  return ok;
}

static gboolean
rename_into_place (const char  *from,
                   const char  *to,
                   GError     **error)
{
  int saved_errno;

  if (g_rename (from, to) == 0)
    return TRUE;

  saved_errno = errno;
  set_error_from_errno (error, saved_errno, _("cannot rename %s to %s"), from, to);
  return FALSE;
}

static gboolean
check_digest (GChecksum   *checksum,
              const char  *digest,
              GError     **error)
{
  if (strcmp (g_checksum_get_string (checksum), digest) == 0)
    return TRUE;
  g_set_error (error, FCC_ERROR, FCC_ERROR_MISMATCH,
               _("the content received does not have the SHA-256 that the server announced"));
  return FALSE;
}

/* Adds what is left of @fd to @checksum; @count gets how many bytes that was. */
static gboolean
hash_rest (int          fd,
           const char  *path,
           GChecksum   *checksum,
           guint64     *count,
           GError     **error)
{
  g_autofree guint8 *chunk = g_malloc (CHUNK_SIZE);

  *count = 0;
  for (;;)
    {
      ssize_t n = read (fd, chunk, CHUNK_SIZE);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          set_error_from_errno (error, saved_errno, _("cannot read %s"), path);
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      g_checksum_update (checksum, chunk, n);
      *count += n;
    }
}

/* Whether the file at @path already has @size bytes and @digest. One
 * that cannot be read is taken as different: it is fetched again. */
static gboolean
has_digest (const char *path,
            guint64     size,
            const char *digest)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  GStatBuf st;
  guint64 count;
  gboolean ok;
  int fd;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size != size)
    return FALSE;
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  ok = hash_rest (fd, path, checksum, &count, NULL);
  close (fd);
  return ok && count == size && strcmp (g_checksum_get_string (checksum), digest) == 0;
}

/* Fetches @name into a temporary file that is renamed into place only
 * when complete, and (with @digest) only if it has @digest; a failure
 * leaves neither a partial file nor a clobbered old one. Without @digest
 * (protocol 1.0) a plain GET. */
static gboolean
fetch_whole (FccFetcher   *fetcher,
             const char   *name,
             Target       *target,
             const char   *digest,
             GError      **error)
{
  g_autofree char *tmp_path = g_strconcat (target->folder, G_DIR_SEPARATOR_S,
                                           target->hidden_base, ".XXXXXX", NULL);
  g_autoptr(GChecksum) checksum = digest != NULL ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  guint64 size;
  int fd;
  int saved_errno;
  gboolean ok;

  block_fatal_signals (TRUE);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  saved_errno = errno;
  if (fd >= 0)
    signal_unlink_path = tmp_path;
  block_fatal_signals (FALSE);
  if (fd < 0)
    {
      set_error_from_errno (error, saved_errno, _("cannot create a file in %s"), target->folder);
      return FALSE;
    }

  ok = digest != NULL
       ? fcc_conn_get_from (fetcher->conn, name, 0, digest, &size, error)
       : fcc_conn_get (fetcher->conn, name, &size, error);
  ok = ok && receive (fetcher->conn, name, fd, target->path, 0, size, checksum, error);
  ok = ok && (checksum == NULL || check_digest (checksum, digest, error));
  ok = sync_and_close (fd, target->path, ok, error);
  ok = ok && rename_into_place (tmp_path, target->path, error);
  if (!ok)
    g_unlink (tmp_path);
  /* Only now: a signal in between finds the path already gone, harmlessly. */
  signal_unlink_path = NULL;
  return ok;
}

/* Opens the part file of @target to go on filling it: what it holds is
 * added to @checksum and counted in @offset if it belongs to @digest, is
 * no longer than @size, and can be read; otherwise it is emptied, and
 * marked as belonging to @digest. */
static int
open_part (Target      *target,
           const char  *digest,
           guint64      size,
           GChecksum   *checksum,
           guint64     *offset,
           GError     **error)
{
  g_autofree char *kept = NULL;
  g_autofree char *mark = NULL;
  gsize kept_len;
  int saved_errno;
  int fd;

  *offset = 0;
  if (g_file_get_contents (target->digest_path, &kept, &kept_len, NULL) &&
      kept_len == FCC_DIGEST_HEX_LEN + 1 && strncmp (kept, digest, FCC_DIGEST_HEX_LEN) == 0)
    {
      fd = g_open (target->part_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
      /* Reading it through leaves the file offset at its end. */
      if (fd >= 0 && hash_rest (fd, target->part_path, checksum, offset, NULL) && *offset <= size)
        return fd;
      if (fd >= 0)
        close (fd);
      g_checksum_reset (checksum);
      *offset = 0;
    }

  /* Emptied before it is marked as another version's: a crash in
   * between leaves an empty part, never old bytes under a new digest. */
  fd = g_open (target->part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot create %s"), target->part_path);
      return -1;
    }
  mark = g_strconcat (digest, "\n", NULL);
  if (!g_file_set_contents (target->digest_path, mark, -1, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

static void
remove_part (Target *target)
{
  g_unlink (target->part_path);
  g_unlink (target->digest_path);
}

/* Like fetch_whole(), through the part file, which a failure leaves to be
 * resumed from unless what it holds is known to be wrong. */
static gboolean
fetch_resumable (FccFetcher   *fetcher,
                 const char   *name,
                 Target       *target,
                 guint64       size,
                 const char   *digest,
                 GError      **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GError) local_error = NULL;
  guint64 offset;
  guint64 body_size;
  gboolean ok;
  int fd;

  fd = open_part (target, digest, size, checksum, &offset, error);
  if (fd < 0)
    return FALSE;

  ok = fcc_conn_get_from (fetcher->conn, name, offset, digest, &body_size, &local_error);
  ok = ok && receive (fetcher->conn, name, fd, target->path, offset, body_size, checksum,
                      &local_error);
  ok = ok && check_digest (checksum, digest, &local_error);
  ok = sync_and_close (fd, target->path, ok, &local_error);
  ok = ok && rename_into_place (target->part_path, target->path, &local_error);

  /* Bytes of another version, or bytes that went wrong somewhere. */
  if (g_error_matches (local_error, FCC_ERROR, FCC_ERROR_CHANGED) ||
      g_error_matches (local_error, FCC_ERROR, FCC_ERROR_MISMATCH))
    remove_part (target);
  if (ok)
    g_unlink (target->digest_path);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return ok;
}

static gboolean
make_folder (Target  *target,
             GError **error)
{
  int saved_errno;

  if (g_mkdir_with_parents (target->folder, 0755) == 0)
    return TRUE;
  saved_errno = errno;
  set_error_from_errno (error, saved_errno, _("cannot create the folder %s"), target->folder);
  return FALSE;
}

/* One try at @name: STAT, then GETFROM of that version, or a plain GET
 * from a protocol 1.0 server. */
static FccFetchResult
fetch_once (FccFetcher  *fetcher,
            const char  *name,
            Target      *target,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  char digest[FCC_DIGEST_HEX_LEN + 1];
  guint64 size;
  gboolean ok;

  if (!fetcher->server_1_0 &&
      !fcc_conn_stat (fetcher->conn, name, &size, digest, &local_error))
    {
      /* The name is valid: only a server without STAT refuses it so. */
      if (!g_error_matches (local_error, FCC_ERROR, FCC_ERROR_BAD_REQUEST))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FCC_FETCH_FAILED;
        }
      fetcher->server_1_0 = TRUE;
    }
  if (fetcher->server_1_0)
    return fetch_whole (fetcher, name, target, NULL, error)
           ? FCC_FETCH_UNVERIFIED : FCC_FETCH_FAILED;

  if (fetcher->options.skip_identical && has_digest (target->path, size, digest))
    return FCC_FETCH_SKIPPED;

  ok = fetcher->options.resume
       ? fetch_resumable (fetcher, name, target, size, digest, error)
       : fetch_whole (fetcher, name, target, digest, error);
  return ok ? FCC_FETCH_VERIFIED : FCC_FETCH_FAILED;
}

/**
 * fcc_fetcher_get:
 * @name: a name checked by fcc_fetch_check_names()
 *
 * Fetches @name into the output folder under the same relative path,
 * creating the folders it needs. From a protocol 1.1 server: asks STAT
 * for its size and SHA-256, fetches exactly that version with GETFROM,
 * hashing while writing, and renames it into place only if the digest
 * matches; a mismatch or an ERR 412 is tried again once from a fresh
 * STAT. With the options: resumes from and keeps a part file
 * (`resume`), or leaves a local file that already has the server's
 * digest (`skip_identical`). A server that answers STAT with ERR 400
 * speaks protocol 1.0: the file is then fetched with GET, unverified,
 * and so are the next ones. A server that closes the connection in order
 * before any byte of a reply (one that is stopping) is connected to
 * again, and @name asked again from its STAT, once. After a failure,
 * fcc_conn_usable() tells whether the connection can go on with another
 * name.
 *
 * Returns: what was done; %FCC_FETCH_FAILED with @error set on failure
 */
FccFetchResult
fcc_fetcher_get (FccFetcher  *fetcher,
                 const char  *name,
                 GError     **error)
{
  g_auto(Target) target = { 0 };
  gboolean reconnected = FALSE;
  guint attempt = 1;

  target_init (&target, fetcher->options.dir, name);
  if (!make_folder (&target, error))
    return FCC_FETCH_FAILED;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      FccFetchResult result = fetch_once (fetcher, name, &target, &local_error);

      if (result != FCC_FETCH_FAILED)
        return result;

      /* Every request here is idempotent, and one the server closed on
       * without a byte of reply may never have reached it (RFC 9112,
       * 9.3.1). Once only: a server that does so every time is broken. */
      if (g_error_matches (local_error, FCC_ERROR, FCC_ERROR_UNANSWERED) && !reconnected)
        {
          reconnected = TRUE;
          if (!fcc_conn_reopen (fetcher->conn, error))
            return FCC_FETCH_FAILED;
          continue;
        }

      if (!g_error_matches (local_error, FCC_ERROR, FCC_ERROR_CHANGED) &&
          !g_error_matches (local_error, FCC_ERROR, FCC_ERROR_MISMATCH))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FCC_FETCH_FAILED;
        }
      if (attempt == ATTEMPTS || !fcc_conn_usable (fetcher->conn))
        {
          g_prefix_error (&local_error, _("tried %u times: "), attempt);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FCC_FETCH_FAILED;
        }
      attempt++;
    }
}
