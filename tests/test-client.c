/* The `filecache` program against the real daemon (and, where the daemon
 * cannot be made to misbehave, against a scripted fake one). */
#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

/* The argv of `filecache COMMAND -H 127.0.0.1 -p PORT [-o OUT] ARGS...`,
 * run by `sh -c` after @shell_prefix if not NULL (to set a `ulimit`). */
static GPtrArray *
client_argv (const char *shell_prefix, const char *command, guint16 port,
             const char *out_dir, const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  if (shell_prefix != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("sh"));
      g_ptr_array_add (argv, g_strdup ("-c"));
      g_ptr_array_add (argv, g_strdup_printf ("%s && exec \"$0\" \"$@\"", shell_prefix));
    }
  g_ptr_array_add (argv, g_strdup (g_getenv ("FILECACHE")));
  g_ptr_array_add (argv, g_strdup (command));
  g_ptr_array_add (argv, g_strdup ("-H"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", port));
  if (out_dir != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("-o"));
      g_ptr_array_add (argv, g_strdup (out_dir));
    }
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static int
run_client_in_shell (const char *shell_prefix, const char *command, guint16 port,
                     const char *out_dir, const char *const *args,
                     char **out_stdout, char **out_stderr)
{
  g_autoptr(GPtrArray) argv = client_argv (shell_prefix, command, port, out_dir, args);

  return tu_run ((const char *const *) argv->pdata, 30, out_stdout, out_stderr);
}

/* Runs `filecache COMMAND -H 127.0.0.1 -p PORT [-o OUT] ARGS...`. */
static int
run_client (const char *command, guint16 port, const char *out_dir,
            const char *const *args, char **out_stdout, char **out_stderr)
{
  return run_client_in_shell (NULL, command, port, out_dir, args, out_stdout, out_stderr);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* (transfer full): the names in @dir, sorted, joined by "|". */
static char *
dir_listing (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  g_assert_nonnull (handle);
  while ((name = g_dir_read_name (handle)) != NULL)
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv ("|", (char **) names->pdata);
}

static void
assert_stderr_mentions (const char *err, const char *name)
{
  if (strstr (err, name) == NULL)
    g_error ("stderr does not mention \"%s\": \"%s\"", name, err);
}

/* A port that nothing listens on, at least for the next moment. */
static guint16
closed_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static void
test_get_several (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "a.txt", "sub/b.bin", "empty", NULL };
  g_autofree guint8 *binary = tu_make_content (3, 100000);
  g_autofree char *a = g_build_filename (f->out, "a.txt", NULL);
  g_autofree char *b = g_build_filename (f->out, "b.bin", NULL);
  g_autofree char *empty = g_build_filename (f->out, "empty", NULL);
  g_autofree char *listing = NULL;
  g_autofree char *err = NULL;

  binary[10] = '\0';
  binary[11] = '\n';
  tu_write_file_str (f->d->root, "a.txt", "alpha\n");
  tu_write_file (f->d->root, "sub/b.bin", binary, 100000);
  tu_write_file_str (f->d->root, "empty", "");
  /* A successful fetch replaces what was there. */
  tu_write_file_str (f->out, "a.txt", "stale local copy\n");

  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), ==, 0);
  tu_assert_file_contents (a, "alpha\n", 6);
  tu_assert_file_contents (b, binary, 100000);
  tu_assert_file_contents (empty, "", 0);
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "a.txt|b.bin|empty");
}

static void
test_get_big (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "64K", NULL);
  const char *args[] = { "big", NULL };
  gsize size = 3 * 1024 * 1024 + 17;
  g_autofree guint8 *big = tu_make_content (4, size);
  g_autofree char *out = g_build_filename (d->base, "out", NULL);
  g_autofree char *path = g_build_filename (out, "big", NULL);

  g_assert_cmpint (mkdir (out, 0755), ==, 0);
  tu_write_file (d->root, "big", big, size);
  g_assert_cmpint (run_client ("get", d->port, out, args, NULL, NULL), ==, 0);
  tu_assert_file_contents (path, big, size);
  tu_daemon_stop (d);
}

static void
test_get_missing (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "a.txt", "nope.txt", NULL };
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  tu_write_file_str (f->d->root, "a.txt", "alpha\n");
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), >, 0);
  assert_stderr_mentions (err, "nope.txt");
  /* a.txt may or may not have been kept; nothing else may be there, not
   * even a temporary file. */
  listing = dir_listing (f->out);
  if (!g_str_equal (listing, "") && !g_str_equal (listing, "a.txt"))
    g_error ("unexpected files left in -o: %s", listing);
}

static void
test_get_no_clobber (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "precious", NULL };
  g_autofree char *path = g_build_filename (f->out, "precious", NULL);
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  tu_write_file_str (f->out, "precious", "keep me\n");
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), >, 0);
  assert_stderr_mentions (err, "precious");
  tu_assert_file_contents (path, "keep me\n", 8);
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "precious");
}

static void
test_get_forbidden (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "somedir", NULL };
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  tu_write_file_str (f->d->root, "somedir/inner", "x");
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), >, 0);
  assert_stderr_mentions (err, "somedir");
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "");
}

static void
test_get_closed_port (void)
{
  const char *args[] = { "a.txt", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_dir_make_tmp ("filecache-test-XXXXXX", &error);
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (run_client ("get", closed_port (), out, args, NULL, &err), >, 0);
  assert_stderr_mentions (err, "a.txt");
  listing = dir_listing (out);
  g_assert_cmpstr (listing, ==, "");
  tu_rm_rf (out);
}

/* A server that answers GETs in turn with @replies, the last a promise it
 * does not keep: it then closes, or (@stall) stops sending and waits for
 * the client to give up. */
typedef struct {
  int listen_fd;
  const char *const *replies;  /* NULL-terminated */
  gboolean stall;
  gboolean served;             /* (atomic): the last reply was sent */
} FakeServer;

static gpointer
fake_server_run (gpointer data)
{
  FakeServer *server = data;
  struct timeval tv = { .tv_sec = TU_IO_TIMEOUT_S };
  int fd = accept (server->listen_fd, NULL, NULL);

  if (fd < 0)
    return NULL;
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  /* One request at a time: closing with a request unread could reset
   * the connection before the client has read the replies sent. */
  for (const char *const *reply = server->replies; *reply != NULL; reply++)
    {
      g_autofree char *line = tu_read_line (fd);

      g_assert_nonnull (line);
      g_assert_true (g_str_has_prefix (line, "GET "));
      tu_send_str (fd, *reply);
    }
  g_atomic_int_set (&server->served, TRUE);
  if (server->stall)
    g_assert_true (tu_wait_closed (fd, TU_IO_TIMEOUT_S * 1000, NULL));
  close (fd);
  return NULL;
}

/* Starts @server listening on loopback; returns its port. */
static guint16
fake_server_start (FakeServer *server, GThread **thread)
{
  struct timeval tv = { .tv_sec = TU_IO_TIMEOUT_S };
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  server->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (bind (server->listen_fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  /* Bounds accept() too, should the client never come. */
  g_assert_cmpint (setsockopt (server->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_cmpint (listen (server->listen_fd, 4), ==, 0);
  g_assert_cmpint (getsockname (server->listen_fd, (struct sockaddr *) &addr, &len), ==, 0);
  *thread = g_thread_new ("fake-server", fake_server_run, server);
  return ntohs (addr.sin_port);
}

static void
fake_server_finish (FakeServer *server, GThread *thread)
{
  g_thread_join (thread);
  g_assert_true (server->served);
  close (server->listen_fd);
}

/* Runs `filecache get @args` against a FakeServer; returns the exit status
 * and, through @err, stderr. Asserts that the files left in the output
 * directory are exactly @kept (as dir_listing() gives them): no partial
 * or temporary one. */
static int
get_from_fake_server (const char *const *replies, gboolean stall, const char *const *args,
                      const char *kept, char **err)
{
  FakeServer server = { -1, replies, stall, FALSE };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_dir_make_tmp ("filecache-test-XXXXXX", &error);
  g_autofree char *listing = NULL;
  GThread *thread;
  guint16 port;
  int status;

  g_assert_no_error (error);
  port = fake_server_start (&server, &thread);
  status = run_client ("get", port, out, args, NULL, err);
  listing = dir_listing (out);
  g_assert_cmpstr (listing, ==, kept);

  fake_server_finish (&server, thread);
  tu_rm_rf (out);
  return status;
}

static void
test_get_short_body (void)
{
  const char *replies[] = { "OK 100\nonly ten b", NULL };
  const char *args[] = { "short.txt", "later.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from_fake_server (replies, FALSE, args, "", &err), >, 0);
  assert_stderr_mentions (err, "short.txt");
  /* The names the lost connection left undone are named too. */
  assert_stderr_mentions (err, "later.txt");
}

/* The second of three names is cut short: the first is kept, the third
 * is named as not fetched. */
static void
test_get_cut_midway (void)
{
  const char *replies[] = { "OK 6\nfirst\n", "OK 100\nonly ten b", NULL };
  const char *args[] = { "first.txt", "cut.txt", "third.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from_fake_server (replies, FALSE, args, "first.txt", &err), >, 0);
  g_assert_null (strstr (err, "first.txt"));
  assert_stderr_mentions (err, "cut.txt");
  assert_stderr_mentions (err, "third.txt");
}

static void
test_get_stalled (void)
{
  const char *replies[] = { "OK 10\nab", NULL };
  const char *args[] = { "--timeout", "1", "stalled.txt", "later.txt", NULL };
  g_autofree char *err = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_cmpint (get_from_fake_server (replies, TRUE, args, "", &err), >, 0);
  /* About one timeout; far from TU_IO_TIMEOUT_S, when the fake server
   * itself would give up. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  assert_stderr_mentions (err, "stalled.txt");
  assert_stderr_mentions (err, "timed out");
  assert_stderr_mentions (err, "later.txt");
}

/* A file size limit (`ulimit -f`) reached midway is a write error like
 * any other, not a silent death by SIGXFSZ: the name and the cause are
 * told, and no partial file is left. */
static void
test_get_file_size_limit (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "big", NULL };
  gsize size = 1024 * 1024;
  g_autofree guint8 *big = tu_make_content (5, size);
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  tu_write_file (f->d->root, "big", big, size);
  /* 64 blocks: 32 KiB, or 64 KiB where a block is 1 KiB. */
  g_assert_cmpint (run_client_in_shell ("ulimit -f 64", "get", f->d->port, f->out, args,
                                        NULL, &err), >, 0);
  assert_stderr_mentions (err, "big");
  assert_stderr_mentions (err, "File too large");
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "");
}

typedef struct {
  const char *path;
  int signum;        /* sent midway */
  gboolean ignored;  /* by the client's parent, as nohup does with SIGHUP */
} SignalCase;

static const SignalCase signal_cases[] = {
  { "/client/get/signal-midway/SIGINT", SIGINT, FALSE },
  { "/client/get/signal-midway/SIGTERM", SIGTERM, FALSE },
  { "/client/get/signal-midway/SIGHUP", SIGHUP, FALSE },
  { "/client/get/signal-midway/SIGQUIT", SIGQUIT, FALSE },
  { "/client/get/signal-midway/SIGHUP-ignored", SIGHUP, TRUE },
};

/* The disposition the client starts with. */
static void
set_child_signal (gpointer data)
{
  const SignalCase *sc = data;

  signal (sc->signum, sc->ignored ? SIG_IGN : SIG_DFL);
}

/* A signal that ends the client midway through a transfer (the user's
 * ^C or ^\, a closed terminal, kill) leaves no temporary file behind;
 * one ignored on entry stays ignored, and a SIGTERM sent after it is
 * what ends the client. */
static void
test_get_signal_midway (gconstpointer data)
{
  const SignalCase *sc = data;
  const char *replies[] = { "OK 100\nonly ten b", NULL };
  const char *args[] = { "slow.txt", NULL };
  FakeServer server = { -1, replies, TRUE, FALSE };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = g_dir_make_tmp ("filecache-test-XXXXXX", &error);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *listing = NULL;
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  GThread *thread;

  g_assert_no_error (error);
  /* No core file from SIGQUIT. */
  argv = client_argv ("ulimit -c 0", "get", fake_server_start (&server, &thread), out, args);
  g_subprocess_launcher_set_child_setup (launcher, set_child_signal, (gpointer) sc, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* Midway: once the temporary file exists and the body has begun. */
  for (;;)
    {
      g_autofree char *during = dir_listing (out);

      if (g_atomic_int_get (&server.served) && g_str_has_prefix (during, ".slow.txt."))
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the client never began the transfer");
      g_usleep (10000);
    }
  g_subprocess_send_signal (proc, sc->signum);
  /* Were the first one handled, its handler would block this one and
   * the process would die of the first. */
  if (sc->ignored)
    g_subprocess_send_signal (proc, SIGTERM);
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (proc));
  g_assert_cmpint (g_subprocess_get_term_sig (proc), ==, sc->ignored ? SIGTERM : sc->signum);
  listing = dir_listing (out);
  g_assert_cmpstr (listing, ==, "");

  fake_server_finish (&server, thread);
  tu_rm_rf (out);
}

/* Finds the table row for @name: `SIZE HITS NAME`, however aligned. */
static gboolean
table_has_row (const char *table, const char *name, guint64 size, guint64 hits)
{
  g_auto(GStrv) lines = g_strsplit (table, "\n", -1);

  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      const char *cols[3] = { NULL };
      guint n = 0;

      for (guint j = 0; fields[j] != NULL; j++)
        if (*fields[j] != '\0' && n < 3)
          cols[n++] = fields[j];
      if (n == 3 && g_str_equal (cols[2], name) &&
          g_ascii_strtoull (cols[0], NULL, 10) == size &&
          g_ascii_strtoull (cols[1], NULL, 10) == hits)
        return TRUE;
    }
  return FALSE;
}

static void
test_list (TuFixture *f, gconstpointer data)
{
  g_autofree char *table = NULL;

  tu_write_file_str (f->d->root, "one.txt", "1\n");
  tu_write_file_str (f->d->root, "two.txt", "two\n");
  tu_write_file_str (f->d->root, "other.txt", "not fetched\n");
  tu_assert_get (f->fd, "one.txt", "1\n", 2);
  tu_assert_get (f->fd, "one.txt", "1\n", 2);
  tu_assert_get (f->fd, "two.txt", "two\n", 4);

  g_assert_cmpint (run_client ("list", f->d->port, NULL, NULL, &table, NULL), ==, 0);
  g_test_message ("list printed:\n%s", table);
  if (!table_has_row (table, "one.txt", 2, 2) || !table_has_row (table, "two.txt", 4, 1))
    g_error ("rows missing from:\n%s", table);
  g_assert_null (strstr (table, "other.txt"));
}

static void
test_ping (TuFixture *f, gconstpointer data)
{
  g_assert_cmpint (run_client ("ping", f->d->port, NULL, NULL, NULL, NULL), ==, 0);
}

static void
test_ping_closed_port (void)
{
  g_autofree char *err = NULL;

  g_assert_cmpint (run_client ("ping", closed_port (), NULL, NULL, NULL, &err), >, 0);
  g_assert_cmpstr (g_strstrip (err), !=, "");
}

int
main (int argc, char **argv)
{
  tu_init (&argc, &argv);

  tu_add ("/client/get/several-files", NULL, test_get_several);
  g_test_add_func ("/client/get/big-file", test_get_big);
  tu_add ("/client/get/missing", NULL, test_get_missing);
  tu_add ("/client/get/no-clobber-on-failure", NULL, test_get_no_clobber);
  tu_add ("/client/get/forbidden", NULL, test_get_forbidden);
  g_test_add_func ("/client/get/short-body", test_get_short_body);
  g_test_add_func ("/client/get/cut-midway", test_get_cut_midway);
  g_test_add_func ("/client/get/stalled-server-times-out", test_get_stalled);
  g_test_add_func ("/client/get/closed-port", test_get_closed_port);
  tu_add ("/client/get/file-size-limit", NULL, test_get_file_size_limit);
  for (gsize i = 0; i < G_N_ELEMENTS (signal_cases); i++)
    g_test_add_data_func (signal_cases[i].path, &signal_cases[i], test_get_signal_midway);
  tu_add ("/client/list", NULL, test_list);
  tu_add ("/client/ping", NULL, test_ping);
  g_test_add_func ("/client/ping/closed-port", test_ping_closed_port);

  return g_test_run ();
}
