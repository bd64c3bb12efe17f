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
#include "i18n.h"
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

/* Whether the content received, @received bytes hashed into @checksum,
 * is the version STAT announced: @announced bytes with @digest. A length
 * of its own is the clearer cause, so it is named first. */
static gboolean
check_version (GChecksum   *checksum,
               guint64      received,
               const char  *digest,
               guint64      announced,
               GError     **error)
{
  if (received != announced)
    g_set_error (error, FCC_ERROR, FCC_ERROR_MISMATCH,
                 _("the server sent %llu bytes of a file it announced as %llu bytes"),
                 (unsigned long long) received, (unsigned long long) announced);
  else if (strcmp (g_checksum_get_string (checksum), digest) != 0)
    g_set_error (error, FCC_ERROR, FCC_ERROR_MISMATCH,
                 _("the content received does not have the SHA-256 that the server announced"));
  else
    return TRUE;
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
  /* Never blocks on a FIFO put there since the stat. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return FALSE;
    }
  ok = hash_rest (fd, path, checksum, &count, NULL);
  close (fd);
  return ok && count == size && strcmp (g_checksum_get_string (checksum), digest) == 0;
}

/* Without it, a crash soon after the rename could leave an empty file
 * under the final name on filesystems that allocate blocks late; and a
 * full disk or quota may only show here. */
static gboolean
sync_file (int          fd,
           const char  *path,
           GError     **error)
{
  int saved_errno;

  if (fsync (fd) == 0)
    return TRUE;
  saved_errno = errno;
  set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
  return FALSE;
}

/* After fsync() a close reports nothing that matters: the bytes are on
 * disk, and a network filesystem's late ENOSPC showed in the fsync. */
static void
close_quietly (int fd)
{
  if (fd >= 0)
    close (fd);
}

static const char *
file_kind (mode_t mode)
{
  if (S_ISFIFO (mode))
    return _("a FIFO");
  if (S_ISLNK (mode))
    return _("a symbolic link");
  if (S_ISCHR (mode))
    return _("a character device");
  if (S_ISBLK (mode))
    return _("a block device");
  if (S_ISSOCK (mode))
    return _("a socket");
  if (S_ISDIR (mode))
    return _("a folder");
  return _("not a regular file");
}

static void
set_not_regular (GError     **error,
                 const char  *path,
                 mode_t       mode)
{
  g_set_error (error, FCC_ERROR, FCC_ERROR_NOT_REGULAR,
               _("%s is %s, not a regular file: it is neither read nor written (remove it to go on)"),
               path, file_kind (mode));
}

static void
set_hard_linked (GError     **error,
                 const char  *path,
                 nlink_t      links)
{
  g_set_error (error, FCC_ERROR, FCC_ERROR_NOT_REGULAR,
               _("%s is one file with %lu names (hard links, as rsnapshot or cp -al make): it is neither read nor written, as writing it would change the other names too (remove it to go on)"),
               path, (unsigned long) links);
}

/* Opens @path, a hidden file of the client's own, only if it is a
 * regular file with no other name: a FIFO or a device planted under its
 * name would block open() or read() for ever, or do worse, a symbolic
 * link would make the client write elsewhere, and a hard link (a backup
 * tree made with cp -al) would make it write into another file. lstat()
 * first, so that no device is even opened; then O_NOFOLLOW | O_NONBLOCK
 * and fstat() for what may have taken its place in between, and for the
 * link count. Never O_TRUNC: that would empty the file before the checks. */
static int
open_regular (const char  *path,
              int          flags,
              GError     **error)
{
  struct stat st;
  int saved_errno;
  int fd;

  g_assert (!(flags & O_TRUNC));
  if (lstat (path, &st) == 0 && !S_ISREG (st.st_mode))
    {
      set_not_regular (error, path, st.st_mode);
      return -1;
    }
  fd = open (path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == ELOOP)
        set_not_regular (error, path, S_IFLNK);
      else
        set_error_from_errno (error, saved_errno, _("cannot open %s"), path);
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      set_not_regular (error, path, st.st_mode);
      close (fd);
      return -1;
    }
  if (st.st_nlink > 1)
    {
      set_hard_linked (error, path, st.st_nlink);
      close (fd);
      return -1;
    }
  /* Regular files ignore it; dropped so that nothing else ever sees it. */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

/* Whether @path names the very file open as @fd (not a link to it). */
static gboolean
names_file (const char *path,
            int         fd)
{
  struct stat ours;
  struct stat named;

  return fstat (fd, &ours) == 0 && lstat (path, &named) == 0 &&
         ours.st_dev == named.st_dev && ours.st_ino == named.st_ino;
}

/* Hashes the whole file open as @fd, read back from the disk (pread:
 * the file offset stays), and checks it is @size bytes with @digest. */
static gboolean
file_has_digest (int          fd,
                 const char  *path,
                 guint64      size,
                 const char  *digest,
                 GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *chunk = g_malloc (CHUNK_SIZE);
  guint64 offset = 0;

  for (;;)
    {
      ssize_t n = pread (fd, chunk, CHUNK_SIZE, offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          set_error_from_errno (error, saved_errno, _("cannot read back %s"), path);
          return FALSE;
        }
      if (n == 0)
        break;
      g_checksum_update (checksum, chunk, n);
      offset += n;
    }
  return offset == size && strcmp (g_checksum_get_string (checksum), digest) == 0;
}

static void
set_tampered (GError     **error,
              const char  *path,
              const char  *what)
{
  g_set_error (error, FCC_ERROR, FCC_ERROR_TAMPERED,
               _("%s: %s; it was not saved as %s"), path, what, path);
}

/* Renames @from, a name of the file open as @fd, to the target's path,
 * then checks that the target's path now names that file. rename() goes
 * by name: another writer that renames its own file over @from just
 * before it gets its file saved as NAME. That cannot be undone (the file
 * NAME held is gone), but it is told, so that exit 0 stays true. */
static gboolean
move_into_place (int          fd,
                 const char  *from,
                 Target      *target,
                 GError     **error)
{
  int saved_errno;

  if (g_rename (from, target->path) != 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot rename %s to %s"), from, target->path);
      return FALSE;
    }
  if (!names_file (target->path, fd))
    {
      g_autofree char *what = g_strdup_printf (_("the file now at %s is not the one this process wrote: another writer put its own file in the place of %s just before the rename"),
                                               target->path, from);

      g_set_error (error, FCC_ERROR, FCC_ERROR_TAMPERED, "%s", what);
      return FALSE;
    }
  return TRUE;
}

/* Gives the unnamed file @fd (O_TMPFILE) a fresh name beside the target,
 * one no other process knows, so that it can be renamed into place.
 * Through /proc, as linkat(AT_EMPTY_PATH) needs a privilege. The signal
 * handler removes the name if the process is ended before the rename. */
static char *
link_unnamed (int          fd,
              Target      *target,
              GError     **error)
{
  g_autofree char *proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  int saved_errno = EEXIST;

  for (guint tries = 0; tries < 100 && saved_errno == EEXIST; tries++)
    {
      g_autofree char *path = g_strdup_printf ("%s" G_DIR_SEPARATOR_S "%s.%08x", target->folder,
                                               target->hidden_base, g_random_int ());
      int linked;

      block_fatal_signals (TRUE);
      linked = linkat (AT_FDCWD, proc_path, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
      saved_errno = errno;
      if (linked == 0)
        signal_unlink_path = path;
      block_fatal_signals (FALSE);
      if (linked == 0)
        return g_steal_pointer (&path);
    }
  set_error_from_errno (error, saved_errno, _("cannot create a file in %s"), target->folder);
  return NULL;
}

/* Puts the file open as @fd (which this process filled) in the target's
 * place, only once it is on disk and, read back from there, has @size
 * bytes and @digest (unless @digest is %NULL: protocol 1.0). @written is
 * its name, which must still be the file's, or %NULL if it has none
 * (O_TMPFILE). The stream was hashed as it came; this catches what
 * another writer did to the file meanwhile, for the price of one more
 * read of it. */
static gboolean
commit (int           fd,
        const char   *written,
        Target       *target,
        guint64       size,
        const char   *digest,
        GError      **error)
{
  const char *shown = written != NULL ? written : target->path;
  g_autofree char *linked = NULL;
  struct stat before;
  struct stat after;
  int saved_errno;
  gboolean ok;

  if (!sync_file (fd, shown, error))
    return FALSE;
  if (fstat (fd, &before) != 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot read back %s"), shown);
      return FALSE;
    }
  if (digest != NULL && !file_has_digest (fd, shown, size, digest, error))
    {
      if (error == NULL || *error == NULL)
        set_tampered (error, target->path,
                      _("the file written was changed by another writer: read back, it does not have the SHA-256 that the server announced"));
      return FALSE;
    }
  if (fstat (fd, &after) != 0 || after.st_size != before.st_size ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
    {
      set_tampered (error, target->path,
                    _("the file written was changed by another writer while it was checked"));
      return FALSE;
    }
  if (written != NULL && !names_file (written, fd))
    {
      g_autofree char *what = g_strdup_printf (_("%s, the file being written, was replaced or removed by another writer"),
                                               written);

      set_tampered (error, target->path, what);
      return FALSE;
    }
  if (written != NULL)
    return move_into_place (fd, written, target, error);

  linked = link_unnamed (fd, target, error);
  if (linked == NULL)
    return FALSE;
  ok = move_into_place (fd, linked, target, error);
  /* Still there if the rename failed; gone (renamed) otherwise. */
  if (!ok && names_file (linked, fd))
    g_unlink (linked);
  signal_unlink_path = NULL;
  return ok;
}

/* Opens a private file to fetch into, in the target's folder (so that
 * it can be renamed into place): an unnamed one (O_TMPFILE), which
 * nothing can open or replace by name and which no kill, not even
 * SIGKILL, leaves behind. Where the filesystem has none (or there is no
 * /proc to link it through), a named one, ".NAME.XXXXXX", whose name
 * @named gets and which the signal handler removes. */
static int
open_private (Target  *target,
              char   **named,
              GError **error)
{
  g_autofree char *tmp_path = NULL;
  int saved_errno;
  int fd;

  *named = NULL;
  if (g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR))
    {
      fd = open (target->folder, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
      if (fd >= 0)
        return fd;
      saved_errno = errno;
      if (saved_errno != EOPNOTSUPP && saved_errno != EISDIR && saved_errno != EINVAL)
        {
          set_error_from_errno (error, saved_errno, _("cannot create a file in %s"),
                                target->folder);
          return -1;
        }
    }

  tmp_path = g_strconcat (target->folder, G_DIR_SEPARATOR_S, target->hidden_base, ".XXXXXX",
                          NULL);
  block_fatal_signals (TRUE);
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0644);
  saved_errno = errno;
  if (fd >= 0)
    signal_unlink_path = tmp_path;
  block_fatal_signals (FALSE);
  if (fd < 0)
    {
      set_error_from_errno (error, saved_errno, _("cannot create a file in %s"), target->folder);
      return -1;
    }
  *named = g_steal_pointer (&tmp_path);
  return fd;
}

/* Fetches @name into a private file that is put in place only when
 * complete, and (with @digest) only if it has @digest; a failure leaves
 * neither a partial file nor a clobbered old one. Without @digest
 * (protocol 1.0) a plain GET. */
static gboolean
fetch_whole (FccFetcher   *fetcher,
             const char   *name,
             Target       *target,
             guint64       stat_size,
             const char   *digest,
             GError      **error)
{
  g_autofree char *tmp_path = NULL;
  g_autoptr(GChecksum) checksum = digest != NULL ? g_checksum_new (G_CHECKSUM_SHA256) : NULL;
  guint64 size;
  int fd;
  gboolean ok;

  fd = open_private (target, &tmp_path, error);
  if (fd < 0)
    return FALSE;

  ok = digest != NULL
       ? fcc_conn_get_from (fetcher->conn, name, 0, digest, &size, error)
       : fcc_conn_get (fetcher->conn, name, &size, error);
  ok = ok && receive (fetcher->conn, name, fd, target->path, 0, size, checksum, error);
  ok = ok && (checksum == NULL || check_version (checksum, size, digest, stat_size, error));
  ok = ok && commit (fd, tmp_path, target, digest != NULL ? stat_size : size, digest, error);
  if (!ok && tmp_path != NULL && names_file (tmp_path, fd))
    g_unlink (tmp_path);
  close_quietly (fd);
  /* Only now: a signal in between finds the path already gone, harmlessly. */
  signal_unlink_path = NULL;
  return ok;
}

/* Reads the digest kept beside a part: 64 hex digits and a LF, in a
 * regular file. Anything else is no digest. */
static gboolean
read_part_digest (Target *target,
                  char    kept[FCC_DIGEST_HEX_LEN + 2])
{
  ssize_t n;
  int fd = open_regular (target->digest_path, O_RDONLY, NULL);

  if (fd < 0)
    return FALSE;
  n = read (fd, kept, FCC_DIGEST_HEX_LEN + 2);
  close (fd);
  return n == FCC_DIGEST_HEX_LEN + 1 && kept[FCC_DIGEST_HEX_LEN] == '\n';
}

/* Why a part could not be had: the caller then fetches privately. */
typedef enum {
  PART_OWNED,
  PART_BUSY,      /* another process holds it */
  PART_NO_LOCKS,  /* the filesystem has no locks (some network ones) */
} PartClaim;

/* Opens the part of @target, creating it, and locks it for the life of
 * @fd: an OFD lock, so that it is this transfer's, not the process's,
 * and is dropped with the last descriptor, whatever kills the process.
 * The part is ours only if its name still refers to the file locked:
 * another transfer may have renamed it into place, or removed it, in
 * between. Never waits: a busy part is left to its owner. */
static int
claim_part (Target     *target,
            PartClaim  *claim,
            GError    **error)
{
  for (guint tries = 0; tries < 8; tries++)
    {
      struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
      int fd = open_regular (target->part_path, O_RDWR | O_CREAT, error);

      if (fd < 0)
        return -1;
      if (fcntl (fd, F_OFD_SETLK, &lock) != 0)
        {
          int saved_errno = errno;

          close (fd);
          *claim = saved_errno == EAGAIN || saved_errno == EACCES ? PART_BUSY : PART_NO_LOCKS;
          return -1;
        }
      if (names_file (target->part_path, fd))
        {
          *claim = PART_OWNED;
          return fd;
        }
      close (fd);
    }
  /* Other transfers keep taking it from under us: let them. */
  *claim = PART_BUSY;
  return -1;
}

/* Writes @digest and a LF as the part's mark, in a file of its own
 * (O_EXCL: the caller removed the old one). A mark cut short by a crash
 * or a full disk is no mark; one that cannot be written is removed. */
static gboolean
mark_part (Target      *target,
           const char  *digest,
           GError     **error)
{
  g_autofree char *mark = g_strconcat (digest, "\n", NULL);
  int saved_errno;
  int fd;

  fd = open (target->digest_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot create %s"), target->digest_path);
      return FALSE;
    }
  if (!write_all (fd, (const guint8 *) mark, strlen (mark), target->digest_path, error))
    {
      close (fd);
      g_unlink (target->digest_path);
      return FALSE;
    }
  /* A late error (a network filesystem's) would show here. */
  if (close (fd) != 0)
    {
      saved_errno = errno;
      g_unlink (target->digest_path);
      set_error_from_errno (error, saved_errno, _("cannot write %s"), target->digest_path);
      return FALSE;
    }
  return TRUE;
}

/* Prepares the part @fd, locked, to go on filling it: what it holds is
 * added to @checksum and counted in @offset if it belongs to @digest, is
 * no longer than @size, and can be read; otherwise it is emptied, and
 * marked as belonging to @digest. */
static gboolean
prepare_part (int          fd,
              Target      *target,
              const char  *digest,
              guint64      size,
              GChecksum   *checksum,
              guint64     *offset,
              GError     **error)
{
  char kept[FCC_DIGEST_HEX_LEN + 2];
  int saved_errno;

  *offset = 0;
  if (read_part_digest (target, kept) && strncmp (kept, digest, FCC_DIGEST_HEX_LEN) == 0)
    {
      /* Reading it through leaves the file offset at its end. */
      if (hash_rest (fd, target->part_path, checksum, offset, NULL) && *offset <= size)
        return TRUE;
      g_checksum_reset (checksum);
      *offset = 0;
    }

  /* The old mark goes first, then the bytes, then the new mark is
   * written: a crash in between leaves an unmarked part, never old bytes
   * under a new digest. Removed, not written over: a mark that is a
   * hard link loses only this name, and a FIFO is never opened. */
  if (unlink (target->digest_path) != 0 && errno != ENOENT)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot remove %s"), target->digest_path);
      return FALSE;
    }
  if (ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)
    {
      saved_errno = errno;
      set_error_from_errno (error, saved_errno, _("cannot write %s"), target->part_path);
      return FALSE;
    }
  return mark_part (target, digest, error);
}

/* Removes the part and its digest, if the part is still the file @fd. */
static void
remove_part (Target *target,
             int     fd)
{
  if (!names_file (target->part_path, fd))
    return;
  g_unlink (target->digest_path);
  g_unlink (target->part_path);
}

/* After a failure that leaves the part to be resumed: an empty one is
 * removed (it would only be litter), and @error says that one with bytes
 * is kept, and how large it is, since it may be what filled the disk.
 * Kept even then: resuming it is what -c asked for. */
static void
keep_part (Target *target,
           int     fd,
           GError *error)
{
  g_autofree char *size = NULL;
  char *message;
  struct stat st;

  if (error == NULL || fstat (fd, &st) != 0)
    return;
  if (st.st_size == 0)
    {
      remove_part (target, fd);
      return;
    }
  size = fc_i18n_format_size (st.st_size);
  /* A write error names the part already. */
  if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
    message = g_strdup_printf (_("%s; the part is kept (%s) for a later -c: remove it to free the space"),
                               error->message, size);
  else
    message = g_strdup_printf (_("%s; the part %s is kept (%s) for a later -c"),
                               error->message, target->part_path, size);
  g_free (error->message);
  error->message = message;
}

/* Like fetch_whole(), through the part file, which a failure leaves to be
 * resumed from unless what it holds is known to be wrong. A part that
 * another transfer holds is left to it: this one then fetches into a
 * private file, as without -c, and says so through the notice. */
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
  struct stat st;
  PartClaim claim;
  guint64 offset;
  guint64 body_size;
  gboolean ok;
  int fd;

  /* A folder under the mark's name cannot be replaced, so a part could
   * never be marked: the part is left as it is, and the name fetched
   * privately. Any other kind of file is replaced (prepare_part()). */
  if (lstat (target->digest_path, &st) == 0 && S_ISDIR (st.st_mode))
    {
      if (fetcher->options.notice != NULL)
        {
          g_autofree char *why = g_strdup_printf (_("%s is a folder, so no part can be marked with its digest; fetching into a private file instead (not resumable)"),
                                                  target->digest_path);

          fetcher->options.notice (name, why);
        }
      return fetch_whole (fetcher, name, target, size, digest, error);
    }

  fd = claim_part (target, &claim, error);
  if (fd < 0 && claim != PART_OWNED && (error == NULL || *error == NULL))
    {
      if (fetcher->options.notice != NULL)
        fetcher->options.notice (name,
                                 claim == PART_BUSY
                                 ? _("another transfer is writing the part file; fetching into a private file instead (not resumable)")
                                 : _("the part file cannot be locked on this filesystem; fetching into a private file instead (not resumable)"));
      return fetch_whole (fetcher, name, target, size, digest, error);
    }
  if (fd < 0)
    return FALSE;

  ok = prepare_part (fd, target, digest, size, checksum, &offset, &local_error);
  ok = ok && fcc_conn_get_from (fetcher->conn, name, offset, digest, &body_size, &local_error);
  ok = ok && receive (fetcher->conn, name, fd, target->part_path, offset, body_size, checksum,
                      &local_error);
  ok = ok && check_version (checksum, offset + body_size, digest, size, &local_error);
  /* Unmarked before the rename, while the name is still this part: once
   * renamed, the name may be another transfer's new part. */
  if (ok && names_file (target->part_path, fd))
    g_unlink (target->digest_path);
  ok = ok && commit (fd, target->part_path, target, size, digest, &local_error);

  /* Bytes of another version, or bytes that went wrong somewhere. */
  if (g_error_matches (local_error, FCC_ERROR, FCC_ERROR_CHANGED) ||
      g_error_matches (local_error, FCC_ERROR, FCC_ERROR_MISMATCH) ||
      g_error_matches (local_error, FCC_ERROR, FCC_ERROR_TAMPERED))
    remove_part (target, fd);
  else if (!ok)
    keep_part (target, fd, local_error);
  /* The lock goes with it: only now may another transfer take the name. */
  close_quietly (fd);
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
    return fetch_whole (fetcher, name, target, 0, NULL, error)
           ? FCC_FETCH_UNVERIFIED : FCC_FETCH_FAILED;

  if (fetcher->options.skip_identical && has_digest (target->path, size, digest))
    return FCC_FETCH_SKIPPED;

  ok = fetcher->options.resume
       ? fetch_resumable (fetcher, name, target, size, digest, error)
       : fetch_whole (fetcher, name, target, size, digest, error);
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
