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

/* Smaller transfers are over before a progress bar could tell anything. */
#define PROGRESS_MIN_SIZE (1024 * 1024)
#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 10)
#define PROGRESS_BAR_WIDTH 30

/* Keeps ".NAME.XXXXXX" within NAME_MAX (255) whatever the length of NAME. */
#define TMP_NAME_PART_MAX 200

#define CHUNK_SIZE (64 * 1024)

typedef struct {
  const char *label;  /* (unowned) */
  guint64 total;
  gint64 last_draw;   /* monotonic time of the last redraw, 0 before the first */
  gboolean enabled;
} Progress;

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

static void
progress_update (Progress *progress,
                 guint64   done)
{
  gint64 now;
  double fraction;
  int filled;
  char bar[PROGRESS_BAR_WIDTH + 1];
  g_autofree char *bytes = NULL;

  if (!progress->enabled)
    return;

  now = g_get_monotonic_time ();
  if (done < progress->total && now - progress->last_draw < PROGRESS_INTERVAL_US)
    return;
  progress->last_draw = now;

  fraction = (double) done / progress->total;
  filled = fraction * PROGRESS_BAR_WIDTH;
  memset (bar, '#', filled);
  memset (bar + filled, '.', PROGRESS_BAR_WIDTH - filled);
  bar[PROGRESS_BAR_WIDTH] = '\0';

  bytes = g_strdup_printf (_("%llu of %llu bytes"),
                           (unsigned long long) done,
                           (unsigned long long) progress->total);
  /* The line only grows, so redrawing over it leaves no stale characters. */
  g_printerr ("\r%s [%s] %3d%%  %s", progress->label, bar, (int) (fraction * 100), bytes);
}

static void
progress_end (Progress *progress)
{
  if (progress->last_draw != 0)
    g_printerr ("\n");
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Progress, progress_end)

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

static gboolean
receive (FccConn     *conn,
         const char  *name,
         const char  *label,
         int          fd,
         const char  *path,
         GError     **error)
{
  guint64 size;
  g_autofree guint8 *chunk = NULL;
  g_auto(Progress) progress = { 0 };

  if (!fcc_conn_get (conn, name, &size, error))
    return FALSE;

  progress.label = label;
  progress.total = size;
  progress.enabled = size >= PROGRESS_MIN_SIZE && isatty (STDERR_FILENO);

  chunk = g_malloc (CHUNK_SIZE);
  for (guint64 done = 0; done < size;)
    {
      gssize n = fcc_conn_read_body (conn, chunk, CHUNK_SIZE, error);

      if (n < 0 || !write_all (fd, chunk, n, path, error))
        return FALSE;
      done += n;
      progress_update (&progress, done);
    }

  /* Without it, a crash soon after the rename could leave an empty file
   * under the final name on filesystems that allocate blocks late; and
   * a full disk or quota may only show here. */
  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
      return FALSE;
    }
  return TRUE;
}

/* Takes @fd. A network filesystem may report a full disk only here. */
static gboolean
close_written (int          fd,
               const char  *path,
               GError     **error)
{
  if (close (fd) != 0 && errno != EINTR)
    {
      int saved_errno = errno;

      set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
      return FALSE;
    }
  return TRUE;
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

/**
 * fcc_fetch:
 * @name: the name to ask the server for
 * @dir: the directory to save into
 *
 * Fetches @name into @dir under the last component of @name. The body
 * goes into a temporary file in @dir that is renamed into place only once
 * all of it arrived, so a failure leaves neither a partial file nor a
 * clobbered old one. After a failure, fcc_conn_usable() tells whether
 * @conn can go on with another name.
 *
 * Returns: %FALSE with @error set on failure
 */
gboolean
fcc_fetch (FccConn     *conn,
           const char  *name,
           const char  *dir,
           GError     **error)
{
  const char *slash = strrchr (name, '/');
  const char *base = slash != NULL ? slash + 1 : name;
  g_autofree char *tmp_name = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *path = NULL;
  int fd;
  int saved_errno;
  gboolean ok;

  if (*base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
    {
      g_set_error_literal (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                           _("no file name to save to"));
      return FALSE;
    }

  tmp_name = g_strdup_printf (".%.*s.XXXXXX", (int) MIN (strlen (base), TMP_NAME_PART_MAX), base);
  tmp_path = g_build_filename (dir, tmp_name, NULL);
  path = g_build_filename (dir, base, NULL);

  block_fatal_signals (TRUE);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  saved_errno = errno;
  if (fd >= 0)
    signal_unlink_path = tmp_path;
  block_fatal_signals (FALSE);
  if (fd < 0)
    {
      set_error_from_errno (error, saved_errno, _("cannot create a file in %s"), dir);
      return FALSE;
    }

  ok = receive (conn, name, base, fd, path, error);
  /* Closed whatever happened, but the first error is the one reported. */
  ok = close_written (fd, path, ok ? error : NULL) && ok;
  ok = ok && rename_into_place (tmp_path, path, error);
  if (!ok)
    g_unlink (tmp_path);
  /* Only now: a signal in between finds the path already gone, harmlessly. */
  signal_unlink_path = NULL;
  return ok;
}
