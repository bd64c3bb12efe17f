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
#include <gio/gunixoutputstream.h>

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
 * Makes SIGINT, SIGTERM and SIGHUP remove the temporary file of a
 * transfer in progress before they end the process.
 */
void
fcc_fetch_clean_up_on_signals (void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction action = { 0 };

  action.sa_handler = unlink_and_die;
  action.sa_flags = SA_RESETHAND;
  sigemptyset (&action.sa_mask);
  for (gsize i = 0; i < G_N_ELEMENTS (signals); i++)
    sigaction (signals[i], &action, NULL);
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

static gboolean
sync_and_close (GOutputStream  *out,
                const char     *path,
                GError        **error)
{
  /* Without it, a crash soon after the rename could leave an empty file
   * under the final name on filesystems that allocate blocks late. */
  if (fsync (g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (out))) != 0)
    {
      int saved_errno = errno;

      set_error_from_errno (error, saved_errno, _("cannot write %s"), path);
      return FALSE;
    }
  return g_output_stream_close (out, NULL, error);
}

static gboolean
receive (FccConn        *conn,
         const char     *name,
         const char     *label,
         GOutputStream  *out,
         const char     *path,
         GError        **error)
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

      if (n < 0 || !g_output_stream_write_all (out, chunk, n, NULL, NULL, error))
        return FALSE;
      done += n;
      progress_update (&progress, done);
    }

  return sync_and_close (out, path, error);
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
  g_autoptr(GOutputStream) out = NULL;
  int fd;
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

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved_errno = errno;

      set_error_from_errno (error, saved_errno, _("cannot create a file in %s"), dir);
      return FALSE;
    }
  signal_unlink_path = tmp_path;
  out = g_unix_output_stream_new (fd, TRUE);

  ok = receive (conn, name, base, out, tmp_path, error) &&
       rename_into_place (tmp_path, path, error);
  if (!ok)
    g_unlink (tmp_path);
  /* Only now: a signal in between finds the path already gone, harmlessly. */
  signal_unlink_path = NULL;
  return ok;
}
