/* HTTP.md "Access log" against the real daemon: one Combined Log Format
 * line per HTTP request, none for the line protocol; SIGHUP opens the
 * path again, as logrotate needs; a file that cannot be opened stops
 * the start. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "access-log.h"
#include "testutil.h"

typedef struct {
  char *dir;                    /* (owned) */
  char *path;                   /* (owned): the access log */
  TuDaemon *d;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->dir = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "access.log", NULL);
  f->d = tu_daemon_start_logged ("--access-log", f->path, NULL);
  tu_write_file_str (f->d->root, "a.txt", "hello world\n");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  tu_daemon_stop (f->d);
  tu_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* Sends @request on a new connection and reads until the daemon closes. */
static void
exchange (TuDaemon   *d,
          const char *request)
{
  g_autofree guint8 *buf = g_malloc (65536);
  int fd = tu_connect (d->port);

  tu_send_str (fd, request);
  tu_recv_until_closed (fd, buf, 65536);
  close (fd);
}

/* (transfer full): the lines of @path once it has @n of them: the writer
 * thread writes them a little after the responses, later still on a
 * loaded machine (5 s was once too short under a parallel suite). With
 * @n 0, whatever is there after a second. */
static GStrv
await_lines (const char *path,
             guint       n)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL) && g_str_has_suffix (text, "\n"))
        {
          text[strlen (text) - 1] = '\0';
          lines = g_strsplit (text, "\n", -1);
          if (g_strv_length (lines) >= n)
            {
              g_assert_cmpuint (g_strv_length (lines), ==, n);
              return g_steal_pointer (&lines);
            }
        }
      else if (n == 0 && g_get_monotonic_time () > start + G_USEC_PER_SEC)
        return g_new0 (char *, 1);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
}

/* @line is `127.0.0.1 - - [<time>] ` and then exactly @rest. */
static void
assert_line (const char *line,
             const char *rest)
{
  static const char prefix[] = "127.0.0.1 - - [";
  g_autoptr(GRegex) time = g_regex_new ("^[0-3][0-9]/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/"
                                        "[0-9]{4}:[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}\\] ",
                                        0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  int end;

  g_test_message ("%s", line);
  g_assert_true (g_str_has_prefix (line, prefix));
  g_assert_true (g_regex_match (time, line + sizeof prefix - 1, 0, &match));
  g_assert_true (g_match_info_fetch_pos (match, 0, NULL, &end));
  g_assert_cmpstr (line + sizeof prefix - 1 + end, ==, rest);
}

static void
test_lines (Fixture       *f,
            gconstpointer  data)
{
  g_auto(GStrv) lines = NULL;
  int fd;

  exchange (f->d, "GET /a.txt HTTP/1.1\r\nHost: h\r\nReferer: http://r/x?y\r\n"
                  "User-Agent: ua \"quoted\" \\ caf\xc3\xa9\r\nConnection: close\r\n\r\n");
  exchange (f->d, "GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=6-\r\nConnection: close\r\n\r\n");
  exchange (f->d, "GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  exchange (f->d, "HEAD /a.txt HTTP/1.0\r\n\r\n");
  exchange (f->d, "POST /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  /* The line protocol is not logged. */
  fd = tu_connect (f->d->port);
  tu_assert_ping (fd);
  tu_assert_get (fd, "a.txt", "hello world\n", 12);
  close (fd);
  exchange (f->d, "GET /a.txt?q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

  lines = await_lines (f->path, 6);
  assert_line (lines[0], "\"GET /a.txt HTTP/1.1\" 200 12 \"http://r/x?y\" \"ua \\x22quoted\\x22 \\x5C caf\\xC3\\xA9\"");
  assert_line (lines[1], "\"GET /a.txt HTTP/1.1\" 206 6 \"-\" \"-\"");
  assert_line (lines[2], "\"GET /missing HTTP/1.1\" 404 13 \"-\" \"-\"");
  assert_line (lines[3], "\"HEAD /a.txt HTTP/1.0\" 200 - \"-\" \"-\"");
  assert_line (lines[4], "\"POST /a.txt HTTP/1.1\" 405 19 \"-\" \"-\"");
  assert_line (lines[5], "\"GET /a.txt?q HTTP/1.1\" 200 12 \"-\" \"-\"");
}

/* A request refused at accept, beyond --max-clients, is an HTTP request
 * answered (503) and has its line. Was: no line. */
static void
test_refused_logged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "access.log", NULL);
  TuDaemon *d = tu_daemon_start_logged ("--access-log", path, "--max-clients", "1", NULL);
  g_auto(GStrv) lines = NULL;
  int held = tu_connect (d->port);

  tu_assert_ping (held);
  {
    g_autoptr(TuHttpResponse) r =
      tu_http_refused_at_accept (d, "GET /a.txt HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\n\r\n");

    g_assert_cmpuint (r->status, ==, 503);
  }
  close (held);

  lines = await_lines (path, 1);
  assert_line (lines[0], "\"GET /a.txt HTTP/1.1\" 503 21 \"-\" \"ua\"");
  tu_daemon_stop (d);
  tu_rm_rf (dir);
}

/* logrotate: rename, then SIGHUP; the lines after go to a new file at the
 * path, those before stay in the renamed one. */
static void
test_reopen_on_sighup (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *rotated = g_strconcat (f->path, ".1", NULL);
  g_auto(GStrv) old_lines = NULL;
  g_auto(GStrv) new_lines = NULL;
  g_autofree char *reloaded = NULL;

  exchange (f->d, "GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  g_strfreev (await_lines (f->path, 1));
  g_assert_cmpint (g_rename (f->path, rotated), ==, 0);
  g_subprocess_send_signal (f->d->proc, SIGHUP);
  reloaded = tu_daemon_await_stderr (f->d, "Reloaded");

  exchange (f->d, "GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  new_lines = await_lines (f->path, 1);
  assert_line (new_lines[0], "\"GET /missing HTTP/1.1\" 404 13 \"-\" \"-\"");
  old_lines = await_lines (rotated, 1);
  assert_line (old_lines[0], "\"GET /a.txt HTTP/1.1\" 200 12 \"-\" \"-\"");
}

/* Logs a request whose line is @line, as a worker does. */
static void
log_request (FcAccessLog *log,
             const char  *line)
{
  static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
  FcHttpRequest request = { .line = { line, strlen (line) } };

  fc_access_log_finish (log, fc_access_entry_new ("127.0.0.1", "07/Dec/2026:07:00:00 +0000", &request,
                                                  head, sizeof head - 1),
                        sizeof head - 1);
}

/* A line formed after a reopen goes to the new file even when the
 * writer is still busy with the old one as the reopen comes (the
 * daemon's "Reloaded" is said before the writer wakes). The old file
 * is a pipe nobody reads yet, which holds the writer in write(). */
static void
test_reopen_while_writing (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_autofree char *fifo = g_build_filename (dir, "old.log", NULL);
  g_autofree char *path = g_build_filename (dir, "new.log", NULL);
  g_autoptr(GString) old_text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *new_text = NULL;
  FcAccessLog *log = fc_access_log_new ();
  char buf[4096];
  ssize_t n;
  int reader;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  reader = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (reader, >=, 0);
  g_assert_true (fc_access_log_open (log, fifo, &error));
  g_assert_no_error (error);
  /* The writer has taken the pipe once a first line comes out of it. */
  log_request (log, "GET /before HTTP/1.1");
  g_assert_cmpint (fcntl (reader, F_SETFL, 0), ==, 0);
  while (old_text->len == 0 || old_text->str[old_text->len - 1] != '\n')
    {
      n = read (reader, buf, sizeof buf);
      g_assert_cmpint (n, >, 0);
      g_string_append_len (old_text, buf, n);
    }
  /* More than a pipe holds: the writer blocks in write() on it. */
  for (guint i = 0; i < 2000; i++)
    log_request (log, "GET /before HTTP/1.1");
  g_assert_true (fc_access_log_open (log, path, &error));
  g_assert_no_error (error);
  log_request (log, "GET /after HTTP/1.1");

  /* Read the pipe until the writer closes it for the new file. */
  while ((n = read (reader, buf, sizeof buf)) > 0)
    g_string_append_len (old_text, buf, n);
  g_assert_cmpint (n, ==, 0);
  close (reader);
  fc_access_log_free (log);

  g_assert_null (strstr (old_text->str, "/after"));
  g_assert_true (g_str_has_suffix (old_text->str, "\"GET /before HTTP/1.1\" 200 - \"-\" \"-\"\n"));
  g_assert_true (g_file_get_contents (path, &new_text, NULL, NULL));
  g_assert_cmpstr (new_text, ==,
                   "127.0.0.1 - - [07/Dec/2026:07:00:00 +0000] \"GET /after HTTP/1.1\" 200 - \"-\" \"-\"\n");
  tu_rm_rf (dir);
}

/* A start whose access log cannot be opened fails, naming the file and
 * why. A pipe nobody reads is refused instead of holding the daemon in
 * open(). */
typedef struct {
  const char *name;             /* the path, in a fresh directory */
  gboolean fifo;                /* made a FIFO first */
  const char *why;
} OpenFailure;

static const OpenFailure no_such_dir = { "no-such-dir/access.log", FALSE, "No such file or directory" };
static const OpenFailure unread_fifo = { "access.log", TRUE, "no process reads" };

static void
test_open_failure (gconstpointer data)
{
  const OpenFailure *failure = data;
  g_autofree char *root = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (root, failure->name, NULL);
  const char *argv[] = { g_getenv ("FILECACHED"), "--config=/dev/null", "--no-dbus",
                         "--host", "127.0.0.1", "--port", "0", "--access-log", path, root, NULL };
  g_autofree char *err = NULL;

  if (failure->fifo)
    g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  g_assert_cmpint (tu_run (argv, 10, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, path));
  g_assert_nonnull (strstr (err, failure->why));
  tu_rm_rf (root);
}

/* Answers @batches connections of 50 pipelined requests each, the last
 * of which closes. */
static void
exchange_many (TuDaemon *d,
               guint     batches)
{
  g_autoptr(GString) requests = g_string_new (NULL);

  for (guint i = 0; i < 49; i++)
    g_string_append (requests, "GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
  g_string_append (requests, "GET /a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  for (guint i = 0; i < batches; i++)
    exchange (d, requests->str);
}

/* A pipe that a log shipper has stopped reading: lines are dropped and
 * counted, and neither the writer nor the stop waits for it. */
static void
test_unread_pipe (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_autofree char *fifo = g_build_filename (dir, "access.log", NULL);
  g_autofree char *err = NULL;
  TuDaemon *d;
  int reader;

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  reader = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (reader, >=, 0);
  /* The smallest pipe, a page: a few dozen lines fill it. */
  fcntl (reader, F_SETPIPE_SZ, 4096);
  d = tu_daemon_start_logged ("--access-log", fifo, NULL);
  tu_write_file_str (d->root, "a.txt", "hello world\n");
  exchange_many (d, 10);
  g_free (tu_daemon_await_stderr (d, "lines lost"));
  /* Still serving; then a stop that does not wait for the pipe. */
  exchange_many (d, 1);
  g_assert_cmpint (tu_daemon_finish (d, SIGTERM, 10, &err), ==, 0);
  close (reader);
  tu_rm_rf (dir);
}

/* Every line a file refused is counted in a warning, the last ones at
 * the stop too, though the warning is limited to one a minute: /dev/full
 * refuses them all (ENOSPC). */
static void
test_lost_lines_told (void)
{
  g_autoptr(GRegex) lost = g_regex_new ("Access log: ([0-9]+) lines lost", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *first = NULL;
  g_autofree char *rest = NULL;
  g_autofree char *err = NULL;
  guint64 told = 0;
  TuDaemon *d = tu_daemon_start_logged ("--access-log", "/dev/full", NULL);

  tu_write_file_str (d->root, "a.txt", "hello world\n");
  exchange_many (d, 1);
  first = tu_daemon_await_stderr (d, "lines lost");
  exchange_many (d, 2);
  g_assert_cmpint (tu_daemon_finish (d, SIGTERM, 10, &rest), ==, 0);
  err = g_strconcat (first, "\n", rest, NULL);
  for (g_regex_match (lost, err, 0, &match); g_match_info_matches (match); g_match_info_next (match, NULL))
    {
      g_autofree char *count = g_match_info_fetch (match, 1);

      told += g_ascii_strtoull (count, NULL, 10);
    }
  g_assert_cmpuint (told, ==, 150);
}

/* A file size limit (systemd's LimitFSIZE=, ulimit -f) reached by the
 * log is a write error, warned about, not SIGXFSZ's end of the daemon;
 * and the line it cut is taken back, so the file holds whole lines. */
static void
test_file_size_limit (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-access-log-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "access.log", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  TuDaemon *d;

  /* Not a multiple of the line's 80 bytes: the limit cuts a line. */
  tu_daemon_set_fsize (4020);
  d = tu_daemon_start_logged ("--access-log", path, NULL);
  tu_daemon_set_fsize (0);
  tu_write_file_str (d->root, "a.txt", "hello world\n");
  exchange_many (d, 2);
  g_free (tu_daemon_await_stderr (d, "Cannot write the access log"));
  exchange_many (d, 1);
  tu_daemon_stop (d);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpuint (strlen (text), <=, 4020);
  g_assert_true (g_str_has_suffix (text, "\n"));
  text[strlen (text) - 1] = '\0';
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >, 10);
  for (guint i = 0; lines[i] != NULL; i++)
    assert_line (lines[i], "\"GET /a.txt HTTP/1.1\" 200 12 \"-\" \"-\"");
  tu_rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add ("/access-log/lines/combined-log-format", Fixture, NULL, fixture_setup, test_lines,
              fixture_teardown);
  g_test_add ("/access-log/sighup/reopens-the-path", Fixture, NULL, fixture_setup,
              test_reopen_on_sighup, fixture_teardown);
  g_test_add_func ("/access-log/reopen/lines-after-go-to-the-new-file", test_reopen_while_writing);
  g_test_add_func ("/access-log/refused/logged", test_refused_logged);
  g_test_add_data_func ("/access-log/start/open-failure-names-the-file", &no_such_dir,
                        test_open_failure);
  g_test_add_data_func ("/access-log/start/pipe-without-reader-refused", &unread_fifo,
                        test_open_failure);
  g_test_add_func ("/access-log/unread-pipe/dropped-and-stop-goes-on", test_unread_pipe);
  g_test_add_func ("/access-log/file-size-limit/warned-whole-lines", test_file_size_limit);
  g_test_add_func ("/access-log/lost-lines/all-told", test_lost_lines_told);
  return g_test_run ();
}
