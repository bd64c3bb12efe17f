/* Connections that wait cost no thread: the real daemon, with few worker
 * threads, against many connections that idle, trickle, stall, pipeline
 * or read slowly. Nothing here is timed against a figure: each test
 * checks who is served and what arrives. */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutil.h"

#define KiB 1024
#define MiB (1024 * 1024)


/* 300 keep-alive connections (more than the old default limit of 256
 * threads) on 2 worker threads: every one is served, before and after
 * idling, and the daemon makes no thread for them. */
static void
test_idle_connections (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "2", NULL);
  int fds[300];
  guint threads;

  tu_write_file_str (d->root, "a", "hello\n");
  threads = tu_daemon_threads (d);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      fds[i] = tu_connect (d->port);
      tu_assert_get (fds[i], "a", "hello\n", 6);
    }
  g_assert_cmpuint (tu_daemon_threads (d), ==, threads);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      tu_assert_ping (fds[i]);
      close (fds[i]);
    }
  tu_daemon_stop (d);
}

/* Half a request line on 200 connections, one worker thread: a good
 * client is still served at once, and each stalled line, finished
 * later, is answered. */
static void
test_stalled_lines (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", NULL);
  int stalled[200];
  int good;

  tu_write_file_str (d->root, "a", "hello\n");
  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    {
      stalled[i] = tu_connect (d->port);
      tu_send_str (stalled[i], "GET ");
    }
  good = tu_connect (d->port);
  tu_assert_get (good, "a", "hello\n", 6);
  close (good);

  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    tu_send_str (stalled[i], "a\n");
  for (guint i = 0; i < G_N_ELEMENTS (stalled); i++)
    {
      tu_assert_get_reply (stalled[i], "hello\n", 6);
      close (stalled[i]);
    }
  tu_daemon_stop (d);
}

/* Two connections trickle pipelined requests a byte at a time,
 * interleaved, to one worker: each gets its own replies, in order. */
static void
test_trickled_interleaved (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", NULL);
  const char *requests = "GET a\nPING\nGET b\n";
  int one = tu_connect (d->port);
  int two = tu_connect (d->port);
  g_autofree char *line = NULL;

  tu_write_file_str (d->root, "a", "first\n");
  tu_write_file_str (d->root, "b", "second\n");
  for (const char *p = requests; *p != '\0'; p++)
    {
      tu_send (one, p, 1);
      tu_send (two, p, 1);
      g_usleep (2000);
    }
  for (guint i = 0; i < 2; i++)
    {
      int fd = i == 0 ? one : two;

      tu_assert_get_reply (fd, "first\n", 6);
      g_clear_pointer (&line, g_free);
      line = tu_read_line (fd);
      g_assert_cmpstr (line, ==, "OK PONG\n");
      tu_assert_get_reply (fd, "second\n", 7);
      close (fd);
    }
  tu_daemon_stop (d);
}

/* Clients that ask for large files and do not read, cached and streamed,
 * hold no thread: with one worker, another client is served meanwhile,
 * and each slow reader, reading at last, gets every byte. */
static void
slow_readers (const char *cache_size)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", cache_size, NULL);
  gsize size = 4 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 3, size);
  int slow[16];
  int good;
  guint threads = tu_daemon_threads (d);

  for (guint i = 0; i < G_N_ELEMENTS (slow); i++)
    {
      slow[i] = tu_connect_full ("127.0.0.1", d->port, 4096);
      tu_send_str (slow[i], "GET big\nPING\n");
    }
  good = tu_connect (d->port);
  tu_assert_ping (good);
  tu_write_file_str (d->root, "small", "small\n");
  tu_assert_get (good, "small", "small\n", 6);
  g_assert_cmpuint (tu_daemon_threads (d), ==, threads);
  close (good);

  for (guint i = 0; i < G_N_ELEMENTS (slow); i++)
    {
      g_autofree char *line = NULL;

      tu_assert_get_reply (slow[i], big, size);
      line = tu_read_line (slow[i]);
      g_assert_cmpstr (line, ==, "OK PONG\n");
      close (slow[i]);
    }
  tu_daemon_stop (d);
}

static void
test_slow_readers_cached (void)
{
  slow_readers ("64M");
}

static void
test_slow_readers_streamed (void)
{
  slow_readers ("64K");
}

/* 400 pipelined GETs sent before any reply is read: the connection
 * parks mid-reply with requests still buffered, and every reply comes,
 * in order. */
static void
test_pipelined_while_parked (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", NULL);
  gsize size = 64 * KiB;
  g_autofree guint8 *a = tu_put_seeded (d, "a", 5, size);
  g_autofree guint8 *b = tu_put_seeded (d, "b", 6, size);
  GString *requests = g_string_new (NULL);
  int fd = tu_connect_full ("127.0.0.1", d->port, 8192);

  for (guint i = 0; i < 400; i++)
    g_string_append (requests, i % 2 == 0 ? "GET a\n" : "GET b\n");
  tu_send (fd, requests->str, requests->len);
  g_string_free (requests, TRUE);
  for (guint i = 0; i < 400; i++)
    tu_assert_get_reply (fd, i % 2 == 0 ? a : b, size);
  close (fd);
  tu_daemon_stop (d);
}

/* A connection that sends nothing after a half line is closed at the
 * request timeout even while its worker serves others. */
static void
test_timeouts_while_parked (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--request-timeout", "1",
                                 "--idle-timeout", "2", NULL);
  int partial = tu_connect (d->port);
  int idle = tu_connect (d->port);
  int busy = tu_connect (d->port);
  gint64 start = g_get_monotonic_time ();

  tu_send_str (partial, "GET a");
  /* The busy one keeps the worker at work the whole time. */
  while (g_get_monotonic_time () - start < 3 * G_USEC_PER_SEC)
    {
      tu_assert_ping (busy);
      g_usleep (20 * 1000);
    }
  g_assert_true (tu_wait_closed (partial, 10000, NULL));
  g_assert_true (tu_wait_closed (idle, 10000, NULL));
  tu_assert_ping (busy);
  close (partial);
  close (idle);
  close (busy);
  tu_daemon_stop (d);
}

/* SIGTERM with connections parked in every state, the transfers never
 * read: a clean exit once the drain timeout is over. */
static void
test_stop_while_parked (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "2", "--cache-size", "64K", "--drain-timeout", "1", NULL);
  int fds[30];

  g_free (tu_put_seeded (d, "big", 7, 8 * MiB));
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      fds[i] = tu_connect_full ("127.0.0.1", d->port, 4096);
      if (i % 3 == 0)
        tu_send_str (fds[i], "GET big\n");
      else if (i % 3 == 1)
        tu_send_str (fds[i], "GET bi");
      else
        tu_assert_ping (fds[i]);
    }
  tu_daemon_stop_with (d, SIGTERM);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      g_assert_true (tu_wait_closed (fds[i], 10000, NULL));
      close (fds[i]);
    }
}

/* Threads are made at start: a limit on threads is a clear start-up
 * error naming the cause, never a crash under load. */
static void
test_thread_limit (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *setpriv = g_find_program_in_path ("setpriv");
  g_autofree char *prlimit = g_find_program_in_path ("prlimit");
  const char *daemon = g_getenv ("FILECACHED");
  int status;

  if (getuid () != 0 || setpriv == NULL || prlimit == NULL)
    {
      g_test_skip ("needs root, setpriv and prlimit to run the daemon as a user with a thread limit");
      return;
    }
  dir = g_dir_make_tmp ("filecached-threads-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  {
    /* RLIMIT_NPROC counts every thread of the user, machine-wide: a user
     * of its own (no passwd entry needed), never nobody, whose daemons
     * others may be running. */
    guint uid = 3000000 + (guint) getpid () % 1000000;
    g_autofree char *reuid = g_strdup_printf ("--reuid=%u", uid);
    g_autofree char *regid = g_strdup_printf ("--regid=%u", uid);
    const char *argv[] = {
      "prlimit", "--nproc=3", "setpriv", reuid, regid, "--clear-groups",
      daemon, "--no-dbus", "--host", "127.0.0.1", "--port", "0", "--threads", "16", dir, NULL
    };

    const char *asan = g_getenv ("ASAN_OPTIONS");
    g_autofree char *saved_asan = g_strdup (asan);

    /* LeakSanitizer needs a thread of its own at exit, which the limit
     * refuses: it would turn the clean exit into an abort. */
    if (asan != NULL)
      {
        g_autofree char *no_leaks = g_strconcat (asan, ":detect_leaks=0", NULL);

        g_setenv ("ASAN_OPTIONS", no_leaks, TRUE);
      }
    status = tu_run (argv, 20, &out, &err);
    if (saved_asan != NULL)
      g_setenv ("ASAN_OPTIONS", saved_asan, TRUE);
  }
  g_assert_cmpint (status, ==, 1);
  /* Whichever comes first of the workers and the pool for long work. */
  g_assert_nonnull (strstr (err, "thread"));
  g_assert_null (strstr (err, "GError set over the top"));
  g_assert_cmpstr (out, ==, "");
  g_rmdir (dir);
}

/* A last request and the peer's FIN in one segment (one epoll edge): the
 * connection is answered and closed at once, not at the idle timeout. */
static void
test_request_with_fin (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--idle-timeout", "60", NULL);

  for (guint i = 0; i < 20; i++)
    {
      int fd = tu_connect (d->port);
      g_autofree char *line = NULL;

      tu_assert_ping (fd);
      /* Parked now; the data and the FIN leave together. */
      g_usleep (10 * 1000);
      g_assert_cmpint (send (fd, "PING\n", 5, MSG_MORE), ==, 5);
      g_assert_cmpint (shutdown (fd, SHUT_WR), ==, 0);
      line = tu_read_line_timeout (fd, 5000);
      g_assert_cmpstr (line, ==, "OK PONG\n");
      g_assert_true (tu_wait_closed (fd, 5000, NULL));
      close (fd);
    }
  tu_daemon_stop (d);
}

/* By default one worker per processor the daemon may run on: pinned to
 * one processor (taskset), one worker, so that no two take turns. */
static void
test_default_threads_follow_affinity (void)
{
  g_autofree char *taskset = g_find_program_in_path ("taskset");
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) err = NULL;
  const char *daemon = g_getenv ("FILECACHED");

  if (taskset == NULL || g_get_num_processors () < 2)
    {
      g_test_skip ("needs taskset and two processors");
      return;
    }
  dir = g_dir_make_tmp ("filecached-affinity-XXXXXX", &error);
  g_assert_no_error (error);
  {
    const char *argv[] = { taskset, "-c", "0", daemon, "--config=/dev/null", "--no-dbus",
                           "--host", "127.0.0.1", "--port", "0", dir, NULL };

    proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error);
  }
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (proc));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (err, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (strstr (line, "Serving") == NULL)
        continue;
      g_assert_nonnull (strstr (line, " 1 thread)"));
      break;
    }
  g_subprocess_send_signal (proc, SIGTERM);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);

  g_test_add_func ("/waiting/idle-connections-hold-no-thread", test_idle_connections);
  g_test_add_func ("/waiting/stalled-lines-lock-nobody-out", test_stalled_lines);
  g_test_add_func ("/waiting/trickled-interleaved", test_trickled_interleaved);
  g_test_add_func ("/waiting/slow-readers/cached", test_slow_readers_cached);
  g_test_add_func ("/waiting/slow-readers/streamed", test_slow_readers_streamed);
  g_test_add_func ("/waiting/pipelined-while-parked", test_pipelined_while_parked);
  g_test_add_func ("/waiting/timeouts-while-parked", test_timeouts_while_parked);
  g_test_add_func ("/waiting/stop-while-parked", test_stop_while_parked);
  g_test_add_func ("/waiting/request-with-fin", test_request_with_fin);
  g_test_add_func ("/waiting/thread-limit-is-a-start-up-error", test_thread_limit);
  g_test_add_func ("/waiting/default-threads-follow-affinity", test_default_threads_follow_affinity);
  return g_test_run ();
}
