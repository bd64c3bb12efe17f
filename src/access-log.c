#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "access-log.h"
#include "ratelimit.h"

/* The writer is handed no new descriptor; -1 closes the file. */
#define NO_FD_HANDED (-2)

struct _FcAccessLog {
  GMutex lock;                  /* guards the fields marked "under lock" */
  GCond wake;                   /* lines, a descriptor or the stop for the writer */
  GString *pending;             /* (owned): lines for the writer; under lock */
  int handed_fd;                /* (owned): the writer's next file, or NO_FD_HANDED; under lock */
  gsize handed_at;              /* bytes of pending formed before the first hand; under lock */
  guint64 dropped;              /* lines dropped and not yet reported; under lock */
  gboolean stopping;            /* under lock */
  gboolean ended;               /* the writer has closed its file; under lock */
  GThread *writer;              /* (owned) (nullable): from the first open on */
  int fd;                       /* (owned): the writer's own; -1 when closed */
  gboolean cut;                 /* the writer's: fd ends with part of a line */
  FcRateLimit drop_limit;       /* the writer's: one report of lost lines a minute */
  FcRateLimit write_limit;      /* the writer's */
};

struct _FcAccessEntry {
  guint status;
  gsize head_len;               /* of the reply head: what was sent past it is body */
  gsize split;                  /* where " status bytes" goes in text */
  gsize len;
  char text[];                  /* `host - - [time] "line"` and ` "referer" "agent"` LF */
};

/* How long the writer waits for a pipe (a log shipper) to take more
 * before it drops what it holds, and how long a stop waits for the
 * writer (which waits for no pipe once stopping): both within the second
 * the README grants a stop past its drain. */
#define WRITER_WAIT_MSEC 250
#define STOP_WAIT_MSEC 500

/* Whether @fd, which said EAGAIN (a pipe its reader is slow to empty),
 * takes more within WRITER_WAIT_MSEC. */
static gboolean
wait_writable (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLOUT };
  int n;

  do
    n = poll (&pfd, 1, WRITER_WAIT_MSEC);
  while (n < 0 && errno == EINTR);
  return n > 0 && (pfd.revents & POLLOUT) != 0;
}

/* After a failed write that cut a line (a full disk takes what fits),
 * takes back its @len bytes written, so that the next line does not go
 * on after it; where that cannot be (a pipe), the next write begins
 * with a line end instead. */
static void
writer_take_back (FcAccessLog *log,
                  gsize        len)
{
  off_t end = lseek (log->fd, 0, SEEK_END);

  if (end < 0 || (guint64) end < len || ftruncate (log->fd, end - (off_t) len) != 0)
    log->cut = TRUE;
}

/* Writes @data, whole lines, or says why not (a full disk, say),
 * rate-limited: a log that cannot be written must not flood the journal
 * too. Unless @may_wait, a full pipe is not waited for (a stop).
 * Returns how many lines were not written. */
static guint64
writer_write (FcAccessLog *log,
              const char  *data,
              gsize        len,
              gboolean     may_wait)
{
  gsize done = 0;
  gsize line_start;
  guint64 lost = 0;

  if (len == 0 || log->fd < 0)
    return 0;
  if (log->cut && write (log->fd, "\n", 1) == 1)
    log->cut = FALSE;
  while (done < len)
    {
      ssize_t n = write (log->fd, data + done, len - done);
      int saved_errno = errno;

      if (n > 0)
        {
          done += (gsize) n;
          continue;
        }
      if (n < 0 && (saved_errno == EINTR || (saved_errno == EAGAIN && may_wait && wait_writable (log->fd))))
        continue;
      fc_rate_limit_log (&log->write_limit, G_LOG_LEVEL_WARNING,
                         _("Cannot write the access log: %s"),
                         n < 0 ? g_strerror (saved_errno) : "0 bytes written");
      break;
    }
  if (done == len)
    return 0;

  for (line_start = done; line_start > 0 && data[line_start - 1] != '\n'; line_start--)
    ;
  if (line_start < done)
    writer_take_back (log, done - line_start);
  for (gsize i = line_start; i < len; i++)
    lost += data[i] == '\n';
  return lost;
}

static void
warn_lost (guint64 lines)
{
  g_warning (_("Access log: %" PRIu64 " lines lost: the file took them more slowly than they came, or refused them"),
             lines);
}

static gpointer
writer_main (gpointer user_data)
{
  FcAccessLog *log = user_data;
  g_autoptr(GString) batch = g_string_new (NULL);
  guint64 dropped = 0;

  g_mutex_lock (&log->lock);
  for (;;)
    {
      GString *swap;
      int handed_fd;
      gsize handed_at;
      gboolean stopping;
      guint suppressed;

      while (log->pending->len == 0 && log->handed_fd == NO_FD_HANDED && !log->stopping)
        {
          /* Lines lost and not yet told are told once the limit allows,
           * whether or not more lines come. */
          if (dropped == 0)
            g_cond_wait (&log->wake, &log->lock);
          else if (!g_cond_wait_until (&log->wake, &log->lock,
                                       log->drop_limit.window_start + log->drop_limit.interval))
            break;
        }
      swap = log->pending;
      log->pending = batch;
      batch = swap;
      handed_fd = log->handed_fd;
      handed_at = handed_fd != NO_FD_HANDED ? log->handed_at : batch->len;
      log->handed_fd = NO_FD_HANDED;
      dropped += log->dropped;
      log->dropped = 0;
      stopping = log->stopping;
      g_mutex_unlock (&log->lock);

      /* Lines formed before a reopen go to the file they were formed
       * for, those formed after it to the new one, however late the
       * writer wakes (logrotate compresses the old file next). */
      dropped += writer_write (log, batch->str, handed_at, !stopping);
      if (handed_fd != NO_FD_HANDED)
        {
          if (log->fd >= 0)
            g_close (log->fd, NULL);
          log->fd = handed_fd;
          log->cut = FALSE;
        }
      dropped += writer_write (log, batch->str + handed_at, batch->len - handed_at, !stopping);
      g_string_truncate (batch, 0);
      if (dropped > 0 && fc_rate_limit_check (&log->drop_limit, g_get_monotonic_time (), &suppressed))
        {
          warn_lost (dropped);
          dropped = 0;
        }

      g_mutex_lock (&log->lock);
      if (stopping && log->pending->len == 0 && log->handed_fd == NO_FD_HANDED)
        break;
    }
  g_mutex_unlock (&log->lock);
  /* The last count is told whatever the limit: no later line will. */
  if (dropped > 0)
    warn_lost (dropped);
  if (log->fd >= 0)
    g_close (log->fd, NULL);
  log->fd = -1;
  g_mutex_lock (&log->lock);
  log->ended = TRUE;
  g_cond_broadcast (&log->wake);
  g_mutex_unlock (&log->lock);
  return NULL;
}

/**
 * fc_access_log_new:
 *
 * Returns: (transfer full): an access log with no file: lines given to
 *   it are dropped until fc_access_log_open()
 */
FcAccessLog *
fc_access_log_new (void)
{
  FcAccessLog *log = g_new0 (FcAccessLog, 1);

  g_mutex_init (&log->lock);
  g_cond_init (&log->wake);
  log->pending = g_string_new (NULL);
  log->handed_fd = NO_FD_HANDED;
  log->fd = -1;
  log->drop_limit = (FcRateLimit) FC_RATE_LIMIT_INIT (60 * G_USEC_PER_SEC, 1);
  log->write_limit = (FcRateLimit) FC_RATE_LIMIT_FAILURES;
  return log;
}

static void
hand_fd (FcAccessLog *log,
         int          fd)
{
  g_mutex_lock (&log->lock);
  /* A file handed and replaced before the writer took it is never
   * written: the lines since the first hand go to the last one. */
  if (log->handed_fd >= 0)
    g_close (log->handed_fd, NULL);
  if (log->handed_fd == NO_FD_HANDED)
    log->handed_at = log->pending->len;
  log->handed_fd = fd;
  g_cond_signal (&log->wake);
  g_mutex_unlock (&log->lock);
}

/* Why @path cannot be the log, as opening it or checking it finds. */
static void
set_open_error (GError     **error,
                const char  *path,
                int          saved_errno)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               _("Cannot open the access log “%s”: %s"), path,
               saved_errno == ENXIO ? _("it is a pipe that no process reads")
                                    : g_strerror (saved_errno));
}

/**
 * fc_access_log_open:
 * @log: an access log
 * @path: the file, created if missing (mode 0640), appended to
 * @error: a #GFileError naming @path
 *
 * Opens @path and has the writer go on in it, after the lines formed
 * before: at start, on a reload, or after logrotate has renamed the file
 * (the same path again). On error the file in use, if any, stays. Main
 * thread.
 */
gboolean
fc_access_log_open (FcAccessLog  *log,
                    const char   *path,
                    GError      **error)
{
  /* Non-blocking: a pipe no process reads fails here (ENXIO) instead of
   * holding the main thread in open(), and a full one makes write() say
   * EAGAIN instead of holding the writer; a regular file ignores it. */
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);

  if (fd < 0)
    {
      set_open_error (error, path, errno);
      return FALSE;
    }
  if (log->writer == NULL)
    {
      log->writer = g_thread_try_new ("access-log", writer_main, log, error);
      if (log->writer == NULL)
        {
          g_close (fd, NULL);
          return FALSE;
        }
    }
  hand_fd (log, fd);
  return TRUE;
}

/**
 * fc_access_log_check:
 * @path: an access log's path
 * @error: a #GFileError naming @path
 *
 * What fc_access_log_open() would say of @path, told without opening it
 * (opening creates the file, and closing a pipe can end its reader's
 * input): a directory, a file that is not writable, or a missing one in
 * a directory that does not exist or is not writable, is refused. The
 * rights checked are the caller's (access(2)), not those of a daemon
 * running as another user. For `--check-config`. Any thread.
 *
 * Returns: whether @path may be opened as the log
 */
gboolean
fc_access_log_check (const char  *path,
                     GError     **error)
{
  g_autofree char *dir = NULL;
  struct stat st;
  int saved_errno;

  if (stat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        saved_errno = EISDIR;
      else if (access (path, W_OK) != 0)
        saved_errno = errno;
      else
        return TRUE;
    }
  else if (errno != ENOENT)
    saved_errno = errno;
  else
    {
      dir = g_path_get_dirname (path);
      if (access (dir, W_OK | X_OK) == 0)
        return TRUE;
      saved_errno = errno;
    }
  set_open_error (error, path, saved_errno);
  return FALSE;
}

/**
 * fc_access_log_close:
 * @log: an access log
 *
 * The writer writes the lines formed so far, then closes the file; later
 * lines are dropped. Main thread.
 */
void
fc_access_log_close (FcAccessLog *log)
{
  if (log->writer != NULL)
    hand_fd (log, -1);
}

/**
 * fc_access_log_free:
 * @log: (transfer full): an access log no thread gives lines to any more
 *
 * Writes what is pending, closes the file and ends the writer, waiting
 * for it at most STOP_WAIT_MSEC: a stop must not hang on a file that
 * takes no writes (storage that hangs, a dead NFS server). Past that the
 * writer and what it holds are left to end with the process, said in a
 * warning.
 */
void
fc_access_log_free (FcAccessLog *log)
{
  if (log->writer != NULL)
    {
      gint64 deadline = g_get_monotonic_time () + STOP_WAIT_MSEC * G_TIME_SPAN_MILLISECOND;
      gboolean ended;

      g_mutex_lock (&log->lock);
      log->stopping = TRUE;
      g_cond_broadcast (&log->wake);
      while (!log->ended && g_cond_wait_until (&log->wake, &log->lock, deadline))
        ;
      ended = log->ended;
      g_mutex_unlock (&log->lock);
      if (!ended)
        {
          g_warning (_("Access log: the file took no writes for %u ms; the lines not yet written are lost"),
                     STOP_WAIT_MSEC);
          g_thread_unref (log->writer);
          return;
        }
      g_thread_join (log->writer);
    }
  if (log->handed_fd >= 0)
    g_close (log->handed_fd, NULL);
  g_string_free (log->pending, TRUE);
  g_cond_clear (&log->wake);
  g_mutex_clear (&log->lock);
  g_free (log);
}

/**
 * fc_access_log_clock_now:
 * @clock: the calling thread's clock, zeroed before its first use
 *
 * Returns: (transfer none): now in local time as the Combined Log Format
 *   has it, `06/Dec/2026:16:40:00 +0000`: month names in English
 *   whatever the locale; valid until the next call with @clock
 */
const char *
fc_access_log_clock_now (FcAccessLogClock *clock)
{
  static const char months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  time_t t = (time_t) now;
  struct tm tm;
  long offset;

  if (now == clock->second && clock->text[0] != '\0')
    return clock->text;
  if (localtime_r (&t, &tm) == NULL)
    gmtime_r (&t, &tm);
  offset = tm.tm_gmtoff / 60;
  g_snprintf (clock->text, sizeof clock->text, "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld",
              tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
              tm.tm_sec, offset < 0 ? '-' : '+', labs (offset) / 60, labs (offset) % 60);
  clock->second = now;
  return clock->text;
}

/* As nginx escapes its log: `"`, `\`, control bytes and bytes above
 * 0x7e as \xHH, so that a field cannot end early or forge a line. */
static void
append_escaped (GString     *out,
                FcHttpSlice  slice)
{
  if (slice.data == NULL || slice.len == 0)
    {
      g_string_append_c (out, '-');
      return;
    }
  for (gsize i = 0; i < slice.len; i++)
    {
      guchar c = (guchar) slice.data[i];

      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
        g_string_append_printf (out, "\\x%02X", c);
      else
        g_string_append_c (out, (char) c);
    }
}

/* The status of an HTTP/1.x response head, 0 if it is none. */
static guint
head_status (const char *head,
             gsize       len)
{
  if (len < 12 || memcmp (head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
      !g_ascii_isdigit (head[9]) || !g_ascii_isdigit (head[10]) || !g_ascii_isdigit (head[11]))
    return 0;
  return (guint) ((head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0'));
}

/**
 * fc_access_log_peer:
 * @fd: a connected socket
 *
 * The client's address as the log's first field: numeric, never a name
 * looked up (a DNS query per request would block the thread), `-` when
 * the socket has none. Any thread.
 *
 * Returns: (transfer full): the address
 */
char *
fc_access_log_peer (int fd)
{
  struct sockaddr_storage address;
  socklen_t len = sizeof address;
  char host[NI_MAXHOST];

  if (getpeername (fd, (struct sockaddr *) &address, &len) == 0 &&
      getnameinfo ((struct sockaddr *) &address, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
    return g_strdup (host);
  return g_strdup ("-");
}

/**
 * fc_access_entry_new:
 * @host: the client's address
 * @time: fc_access_log_clock_now()'s
 * @request: the request head (a refused one too), whose slices are still
 *   valid
 * @reply_head: the start of the response: its head, and maybe more
 * @reply_head_len: how many bytes of it there are
 *
 * Forms all of a request's line but the bytes sent, with the status of
 * @reply_head, while the request's bytes are at hand. Any thread.
 *
 * Returns: (transfer full): the entry, for fc_access_log_finish()
 */
FcAccessEntry *
fc_access_entry_new (const char          *host,
                     const char          *time,
                     const FcHttpRequest *request,
                     const char          *reply_head,
                     gsize                reply_head_len)
{
  g_autoptr(GString) text = g_string_sized_new (256);
  const char *end = g_strstr_len (reply_head, (gssize) reply_head_len, "\r\n\r\n");
  FcAccessEntry *entry;
  gsize split;

  g_string_append_printf (text, "%s - - [%s] \"", host, time);
  append_escaped (text, request->line);
  g_string_append_c (text, '"');
  split = text->len;
  g_string_append (text, " \"");
  append_escaped (text, request->referer);
  g_string_append (text, "\" \"");
  append_escaped (text, request->user_agent);
  g_string_append (text, "\"\n");

  entry = g_malloc (sizeof *entry + text->len);
  entry->status = head_status (reply_head, reply_head_len);
  entry->head_len = end != NULL ? (gsize) (end + 4 - reply_head) : reply_head_len;
  entry->split = split;
  entry->len = text->len;
  memcpy (entry->text, text->str, text->len);
  return entry;
}

/**
 * fc_access_log_finish:
 * @log: the access log
 * @entry: (transfer full): a request's entry
 * @sent: bytes of the response that left, head and body
 *
 * Completes the line with the status and the body bytes sent (`-` for
 * none, as the Combined Log Format has it) and hands it to the writer;
 * drops it, counted, when the buffer is full. Any thread; never blocks
 * on the disk.
 */
void
fc_access_log_finish (FcAccessLog   *log,
                      FcAccessEntry *entry,
                      guint64        sent)
{
  guint64 body = sent > entry->head_len ? sent - entry->head_len : 0;
  char middle[48];
  int middle_len;

  if (body > 0)
    middle_len = g_snprintf (middle, sizeof middle, " %u %" G_GUINT64_FORMAT, entry->status, body);
  else
    middle_len = g_snprintf (middle, sizeof middle, " %u -", entry->status);

  g_mutex_lock (&log->lock);
  if (log->pending->len + entry->len + (gsize) middle_len > FC_ACCESS_LOG_BUFFER_MAX)
    log->dropped++;
  else
    {
      if (log->pending->len == 0)
        g_cond_signal (&log->wake);
      g_string_append_len (log->pending, entry->text, (gssize) entry->split);
      g_string_append_len (log->pending, middle, middle_len);
      g_string_append_len (log->pending, entry->text + entry->split, (gssize) (entry->len - entry->split));
    }
  g_mutex_unlock (&log->lock);
  g_free (entry);
}
