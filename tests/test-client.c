/* The `filecache` program against the real daemon (and, where the daemon
 * cannot be made to misbehave, against a scripted fake one). */
#define G_LOG_DOMAIN "test"

#include "testutil.h"
#include "jsoncheck.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
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

/* (transfer full): a fresh empty directory for the client to write into */
static char *
make_out_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *out = g_dir_make_tmp ("filecache-test-XXXXXX", &error);

  g_assert_no_error (error);
  return out;
}

static void
test_get_several (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "a.txt", "sub/b.bin", "empty", NULL };
  g_autofree guint8 *binary = tu_make_content (3, 100000);
  g_autofree char *a = g_build_filename (f->out, "a.txt", NULL);
  g_autofree char *b = g_build_filename (f->out, "sub", "b.bin", NULL);
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
  g_assert_cmpstr (listing, ==, "a.txt|empty|sub");
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

/* What a FakeServer does once its last reply is sent. */
typedef enum {
  FAKE_CLOSE,  /* closes at once: the last reply is a promise not kept */
  FAKE_STALL,  /* sends nothing more and waits for the client to give up */
  FAKE_DRAIN,  /* records the client's further requests until it closes */
  FAKE_HANG_UP, /* reads one more request and closes in order without a byte of
                 * reply, as a stopping daemon may; then serves `again` on the
                 * next connection */
} FakeEnd;

/* A server that answers requests in turn with @replies and records the
 * request lines it received, for tests of what the client asks. */
typedef struct {
  int listen_fd;
  char **replies;       /* (owned): NULL-terminated */
  FakeEnd end;
  gboolean served;      /* (atomic): the last reply was sent */
  GPtrArray *requests;  /* (owned): the request lines, LF stripped */
  char **again;         /* (owned) (nullable): FAKE_HANG_UP: the next connection's replies */
  FakeEnd again_end;    /* and how it ends */
} FakeServer;

static void
fake_server_record (FakeServer *server, char *line)
{
  g_assert_true (g_str_has_suffix (line, "\n"));
  line[strlen (line) - 1] = '\0';
  g_ptr_array_add (server->requests, line);
}

/* Serves one connection with @replies, ending as @end; on the @last one,
 * marks the server served once the replies are sent. Returns FALSE if
 * none came. */
static gboolean
fake_server_serve (FakeServer *server, char **replies, FakeEnd end, gboolean last)
{
  struct timeval tv = { .tv_sec = TU_IO_TIMEOUT_S };
  int fd = accept (server->listen_fd, NULL, NULL);
  char *line;

  if (fd < 0)
    return FALSE;
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  /* One request at a time: closing with a request unread could reset
   * the connection before the client has read the replies sent. */
  for (char **reply = replies; *reply != NULL; reply++)
    {
      line = tu_read_line (fd);
      g_assert_nonnull (line);
      fake_server_record (server, line);
      tu_send_str (fd, *reply);
    }
  if (last)
    g_atomic_int_set (&server->served, TRUE);
  if (end == FAKE_STALL)
    g_assert_true (tu_wait_closed (fd, TU_IO_TIMEOUT_S * 1000, NULL));
  if (end == FAKE_DRAIN)
    while ((line = tu_read_line (fd)) != NULL)
      fake_server_record (server, line);
  if (end == FAKE_HANG_UP)
    {
      line = tu_read_line (fd);
      g_assert_nonnull (line);
      fake_server_record (server, line);
    }
  close (fd);
  return TRUE;
}

static gpointer
fake_server_run (gpointer data)
{
  FakeServer *server = data;

  gboolean again = server->end == FAKE_HANG_UP;

  if (fake_server_serve (server, server->replies, server->end, !again) && again)
    fake_server_serve (server, server->again, server->again_end, TRUE);
  return NULL;
}

/* @replies: (transfer full) */
static FakeServer *
fake_server_new_strv (FakeEnd end, char **replies)
{
  FakeServer *server = g_new0 (FakeServer, 1);

  server->replies = replies;
  server->end = end;
  server->listen_fd = -1;
  server->requests = g_ptr_array_new_with_free_func (g_free);
  return server;
}

static void
fake_server_free (FakeServer *server)
{
  g_strfreev (server->replies);
  g_strfreev (server->again);
  g_ptr_array_unref (server->requests);
  if (server->listen_fd >= 0)
    close (server->listen_fd);
  g_free (server);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeServer, fake_server_free)

/* @first_reply...: the replies, NULL-terminated, copied. */
static FakeServer *
fake_server_new (FakeEnd end, const char *first_reply, ...)
{
  g_autoptr(GStrvBuilder) replies = g_strv_builder_new ();
  va_list ap;

  va_start (ap, first_reply);
  for (const char *reply = first_reply; reply != NULL; reply = va_arg (ap, const char *))
    g_strv_builder_add (replies, reply);
  va_end (ap);
  return fake_server_new_strv (end, g_strv_builder_end (replies));
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
}

/* Runs `filecache get -o @out @args` against @server; returns the exit
 * status and, through @err, stderr. */
static int
get_from (FakeServer *server, const char *out, const char *const *args, char **err)
{
  GThread *thread;
  guint16 port = fake_server_start (server, &thread);
  int status = run_client ("get", port, out, args, NULL, err);

  fake_server_finish (server, thread);
  return status;
}

/* Asserts that @server received exactly the request lines given. */
static void
assert_requests (FakeServer *server, const char *first, ...)
{
  g_autoptr(GStrvBuilder) expected = g_strv_builder_new ();
  g_auto(GStrv) want = NULL;
  g_autofree char *want_text = NULL;
  g_autofree char *got_text = NULL;
  va_list ap;

  va_start (ap, first);
  for (const char *line = first; line != NULL; line = va_arg (ap, const char *))
    g_strv_builder_add (expected, line);
  va_end (ap);
  want = g_strv_builder_end (expected);
  want_text = g_strjoinv ("|", want);
  g_ptr_array_add (server->requests, NULL);
  got_text = g_strjoinv ("|", (char **) server->requests->pdata);
  g_ptr_array_remove_index (server->requests, server->requests->len - 1);
  g_assert_cmpstr (got_text, ==, want_text);
}

/* (transfer full): the SHA-256 of @text in hex, as STAT gives it */
static char *
sha256 (const char *text)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

/* (transfer full): "OK <size> <sha256>" LF for @text */
static char *
stat_reply (const char *text)
{
  g_autofree char *digest = sha256 (text);

  return g_strdup_printf ("OK %zu %s\n", strlen (text), digest);
}

/* A digest that no content in these tests has. */
#define OTHER_DIGEST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define STAT_100 "OK 100 " OTHER_DIGEST "\n"

/* Runs `filecache get @args` against a FakeServer ending as @end; returns
 * the exit status and, through @err, stderr. Asserts that the files left
 * in the output directory are exactly @kept (as dir_listing() gives
 * them): no partial or temporary one. */
static int
get_from_fake_server (char **replies, FakeEnd end, const char *const *args,
                      const char *kept, char **err)
{
  g_autoptr(FakeServer) server = fake_server_new_strv (end, g_strdupv (replies));
  g_autofree char *out = make_out_dir ();
  g_autofree char *listing = NULL;
  int status;

  status = get_from (server, out, args, err);
  listing = dir_listing (out);
  g_assert_cmpstr (listing, ==, kept);
  tu_rm_rf (out);
  return status;
}

static void
test_get_short_body (void)
{
  char *replies[] = { STAT_100, "OK 100\nonly ten b", NULL };
  const char *args[] = { "short.txt", "later.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from_fake_server (replies, FAKE_CLOSE, args, "", &err), >, 0);
  assert_stderr_mentions (err, "short.txt");
  /* The names the lost connection left undone are named too. */
  assert_stderr_mentions (err, "later.txt");
}

/* The second of three names is cut short: the first is kept, the third
 * is named as not fetched. */
static void
test_get_cut_midway (void)
{
  g_autofree char *first_stat = stat_reply ("first\n");
  char *replies[] = { first_stat, "OK 6\nfirst\n", STAT_100, "OK 100\nonly ten b", NULL };
  const char *args[] = { "first.txt", "cut.txt", "third.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from_fake_server (replies, FAKE_CLOSE, args, "first.txt", &err), >, 0);
  g_assert_null (strstr (err, "first.txt"));
  assert_stderr_mentions (err, "cut.txt");
  assert_stderr_mentions (err, "third.txt");
}

static void
test_get_stalled (void)
{
  char *replies[] = { STAT_100, "OK 100\nab", NULL };
  const char *args[] = { "--timeout", "1", "stalled.txt", "later.txt", NULL };
  g_autofree char *err = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_cmpint (get_from_fake_server (replies, FAKE_STALL, args, "", &err), >, 0);
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

/* Whether the process @proc has a file open in the folder @dir: its
 * /proc/PID/fd links name it, even an unnamed one ("DIR/#123 (deleted)"). */
static gboolean
has_file_open_in (GSubprocess *proc, const char *dir)
{
  g_autofree char *fds = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (proc));
  g_autofree char *prefix = g_strconcat (dir, "/", NULL);
  g_autoptr(GDir) handle = g_dir_open (fds, 0, NULL);
  const char *fd;

  while (handle != NULL && (fd = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *link = g_build_filename (fds, fd, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (target != NULL && g_str_has_prefix (target, prefix))
        return TRUE;
    }
  return FALSE;
}

/* A signal that ends the client midway through a transfer (the user's
 * ^C or ^\, a closed terminal, kill) leaves no temporary file behind;
 * one ignored on entry stays ignored, and a SIGTERM sent after it is
 * what ends the client. */
static void
test_get_signal_midway (gconstpointer data)
{
  const SignalCase *sc = data;
  g_autoptr(FakeServer) server = fake_server_new (FAKE_STALL, STAT_100, "OK 100\nonly ten b",
                                                  NULL);
  const char *args[] = { "slow.txt", NULL };
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
  argv = client_argv ("ulimit -c 0", "get", fake_server_start (server, &thread), out, args);
  g_subprocess_launcher_set_child_setup (launcher, set_child_signal, (gpointer) sc, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* Midway: once the private file is open (unnamed, or a hidden
   * temporary one where there is no O_TMPFILE) and the body has begun. */
  for (;;)
    {
      if (g_atomic_int_get (&server->served) && has_file_open_in (proc, out))
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

  fake_server_finish (server, thread);
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

/* Runs `filecache @args` as given; returns its exit status. */
static int
run_filecache (const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) g_getenv ("FILECACHE"));
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return tu_run ((const char *const *) argv->pdata, 30, out, err);
}

/* (transfer full): the path of @name under @dir */
static char *
out_path (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
assert_file_str (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = out_path (dir, name);

  tu_assert_file_contents (path, text, strlen (text));
}

/* Asserts that @dir holds @name with @text, and nothing else: no part,
 * no temporary file. */
static void
assert_only_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *listing = dir_listing (dir);

  assert_file_str (dir, name, text);
  g_assert_cmpstr (listing, ==, name);
}

/* -o DIR keeps each name's relative path, creating the folders: two names
 * with one last component no longer land on one file. */
static void
test_get_relative_paths (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "docs/readme.txt", "sub/deeper/readme.txt", "top.txt", NULL };
  g_autofree char *listing = NULL;
  g_autofree char *docs = g_build_filename (f->out, "docs", NULL);

  tu_write_file_str (f->d->root, "docs/readme.txt", "docs\n");
  tu_write_file_str (f->d->root, "sub/deeper/readme.txt", "sub\n");
  tu_write_file_str (f->d->root, "top.txt", "top\n");

  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, NULL), ==, 0);
  assert_file_str (f->out, "docs/readme.txt", "docs\n");
  assert_file_str (f->out, "sub/deeper/readme.txt", "sub\n");
  assert_file_str (f->out, "top.txt", "top\n");
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "docs|sub|top.txt");
  g_free (listing);
  listing = dir_listing (docs);
  g_assert_cmpstr (listing, ==, "readme.txt");
}

/* Two names that would be saved to one file (the same name twice, or a
 * name and another inside it) are refused as a usage error before
 * anything is fetched. */
static void
test_get_collisions (TuFixture *f, gconstpointer data)
{
  static const char *const cases[][3] = {
    { "a.txt", "a.txt", NULL },
    { "d", "d/x", NULL },
    { "d/x/y", "d/x", NULL },
  };

  tu_write_file_str (f->d->root, "a.txt", "a\n");
  tu_write_file_str (f->d->root, "d/x/y", "y\n");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *listing = NULL;

      g_assert_cmpint (run_client ("get", f->d->port, f->out, cases[i], NULL, &err), ==, 2);
      assert_stderr_mentions (err, cases[i][1]);
      listing = dir_listing (f->out);
      g_assert_cmpstr (listing, ==, "");
    }
}

/* The port is decimal, leading zeros and all: not octal, not hex. */
static void
test_port_decimal (TuFixture *f, gconstpointer data)
{
  g_autofree char *port = g_strdup_printf ("0%u", f->d->port);
  const char *zero[] = { "ping", "-H", "127.0.0.1", "-p", port, NULL };
  const char *hex[] = { "ping", "-H", "127.0.0.1", "-p", "0x1f90", NULL };
  g_autofree char *out = NULL;

  g_assert_cmpint (run_filecache (zero, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "PONG\n");
  g_assert_cmpint (run_filecache (hex, NULL, NULL), ==, 2);
}

/* A refused connection names the port, which is as often what is wrong
 * as the host; it is a failure (1), not a usage error. */
static void
test_closed_port_named (void)
{
  guint16 port = closed_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char *args[] = { "a.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (run_client ("ping", port, NULL, NULL, NULL, &err), ==, 1);
  assert_stderr_mentions (err, port_text);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_client ("get", port, NULL, args, NULL, &err), ==, 1);
  assert_stderr_mentions (err, port_text);
}

/* Usage errors exit with 2, failures with 1, as --help says. */
static void
test_usage_exit_status (void)
{
  static const char *const cases[][6] = {
    { NULL },
    { "frobnicate", NULL },
    { "--bogus", NULL },
    { "get", NULL },
    { "get", "--bogus", "x", NULL },
    { "get", "-p", "70000", "x", NULL },
    { "get", "-p", "12ab", "x", NULL },
    { "get", "-p", "-1", "x", NULL },
    { "get", "--timeout", "0", "x", NULL },
    { "get", "../x", NULL },
    { "get", "/etc/passwd", NULL },
    { "list", "extra", NULL },
    { "stats", "--json", "--prometheus", NULL },
    { "stats", "--advise", "--json", NULL },
    { "evict", "../x", NULL },
    { "evict", "a//b", NULL },
  };
  const char *help[] = { "get", "--help", NULL };
  g_autofree char *out = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_autofree char *joined = g_strjoinv (" ", (char **) cases[i]);

      g_test_message ("filecache %s", joined);
      g_assert_cmpint (run_filecache (cases[i], NULL, &err), ==, 2);
      g_assert_cmpstr (g_strstrip (err), !=, "");
    }

  /* A refused name is named, for get as for evict (was: evict said
   * only why). */
  {
    static const char *const named[][3] = {
      { "get", "../x", NULL }, { "evict", "../x", NULL }, { "evict", "a//b", NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (named); i++)
      {
        g_autofree char *err = NULL;
        g_autofree char *prefix = g_strdup_printf ("%s: ", named[i][1]);

        g_assert_cmpint (run_filecache (named[i], NULL, &err), ==, 2);
        g_assert_nonnull (strstr (err, prefix));
      }
  }

  g_assert_cmpint (run_filecache (help, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Exit status"));
  g_assert_nonnull (strstr (out, "2 for a usage error"));
}

/* (transfer full): @len bytes (at least) of text lines, different for
 * each @seed, so that a FakeServer can send them as a string. */
static char *
make_text (guint seed, gsize len)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; text->len < len; i++)
    g_string_append_printf (text, "%u: line %u of the text\n", seed, i);
  g_string_truncate (text, len);
  return g_string_free (text, FALSE);
}

/* Fetches @name with -c from a FakeServer that announces @content, sends
 * its first @cut bytes and closes: leaves .NAME.part in @out. */
static void
cut_download (const char *out, const char *name, const char *content, gsize cut)
{
  g_autofree char *stat = stat_reply (content);
  g_autofree char *body = g_strdup_printf ("OK %zu\n%.*s", strlen (content), (int) cut, content);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_CLOSE, stat, body, NULL);
  const char *args[] = { "-c", name, NULL };
  g_autofree char *folder = g_path_get_dirname (name);
  g_autofree char *base = g_path_get_basename (name);
  g_autofree char *part_name = g_strdup_printf (".%s.part", base);
  g_autofree char *part = g_build_filename (out, folder, part_name, NULL);
  g_autofree char *target = out_path (out, name);
  g_autofree char *err = NULL;
  g_autofree char *kept = NULL;
  gsize kept_len;

  g_assert_cmpint (get_from (server, out, args, &err), ==, 1);
  assert_stderr_mentions (err, name);
  /* Kept, hidden, beside the target; never under the final name. */
  g_assert_true (g_file_get_contents (part, &kept, &kept_len, NULL));
  g_assert_cmpmem (kept, kept_len, content, cut);
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
}

/* A download cut midway and kept with -c is resumed from where it was cut
 * (GETFROM <size so far> <digest>), and gives the whole file. */
static void
test_get_resume_offset (void)
{
  const char *content = "0123456789abcdefghi\n";
  g_autofree char *digest = sha256 (content);
  g_autofree char *stat = stat_reply (content);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, stat, "OK 12\n89abcdefghi\n", NULL);
  g_autofree char *getfrom = g_strdup_printf ("GETFROM 8 %s f.txt", digest);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "-c", "f.txt", NULL };

  cut_download (out, "f.txt", content, 8);
  g_assert_cmpint (get_from (server, out, args, NULL), ==, 0);
  assert_requests (server, "STAT f.txt", getfrom, NULL);
  assert_only_file (out, "f.txt", content);
  tu_rm_rf (out);
}

/* The same against the real daemon: a download cut midway, resumed with
 * -c, gives the right file. */
static void
test_get_resume_from_daemon (TuFixture *f, gconstpointer data)
{
  g_autofree char *content = make_text (1, 300000);
  const char *args[] = { "-c", "sub/big.txt", NULL };
  g_autofree char *sub = out_path (f->out, "sub");

  tu_write_file_str (f->d->root, "sub/big.txt", content);
  cut_download (f->out, "sub/big.txt", content, 123457);
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, NULL), ==, 0);
  assert_only_file (sub, "big.txt", content);
}

/* A file changed between two runs of -c is fetched again whole: the part
 * kept belongs to the old digest. */
static void
test_get_resume_changed (TuFixture *f, gconstpointer data)
{
  g_autofree char *old = make_text (1, 200000);
  g_autofree char *new = make_text (2, 250000);
  const char *args[] = { "-c", "big.txt", NULL };

  cut_download (f->out, "big.txt", old, 100000);
  tu_write_file_str (f->d->root, "big.txt", new);
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, NULL), ==, 0);
  assert_only_file (f->out, "big.txt", new);
}

/* A resumed GETFROM answered ERR 412 starts over from a fresh STAT. */
static void
test_get_resume_412 (void)
{
  const char *old = "old content\n";
  const char *new = "new stuff!\n";
  g_autofree char *old_digest = sha256 (old);
  g_autofree char *new_digest = sha256 (new);
  g_autofree char *old_stat = stat_reply (old);
  g_autofree char *new_stat = stat_reply (new);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, old_stat, "ERR 412 file changed\n",
                                                  new_stat, "OK 11\nnew stuff!\n", NULL);
  g_autofree char *resume = g_strdup_printf ("GETFROM 4 %s f", old_digest);
  g_autofree char *fresh = g_strdup_printf ("GETFROM 0 %s f", new_digest);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "-c", "f", NULL };

  cut_download (out, "f", old, 4);
  g_assert_cmpint (get_from (server, out, args, NULL), ==, 0);
  assert_requests (server, "STAT f", resume, "STAT f", fresh, NULL);
  assert_only_file (out, "f", new);
  tu_rm_rf (out);
}

/* get asks STAT, then GETFROM 0 <digest>; content that does not have the
 * digest is not kept, and is fetched again once from a fresh STAT. */
static void
test_get_mismatch_retried (void)
{
  g_autofree char *digest = sha256 ("hello\n");
  g_autofree char *stat = stat_reply ("hello\n");
  g_autofree char *getfrom = g_strdup_printf ("GETFROM 0 %s f.txt", digest);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, stat, "OK 6\nhellx\n",
                                                  stat, "OK 6\nhello\n", NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "f.txt", NULL };

  g_assert_cmpint (get_from (server, out, args, NULL), ==, 0);
  assert_requests (server, "STAT f.txt", getfrom, "STAT f.txt", getfrom, NULL);
  assert_only_file (out, "f.txt", "hello\n");
  tu_rm_rf (out);
}

/* A server that closes in order before any byte of a reply, as a stopping
 * daemon may, is connected to again, and the name asked again there: here
 * the second name, after the first was fetched. */
static void
test_get_unanswered_retried (void)
{
  g_autofree char *first_digest = sha256 ("first\n");
  g_autofree char *second_digest = sha256 ("second\n");
  g_autofree char *first_stat = stat_reply ("first\n");
  g_autofree char *second_stat = stat_reply ("second\n");
  g_autofree char *first_get = g_strdup_printf ("GETFROM 0 %s a.txt", first_digest);
  g_autofree char *second_get = g_strdup_printf ("GETFROM 0 %s b.txt", second_digest);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_HANG_UP, first_stat, "OK 6\nfirst\n", NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "a.txt", "b.txt", NULL };
  g_autofree char *err = NULL;

  server->again = g_strdupv ((char *[]) { second_stat, "OK 7\nsecond\n", NULL });
  server->again_end = FAKE_DRAIN;
  g_assert_cmpint (get_from (server, out, args, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  assert_requests (server, "STAT a.txt", first_get, "STAT b.txt", "STAT b.txt", second_get, NULL);
  assert_file_str (out, "a.txt", "first\n");
  assert_file_str (out, "b.txt", "second\n");
  tu_rm_rf (out);
}

/* Once per name: closed on again, the name fails, and so do the names
 * after it, the connection being lost. */
static void
test_get_unanswered_twice_fails (void)
{
  g_autoptr(FakeServer) server = fake_server_new (FAKE_HANG_UP, NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "a.txt", "b.txt", NULL };
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  server->again = g_new0 (char *, 1);
  server->again_end = FAKE_HANG_UP;
  /* The second hang-up is the last connection: the fake serves no third. */
  g_assert_cmpint (get_from (server, out, args, &err), ==, 1);
  assert_requests (server, "STAT a.txt", "STAT a.txt", NULL);
  assert_stderr_mentions (err, "a.txt");
  assert_stderr_mentions (err, "b.txt");
  listing = dir_listing (out);
  g_assert_cmpstr (listing, ==, "");
  tu_rm_rf (out);
}

/* A body that is not the version STAT announced ("hello" LF), sent for
 * both tries: the second fails, naming the file and the cause, and keeps
 * nothing. */
typedef struct {
  const char *first_reply;
  const char *second_reply;
  const char *cause;
} MismatchCase;

static const MismatchCase mismatch_other_bytes = { "OK 6\nhellx\n", "OK 6\nhelly\n", "SHA-256" };
/* Of another length: named as such, not as a SHA-256 that differs. */
static const MismatchCase mismatch_other_length = {
  "OK 7\nhello!\n", "OK 7\nhello!\n", "sent 7 bytes of a file it announced as 6 bytes"
};

static void
test_get_mismatch_twice (gconstpointer data)
{
  const MismatchCase *mismatch = data;
  g_autofree char *stat = stat_reply ("hello\n");
  char *replies[] = { stat, (char *) mismatch->first_reply, stat, (char *) mismatch->second_reply, NULL };
  const char *args[] = { "f.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from_fake_server (replies, FAKE_DRAIN, args, "", &err), ==, 1);
  assert_stderr_mentions (err, "f.txt");
  assert_stderr_mentions (err, mismatch->cause);
}

/* A file that changed between STAT and GETFROM (ERR 412) is fetched again
 * from a fresh STAT. */
static void
test_get_changed_retried (void)
{
  g_autofree char *old_stat = stat_reply ("old\n");
  g_autofree char *new_stat = stat_reply ("new!\n");
  g_autofree char *new_digest = sha256 ("new!\n");
  g_autofree char *fresh = g_strdup_printf ("GETFROM 0 %s f", new_digest);
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, old_stat, "ERR 412 file changed\n",
                                                  new_stat, "OK 5\nnew!\n", NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "f", NULL };

  g_assert_cmpint (get_from (server, out, args, NULL), ==, 0);
  g_assert_cmpuint (server->requests->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (server->requests, 3), ==, fresh);
  assert_only_file (out, "f", "new!\n");
  tu_rm_rf (out);
}

/* --skip-identical: a local file with the server's digest costs one
 * STAT and no body. */
static void
test_get_skip_identical_requests (void)
{
  g_autofree char *stat = stat_reply ("same\n");
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, stat, NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "--skip-identical", "f.txt", NULL };
  g_autofree char *err = NULL;

  tu_write_file_str (out, "f.txt", "same\n");
  g_assert_cmpint (get_from (server, out, args, &err), ==, 0);
  assert_requests (server, "STAT f.txt", NULL);
  assert_stderr_mentions (err, "skipped");
  assert_only_file (out, "f.txt", "same\n");
  tu_rm_rf (out);
}

static ino_t
inode_of (const char *dir, const char *name)
{
  g_autofree char *path = out_path (dir, name);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_ino;
}

/* Against the daemon: the identical file is left as it is (same inode),
 * one that differs is fetched. */
static void
test_get_skip_identical_daemon (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "--skip-identical", "same.txt", "other.txt", NULL };
  ino_t same;

  tu_write_file_str (f->d->root, "same.txt", "same\n");
  tu_write_file_str (f->d->root, "other.txt", "new\n");
  tu_write_file_str (f->out, "same.txt", "same\n");
  tu_write_file_str (f->out, "other.txt", "old\n");
  same = inode_of (f->out, "same.txt");

  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, NULL), ==, 0);
  g_assert_cmpuint (inode_of (f->out, "same.txt"), ==, same);
  assert_file_str (f->out, "other.txt", "new\n");
}

/* A protocol 1.0 server answers STAT with ERR 400: get falls back to GET,
 * says that the transfer is unverified, and asks no more STATs. */
static void
test_get_protocol_1_0 (void)
{
  g_autoptr(FakeServer) server = fake_server_new (FAKE_DRAIN, "ERR 400 unknown command\n",
                                                  "OK 6\nhello\n", "OK 4\nbye\n", NULL);
  g_autofree char *out = make_out_dir ();
  const char *args[] = { "f.txt", "g.txt", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (get_from (server, out, args, &err), ==, 0);
  assert_requests (server, "STAT f.txt", "GET f.txt", "GET g.txt", NULL);
  assert_stderr_mentions (err, "unverified");
  assert_stderr_mentions (err, "f.txt");
  assert_stderr_mentions (err, "g.txt");
  assert_file_str (out, "f.txt", "hello\n");
  assert_file_str (out, "g.txt", "bye\n");
  tu_rm_rf (out);
}

/* ---- stats, over a private bus ---- */

typedef struct {
  GTestDBus *bus;  /* (owned) */
  TuDaemon *d;     /* (owned) */
} BusFixture;

static void
bus_fixture_setup (BusFixture *f, gconstpointer data)
{
  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  f->d = tu_daemon_start_dbus (NULL, NULL);
}

static void
bus_fixture_teardown (BusFixture *f, gconstpointer data)
{
  tu_daemon_stop (f->d);
  g_test_dbus_down (f->bus);
  g_object_unref (f->bus);
}

/* (transfer full): what `filecache stats @option` prints, once the daemon
 * owns its name (it may not yet, right after it printed its port). */
static char *
stats_output (const char *option)
{
  const char *args[] = { "stats", option, NULL };
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      if (run_filecache (args, &out, &err) == 0)
        return g_steal_pointer (&out);
      if (g_get_monotonic_time () > deadline)
        g_error ("filecache stats %s keeps failing: %s", option, err);
      g_usleep (100 * 1000);
    }
}

/* The Stats keys of DBUS.md 1.0 and those of 1.1 that the daemon has now
 * (not yet misses-cold, misses-evicted, misses-changed). */
static const char *const stats_keys[] = {
  "hits", "misses", "loads", "evictions", "invalidations", "entries", "size", "capacity",
  "requests", "errors", "refused", "bytes-sent", "clients", "clients-total", "uptime",
  "max-entry-size", "pinned",
};

/* One GET that misses, one that hits. */
static void
get_twice (TuDaemon *d)
{
  int fd = tu_connect (d->port);

  tu_write_file_str (d->root, "a", "abc\n");
  tu_assert_get (fd, "a", "abc\n", 4);
  tu_assert_get (fd, "a", "abc\n", 4);
  close (fd);
}

static void
test_stats_json (BusFixture *f, gconstpointer data)
{
  g_autofree char *json = NULL;
  g_autoptr(GHashTable) members = NULL;

  get_twice (f->d);
  json = stats_output ("--json");
  g_test_message ("%s", json);
  members = json_parse_object (json);
  g_assert_nonnull (members);
  for (gsize i = 0; i < G_N_ELEMENTS (stats_keys); i++)
    {
      const char *value = g_hash_table_lookup (members, stats_keys[i]);

      if (value == NULL)
        g_error ("no “%s” in the JSON", stats_keys[i]);
      g_assert_true (g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, NULL, NULL));
    }
  g_assert_cmpstr (g_hash_table_lookup (members, "hits"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (members, "misses"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (members, "entries"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (members, "size"), ==, "4");
}

/* Each line a # HELP, a # TYPE (counter or gauge) or a sample of the
 * family just typed; counters end in _total, gauges do not. */
static void
test_stats_prometheus (BusFixture *f, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GRegex) help = g_regex_new ("^# HELP (filecached_[a-z_]+) [^\\n]+$", 0, 0, NULL);
  g_autoptr(GRegex) type = g_regex_new ("^# TYPE (filecached_[a-z_]+) (counter|gauge)$", 0, 0, NULL);
  g_autoptr(GRegex) sample = g_regex_new ("^(filecached_[a-z_]+) ([0-9]+)$", 0, 0, NULL);
  guint samples = 0;

  get_twice (f->d);
  text = stats_output ("--prometheus");
  g_test_message ("%s", text);
  g_assert_true (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i + 1] != NULL; i += 3)
    {
      g_autoptr(GMatchInfo) help_match = NULL;
      g_autoptr(GMatchInfo) type_match = NULL;
      g_autoptr(GMatchInfo) sample_match = NULL;
      g_autofree char *name = NULL;
      g_autofree char *type_name = NULL;
      g_autofree char *kind = NULL;
      g_autofree char *sample_name = NULL;

      g_assert_true (g_regex_match (help, lines[i], 0, &help_match));
      g_assert_nonnull (lines[i + 1]);
      g_assert_true (g_regex_match (type, lines[i + 1], 0, &type_match));
      g_assert_nonnull (lines[i + 2]);
      g_assert_true (g_regex_match (sample, lines[i + 2], 0, &sample_match));
      name = g_match_info_fetch (help_match, 1);
      type_name = g_match_info_fetch (type_match, 1);
      kind = g_match_info_fetch (type_match, 2);
      sample_name = g_match_info_fetch (sample_match, 1);
      g_assert_cmpstr (type_name, ==, name);
      g_assert_cmpstr (sample_name, ==, name);
      g_assert_cmpint (g_str_has_suffix (name, "_total"), ==, g_str_equal (kind, "counter"));
      samples++;
    }
  /* One for each key the daemon sent, those above at least. */
  g_assert_cmpuint (samples, >=, G_N_ELEMENTS (stats_keys));
  g_assert_nonnull (strstr (text, "\nfilecached_hits_total 1\n"));
  g_assert_nonnull (strstr (text, "\nfilecached_misses_total 1\n"));
  g_assert_nonnull (strstr (text, "\nfilecached_entries 1\n"));
  g_assert_nonnull (strstr (text, "\n# TYPE filecached_max_entry_size_bytes gauge\n"));
}

/* The metrics port serves what `filecache stats --prometheus` prints:
 * one dictionary behind both (uptime aside, which may tick between). */
static void
test_stats_prometheus_metrics_port (void)
{
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  guint16 metrics_port;
  g_autofree char *port = NULL;
  g_autofree char *printed = NULL;
  g_autofree guint8 *scraped = g_malloc0 (65537);
  g_autoptr(GRegex) uptime = g_regex_new ("\nfilecached_uptime_seconds [0-9]+\n", 0, 0, NULL);
  g_autofree char *printed_cut = NULL;
  g_autofree char *scraped_cut = NULL;
  const char *body;
  TuDaemon *d;
  int fd;

  close (tu_listen_loopback (&metrics_port));
  port = g_strdup_printf ("%u", metrics_port);
  g_test_dbus_up (bus);
  {
    const char *args[] = { "--metrics-port", port, NULL };

    d = tu_daemon_start_dbus (NULL, args);
  }
  get_twice (d);
  printed = stats_output ("--prometheus");
  fd = tu_connect (metrics_port);
  tu_send_str (fd, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  tu_recv_until_closed (fd, scraped, 65536);
  close (fd);
  body = g_strstr_len ((char *) scraped, -1, "\r\n\r\n");
  g_assert_nonnull (body);
  printed_cut = g_regex_replace_literal (uptime, printed, -1, 0, "\n", 0, NULL);
  scraped_cut = g_regex_replace_literal (uptime, body + 4, -1, 0, "\n", 0, NULL);
  g_assert_cmpstr (scraped_cut, ==, printed_cut);
  tu_daemon_stop (d);
  g_test_dbus_down (bus);
}

/* ---- the client owns what it writes ---- */

/* A `filecache get -o @out @args` running in the background, its stderr
 * kept in a file; with @stop_at > 0 it stops itself (SIGSTOP) once that
 * many bytes of the file are written (tests/stop-preload.c). */
typedef struct {
  GSubprocess *proc;  /* (owned) */
  char *err_path;     /* (owned) */
} Background;

static void
background_start (Background *bg, guint16 port, const char *out, guint64 stop_at,
                  const char *const *args)
{
  g_autoptr(GPtrArray) argv = client_argv (NULL, "get", port, out, args);
  g_autoptr(GSubprocessLauncher) launcher = tu_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *stop_text = g_strdup_printf ("%" G_GUINT64_FORMAT, stop_at);
  int fd;

  bg->err_path = g_build_filename (g_get_tmp_dir (), "filecache-test-err-XXXXXX", NULL);
  fd = g_mkstemp (bg->err_path);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_subprocess_launcher_set_stderr_file_path (launcher, bg->err_path);
  if (stop_at > 0)
    {
      /* ASan wants to be the first library loaded; the preload comes first. */
      g_autofree char *asan_options = tu_asan_options_with ("verify_asan_link_order=0");

      g_subprocess_launcher_setenv (launcher, "FILECACHE_TEST_STOP_AT", stop_text, TRUE);
      g_subprocess_launcher_setenv (launcher, "LD_PRELOAD", g_getenv ("STOP_PRELOAD"), TRUE);
      g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", asan_options, TRUE);
    }
  tu_wait_written ();
  bg->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
}

/* The process's state letter, from its own /proc entry. */
static char
process_state (GSubprocess *proc)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (proc));

  return tu_proc_state (path);
}

static void
background_await_stopped (Background *bg)
{
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  while (process_state (bg->proc) != 'T')
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the client never stopped itself at FILECACHE_TEST_STOP_AT (STOP_PRELOAD)");
      g_usleep (10000);
    }
}

/* Continues @bg if stopped, waits for its end; returns its exit status
 * and, through @err, its stderr. Frees what @bg holds. */
static int
background_finish (Background *bg, char **err)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_subprocess_send_signal (bg->proc, SIGCONT);
  g_assert_true (g_subprocess_wait (bg->proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (bg->proc));
  status = g_subprocess_get_exit_status (bg->proc);
  g_assert_true (g_file_get_contents (bg->err_path, err, NULL, NULL));
  g_test_message ("background client: status %d, stderr: %s", status, *err);
  g_unlink (bg->err_path);
  g_clear_pointer (&bg->err_path, g_free);
  g_clear_object (&bg->proc);
  return status;
}

/* The deterministic case: A is stopped with 16 MiB in the part,
 * B fetches the same name and finishes, C starts and is stopped at
 * 1 MiB, A goes on, then C. Each exits 0 only if the name then holds
 * the server's bytes; no part or temporary file is left. */
static void
test_get_concurrent_resume (TuFixture *f, gconstpointer data)
{
  gsize size = 20 * 1024 * 1024;
  g_autofree guint8 *content = tu_put_seeded (f->d, "big", 21, size);
  const char *args[] = { "-c", "big", NULL };
  g_autofree char *path = out_path (f->out, "big");
  g_autofree char *err_a = NULL;
  g_autofree char *err_b = NULL;
  g_autofree char *err_c = NULL;
  g_autofree char *listing = NULL;
  Background a = { 0 };
  Background c = { 0 };

  background_start (&a, f->d->port, f->out, 16 * 1024 * 1024, args);
  background_await_stopped (&a);

  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err_b), ==, 0);
  tu_assert_file_contents (path, content, size);
  /* B says it did not use the part that A holds. */
  assert_stderr_mentions (err_b, "private file");

  background_start (&c, f->d->port, f->out, 1024 * 1024, args);
  background_await_stopped (&c);

  g_assert_cmpint (background_finish (&a, &err_a), ==, 0);
  tu_assert_file_contents (path, content, size);
  g_assert_cmpint (background_finish (&c, &err_c), ==, 0);
  tu_assert_file_contents (path, content, size);
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "big");
}

/* A server that sends the first half of a body, waits for the test to
 * let it go on, then sends the rest: the client is midway for as long
 * as the test needs. */
typedef struct {
  int listen_fd;
  char *content;       /* (owned) */
  GMutex lock;
  GCond cond;
  gboolean half_sent;  /* (lock) */
  gboolean go;         /* (lock) */
} PausingServer;

static gpointer
pausing_server_run (gpointer data)
{
  PausingServer *server = data;
  gsize len = strlen (server->content);
  gsize half = len / 2;
  g_autofree char *stat = stat_reply (server->content);
  g_autofree char *head = g_strdup_printf ("OK %zu\n", len);
  g_autofree char *line = NULL;
  g_autofree char *line2 = NULL;
  int fd = accept (server->listen_fd, NULL, NULL);

  g_assert_cmpint (fd, >=, 0);
  line = tu_read_line (fd);
  g_assert_true (g_str_has_prefix (line, "STAT "));
  tu_send_str (fd, stat);
  line2 = tu_read_line (fd);
  g_assert_true (g_str_has_prefix (line2, "GETFROM 0 "));
  tu_send_str (fd, head);
  tu_send (fd, server->content, half);

  g_mutex_lock (&server->lock);
  server->half_sent = TRUE;
  g_cond_broadcast (&server->cond);
  while (!server->go)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);

  tu_send (fd, server->content + half, len - half);
  g_assert_true (tu_wait_closed (fd, TU_IO_TIMEOUT_S * 1000, NULL));
  close (fd);
  return NULL;
}

static guint16
pausing_server_start (PausingServer *server, GThread **thread)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  server->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (bind (server->listen_fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (server->listen_fd, 4), ==, 0);
  g_assert_cmpint (getsockname (server->listen_fd, (struct sockaddr *) &addr, &len), ==, 0);
  *thread = g_thread_new ("pausing-server", pausing_server_run, server);
  return ntohs (addr.sin_port);
}

static void
wait_for_size (const char *path, goffset size)
{
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  struct stat st;

  while (lstat (path, &st) != 0 || st.st_size < size)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s never reached %" G_GOFFSET_FORMAT " bytes", path, size);
      g_usleep (10000);
    }
}

typedef enum {
  TAMPER_OVERWRITE,  /* another writer writes into the part */
  TAMPER_REPLACE,    /* another writer renames its own file over the part */
} Tamper;

/* Another writer changes the part midway: the stream received has the
 * server's SHA-256, the file on disk has not, and the name is not
 * replaced; the run fails and says why. */
static void
test_get_part_tampered (gconstpointer data)
{
  Tamper tamper = GPOINTER_TO_INT (data);
  PausingServer server = { .content = make_text (7, 400000) };
  g_autofree char *out = make_out_dir ();
  g_autofree char *part = out_path (out, ".f.part");
  g_autofree char *target = out_path (out, "f");
  g_autofree char *err = NULL;
  const char *args[] = { "-c", "f", NULL };
  Background bg = { 0 };
  GThread *thread;

  g_mutex_init (&server.lock);
  g_cond_init (&server.cond);
  background_start (&bg, pausing_server_start (&server, &thread), out, 0, args);

  g_mutex_lock (&server.lock);
  while (!server.half_sent)
    g_cond_wait (&server.cond, &server.lock);
  g_mutex_unlock (&server.lock);
  wait_for_size (part, 200000);

  if (tamper == TAMPER_OVERWRITE)
    {
      int fd = open (part, O_WRONLY | O_CLOEXEC);

      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (pwrite (fd, "XXXX", 4, 100), ==, 4);
      close (fd);
    }
  else
    {
      g_autofree char *other = out_path (out, "other");

      tu_write_file_str (out, "other", server.content);
      g_assert_cmpint (rename (other, part), ==, 0);
    }

  g_mutex_lock (&server.lock);
  server.go = TRUE;
  g_cond_broadcast (&server.cond);
  g_mutex_unlock (&server.lock);

  g_assert_cmpint (background_finish (&bg, &err), ==, 1);
  assert_stderr_mentions (err, "another writer");
  assert_stderr_mentions (err, "not saved");
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));

  g_thread_join (thread);
  close (server.listen_fd);
  g_free (server.content);
  g_mutex_clear (&server.lock);
  g_cond_clear (&server.cond);
  tu_rm_rf (out);
}

/* A part, or its digest, that is not a regular file is never opened
 * blocking: a FIFO or a symbolic link as the part is refused at once,
 * by name; as the digest, it is no digest. */
static void
test_get_part_not_regular (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "-c", "f", NULL };
  g_autofree char *part = out_path (f->out, ".f.part");
  g_autofree char *digest = out_path (f->out, ".f.part.sha256");
  g_autofree char *elsewhere = out_path (f->out, "elsewhere");
  g_autofree char *err = NULL;
  gint64 start;

  tu_write_file_str (f->d->root, "f", "the server's f\n");

  g_assert_cmpint (mkfifo (part, 0644), ==, 0);
  start = g_get_monotonic_time ();
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  assert_stderr_mentions (err, ".f.part");
  assert_stderr_mentions (err, "FIFO");
  g_assert_cmpint (unlink (part), ==, 0);
  g_clear_pointer (&err, g_free);

  tu_write_file_str (f->out, "elsewhere", "not to be written\n");
  g_assert_cmpint (symlink ("elsewhere", part), ==, 0);
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, &err), ==, 1);
  assert_stderr_mentions (err, ".f.part");
  assert_stderr_mentions (err, "symbolic link");
  assert_file_str (f->out, "elsewhere", "not to be written\n");
  g_assert_cmpint (unlink (part), ==, 0);
  g_assert_cmpint (unlink (elsewhere), ==, 0);

  g_assert_cmpint (mkfifo (digest, 0644), ==, 0);
  g_assert_cmpint (run_client ("get", f->d->port, f->out, args, NULL, NULL), ==, 0);
  assert_only_file (f->out, "f", "the server's f\n");
}

/* A part that is a regular file but also another file's name (a hard
 * link, here to a file outside the output folder) is not the client's to
 * write: resuming into it appends the server's bytes to that other file.
 * Whatever the client does with the name, the other file is left as it
 * was (issue 15: "the client owns what it writes"). */
static void
test_get_part_hard_link (TuFixture *f, gconstpointer data)
{
  const char *content = "the server's f, longer than the precious file beside it\n";
  const char *args[] = { "-c", "f", NULL };
  g_autofree char *digest = sha256 (content);
  g_autofree char *digest_line = g_strdup_printf ("%s\n", digest);
  g_autofree char *part = out_path (f->out, ".f.part");
  g_autofree char *other = make_out_dir ();
  g_autofree char *precious = out_path (other, "precious");
  g_autofree char *err = NULL;
  int status;

  tu_write_file_str (f->d->root, "f", content);
  tu_write_file_str (other, "precious", "precious\n");
  g_assert_cmpint (link (precious, part), ==, 0);
  tu_write_file_str (f->out, ".f.part.sha256", digest_line);
  status = run_client ("get", f->d->port, f->out, args, NULL, &err);
  g_test_message ("status %d, stderr: %s", status, err);
  assert_file_str (other, "precious", "precious\n");
  if (status == 0)
    assert_file_str (f->out, "f", content);
  tu_rm_rf (other);
}

/* The same without a digest file: the client starts the part over, which
 * truncated and rewrote the other file (it then held the server's bytes
 * and was NAME's inode too). */
static void
test_get_part_hard_link_no_digest (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "-c", "f", NULL };
  g_autofree char *part = out_path (f->out, ".f.part");
  g_autofree char *other = make_out_dir ();
  g_autofree char *precious = out_path (other, "precious");
  g_autofree char *err = NULL;
  int status;

  tu_write_file_str (f->d->root, "f", "the server's f\n");
  tu_write_file_str (other, "precious", "precious\n");
  g_assert_cmpint (link (precious, part), ==, 0);
  status = run_client ("get", f->d->port, f->out, args, NULL, &err);
  g_test_message ("status %d, stderr: %s", status, err);
  assert_file_str (other, "precious", "precious\n");
  if (status == 0)
    assert_file_str (f->out, "f", "the server's f\n");
  tu_rm_rf (other);
}

/* NAME is replaced only by the inode this process wrote (README: "exit 0
 * means: each NAME was replaced by a file this process wrote"). The
 * client checks the hidden name's inode, then renames by path: another
 * writer that renames its own file over the hidden name between the two
 * gets its file saved as NAME, with exit 0. strace widens that window
 * (every rename is delayed 3 s); skipped without strace. */
static void
test_get_hidden_name_swapped_before_rename (TuFixture *f, gconstpointer data)
{
  const char *content = "the server's f\n";
  g_autofree char *strace = g_find_program_in_path ("strace");
  g_autofree char *evil = out_path (f->out, "evil");
  g_autofree char *target = out_path (f->out, "f");
  g_autofree char *hidden = NULL;
  g_autofree char *got = NULL;
  g_autofree char *port = g_strdup_printf ("%u", f->d->port);
  const char *argv[] = { NULL, "-f", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
                         "-e", "inject=rename,renameat,renameat2:delay_enter=3000000",
                         g_getenv ("FILECACHE"), "get", "-H", "127.0.0.1", "-p", port,
                         "-o", f->out, "f", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  if (strace == NULL)
    {
      g_test_skip ("no strace to widen the window");
      return;
    }
  argv[0] = strace;
  tu_write_file_str (f->d->root, "f", content);
  tu_write_file_str (f->out, "evil", "another writer's bytes\n");
  tu_wait_written ();
  {
    g_autoptr(GSubprocessLauncher) launcher = tu_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_autofree char *asan = tu_asan_options_with ("detect_leaks=0");

    /* LeakSanitizer cannot run under ptrace: in a sanitizer build the
     * client under strace would die at its exit for that alone. */
    g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", asan, TRUE);
    proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  }
  g_assert_no_error (error);
  /* The private file, whole: the client has verified it and waits in
   * its rename. */
  while (hidden == NULL)
    {
      g_autoptr(GDir) dir = g_dir_open (f->out, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        if (g_str_has_prefix (name, ".f."))
          {
            g_autofree char *path = out_path (f->out, name);
            GStatBuf st;

            if (g_stat (path, &st) == 0 && (gsize) st.st_size == strlen (content))
              hidden = g_steal_pointer (&path);
          }
      if (g_get_monotonic_time () > deadline)
        g_error ("the client never wrote its private file");
      g_usleep (10000);
    }
  g_usleep (1500000);
  g_assert_cmpint (g_rename (evil, hidden), ==, 0);
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (target, &got, NULL, NULL) ||
                 g_subprocess_get_exit_status (proc) != 0);
  if (g_subprocess_get_exit_status (proc) == 0)
    g_assert_cmpstr (got, ==, content);
}

/* A digest file that is a folder counts as no digest, as a FIFO does
 * (README: "a digest file that is not regular counts as none"): the name
 * is fetched, not failed with GLib's "g_rename() failed: Is a directory". */
static void
test_get_digest_folder (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "-c", "f", NULL };
  g_autofree char *digest = out_path (f->out, ".f.part.sha256");
  g_autofree char *err = NULL;
  int status;

  tu_write_file_str (f->d->root, "f", "the server's f\n");
  g_assert_cmpint (g_mkdir (digest, 0755), ==, 0);
  status = run_client ("get", f->d->port, f->out, args, NULL, &err);
  g_test_message ("status %d, stderr: %s", status, err);
  g_assert_null (strstr (err, "g_rename"));
  g_assert_cmpint (status, ==, 0);
  assert_file_str (f->out, "f", "the server's f\n");
}

/* The issue's own test: ENOSPC (a small tmpfs, not `ulimit -f`) in the
 * middle of three names fails that name with its reason; the others are
 * fetched. Needs root (mount); skipped otherwise. */
static void
test_get_enospc_goes_on (TuFixture *f, gconstpointer data)
{
  const char *names[] = { "small1", "big", "small2", NULL };
  gsize size = 2 * 1024 * 1024;
  g_autofree guint8 *big = tu_make_content (7, size);
  g_autofree char *mnt = make_out_dir ();
  const char *mount_argv[] = { "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt, NULL };
  const char *umount_argv[] = { "umount", mnt, NULL };
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  if (geteuid () != 0 || tu_run (mount_argv, 30, NULL, NULL) != 0)
    {
      g_test_skip ("cannot mount a tmpfs here");
      g_rmdir (mnt);
      return;
    }
  tu_write_file (f->d->root, "big", big, size);
  tu_write_file_str (f->d->root, "small1", "first small\n");
  tu_write_file_str (f->d->root, "small2", "second small\n");
  g_assert_cmpint (run_client ("get", f->d->port, mnt, names, NULL, &err), ==, 1);
  g_test_message ("stderr: %s", err);
  assert_stderr_mentions (err, "big");
  assert_stderr_mentions (err, "No space left on device");
  g_assert_null (strstr (err, "small"));
  listing = dir_listing (mnt);
  assert_file_str (mnt, "small1", "first small\n");
  assert_file_str (mnt, "small2", "second small\n");
  g_assert_cmpstr (listing, ==, "small1|small2");
  g_assert_cmpint (tu_run (umount_argv, 30, NULL, NULL), ==, 0);
  g_rmdir (mnt);
}

/* The same with -c (issue 15's newcomer run): the big name's part fills
 * the disk; it is kept, as -c asked, and the message names it and says
 * so. The names after it fail with a short message of the client's own
 * (not GLib's, naming a temporary file) and leave no empty part. */
static void
test_get_enospc_resumable (TuFixture *f, gconstpointer data)
{
  const char *names[] = { "-c", "mid.bin", "small.txt", "docs/readme.txt", NULL };
  gsize size = 3 * 1024 * 1024;
  g_autofree guint8 *mid = tu_make_content (9, size);
  g_autofree char *mnt = make_out_dir ();
  const char *mount_argv[] = { "mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt, NULL };
  const char *umount_argv[] = { "umount", mnt, NULL };
  g_autofree char *docs = out_path (mnt, "docs");
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *docs_listing = NULL;
  g_auto(GStrv) lines = NULL;

  if (geteuid () != 0 || tu_run (mount_argv, 30, NULL, NULL) != 0)
    {
      g_test_skip ("cannot mount a tmpfs here");
      g_rmdir (mnt);
      return;
    }
  tu_write_file (f->d->root, "mid.bin", mid, size);
  tu_write_file_str (f->d->root, "small.txt", "small\n");
  tu_write_file_str (f->d->root, "docs/readme.txt", "hello world\n");
  g_assert_cmpint (run_client ("get", f->d->port, mnt, names, NULL, &err), ==, 1);
  g_test_message ("stderr: %s", err);
  assert_stderr_mentions (err, "mid.bin: cannot write");
  assert_stderr_mentions (err, ".mid.bin.part: No space left on device");
  assert_stderr_mentions (err, "the part is kept (");
  assert_stderr_mentions (err, ") for a later -c");
  assert_stderr_mentions (err, "small.txt:");
  assert_stderr_mentions (err, "docs/readme.txt:");
  g_assert_null (strstr (err, "/mid.bin:"));
  g_assert_null (strstr (err, "not fetched"));
  g_assert_null (strstr (err, "g_"));
  g_assert_null (strstr (err, "Failed to"));
  g_assert_null (strstr (err, "XXXXXX"));
  /* One line a name. */
  lines = g_strsplit (err, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  listing = dir_listing (mnt);
  g_assert_cmpstr (listing, ==, ".mid.bin.part|.mid.bin.part.sha256|docs");
  docs_listing = dir_listing (docs);
  g_assert_cmpstr (docs_listing, ==, "");
  g_assert_cmpint (tu_run (umount_argv, 30, NULL, NULL), ==, 0);
  g_rmdir (mnt);
}

/* A plain get killed with SIGKILL (no handler runs) leaves nothing in
 * the folder: the file being filled has no name until it is verified. */
static void
test_get_sigkill_leaves_nothing (TuFixture *f, gconstpointer data)
{
  gsize size = 4 * 1024 * 1024;
  const char *args[] = { "big", NULL };
  g_autofree char *listing = NULL;
  Background bg = { 0 };

  g_free (tu_put_seeded (f->d, "big", 41, size));
  background_start (&bg, f->d->port, f->out, 1024 * 1024, args);
  background_await_stopped (&bg);
  g_subprocess_force_exit (bg.proc);
  g_assert_true (g_subprocess_wait (bg.proc, NULL, NULL));
  g_assert_true (g_subprocess_get_if_signaled (bg.proc));
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "");
  g_unlink (bg.err_path);
  g_free (bg.err_path);
  g_object_unref (bg.proc);
}

/* A local write error in the middle of a body (here EFBIG, from
 * `ulimit -f`) fails that name with its reason; the names after it are
 * fetched over a new connection, not given up as "connection lost". */
static void
test_get_local_failure_goes_on (TuFixture *f, gconstpointer data)
{
  const char *args[] = { "small1", "big", "small2", NULL };
  gsize size = 1024 * 1024;
  g_autofree guint8 *big = tu_make_content (5, size);
  g_autofree char *err = NULL;
  g_autofree char *listing = NULL;

  tu_write_file (f->d->root, "big", big, size);
  tu_write_file_str (f->d->root, "small1", "first small\n");
  tu_write_file_str (f->d->root, "small2", "second small\n");
  g_assert_cmpint (run_client_in_shell ("ulimit -f 64", "get", f->d->port, f->out, args,
                                        NULL, &err), ==, 1);
  assert_stderr_mentions (err, "big");
  assert_stderr_mentions (err, "File too large");
  g_assert_null (strstr (err, "not fetched"));
  g_assert_null (strstr (err, "small"));
  assert_file_str (f->out, "small1", "first small\n");
  assert_file_str (f->out, "small2", "second small\n");
  listing = dir_listing (f->out);
  g_assert_cmpstr (listing, ==, "small1|small2");
}

/* ---- without a UTF-8 locale ---- */

/* Plain ASCII, and no "?" either: GLib writes one for each character
 * that the C locale's charset cannot show ("16.0?MiB"). */
static void
assert_ascii (const char *what, const char *text)
{
  for (const char *c = text; *c != '\0'; c++)
    if ((guchar) *c >= 0x80 || *c == '?')
      g_error ("%s is not ASCII at byte %" G_GSIZE_FORMAT ": \"%s\"", what,
               (gsize) (c - text), text);
}

/* The progress bar on a terminal (a pty, from script(1)) under LC_ALL=C:
 * its sizes and rate are plain ASCII, not "16.0?MiB". */
static void
test_progress_c_locale (TuFixture *f, gconstpointer data)
{
  gsize size = 3 * 1024 * 1024;
  g_autofree guint8 *content = tu_put_seeded (f->d, "big", 31, size);
  g_autofree char *quoted_client = g_shell_quote (g_getenv ("FILECACHE"));
  g_autofree char *quoted_out = g_shell_quote (f->out);
  g_autofree char *command = NULL;
  g_autofree char *path = out_path (f->out, "big");
  g_autofree char *shown = NULL;
  const char *argv[] = { "script", "-qec", NULL, "/dev/null", NULL };
  g_autofree char *script = g_find_program_in_path ("script");

  if (script == NULL)
    {
      g_test_skip ("no script(1) to give the client a terminal");
      return;
    }
  command = g_strdup_printf ("env -u LANG -u LANGUAGE -u LC_MESSAGES LC_ALL=C %s get "
                             "-H 127.0.0.1 -p %u -o %s big",
                             quoted_client, f->d->port, quoted_out);
  argv[2] = command;
  g_assert_cmpint (tu_run (argv, 30, &shown, NULL), ==, 0);
  tu_assert_file_contents (path, content, size);
  assert_stderr_mentions (shown, " MiB");
  assert_ascii ("the progress bar", shown);
}

/* `stats --advise` under LC_ALL=C: its sizes are plain ASCII. */
static void
test_stats_advise_c_locale (BusFixture *f, gconstpointer data)
{
  g_autofree char *ready = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { "env", "-u", "LANG", "-u", "LANGUAGE", "-u", "LC_MESSAGES",
                         "LC_ALL=C", g_getenv ("FILECACHE"), "stats", "--advise", NULL };

  get_twice (f->d);
  /* Once the daemon owns its name. */
  ready = stats_output ("--json");
  g_assert_cmpint (tu_run (argv, 30, &out, NULL), ==, 0);
  g_test_message ("%s", out);
  assert_stderr_mentions (out, " MiB");
  assert_ascii ("stats --advise", out);
}

/* Plain `stats` under LC_ALL=C: its sizes ("capacity: ... (64.0 MiB)")
 * are plain ASCII too, not "64.0" U+00A0 "MiB". */
static void
test_stats_c_locale (BusFixture *f, gconstpointer data)
{
  g_autofree char *ready = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { "env", "-u", "LANG", "-u", "LANGUAGE", "-u", "LC_MESSAGES",
                         "LC_ALL=C", g_getenv ("FILECACHE"), "stats", NULL };

  get_twice (f->d);
  ready = stats_output ("--json");
  g_assert_cmpint (tu_run (argv, 30, &out, NULL), ==, 0);
  g_test_message ("%s", out);
  assert_stderr_mentions (out, "MiB");
  assert_ascii ("stats", out);
}

int
main (int argc, char **argv)
{
  tu_init (&argc, &argv);
  tu_start_bus_watcher ();

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

  tu_add ("/client/get/output-dir/keeps-relative-paths", NULL, test_get_relative_paths);
  tu_add ("/client/get/output-dir/refuses-collisions", NULL, test_get_collisions);
  tu_add ("/client/port/decimal-only", NULL, test_port_decimal);
  g_test_add_func ("/client/port/named-when-refused", test_closed_port_named);
  g_test_add_func ("/client/usage/exit-status-2", test_usage_exit_status);
  g_test_add_func ("/client/get/unanswered-retried", test_get_unanswered_retried);
  g_test_add_func ("/client/get/unanswered-twice-fails", test_get_unanswered_twice_fails);
  g_test_add_func ("/client/get/verify/mismatch-retried", test_get_mismatch_retried);
  g_test_add_data_func ("/client/get/verify/mismatch-twice-fails", &mismatch_other_bytes,
                        test_get_mismatch_twice);
  g_test_add_data_func ("/client/get/verify/length-mismatch-named", &mismatch_other_length,
                        test_get_mismatch_twice);
  g_test_add_func ("/client/get/verify/changed-retried", test_get_changed_retried);
  g_test_add_func ("/client/get/verify/protocol-1-0-unverified", test_get_protocol_1_0);
  g_test_add_func ("/client/get/continue/resumes-at-offset", test_get_resume_offset);
  tu_add ("/client/get/continue/cut-then-daemon", NULL, test_get_resume_from_daemon);
  tu_add ("/client/get/continue/changed-between-runs", NULL, test_get_resume_changed);
  g_test_add_func ("/client/get/continue/412-starts-over", test_get_resume_412);
  g_test_add_func ("/client/get/skip-identical/one-stat-no-body",
                   test_get_skip_identical_requests);
  tu_add ("/client/get/skip-identical/daemon", NULL, test_get_skip_identical_daemon);
  tu_add ("/client/get/owns/concurrent-resume", NULL, test_get_concurrent_resume);
  g_test_add_data_func ("/client/get/owns/part-overwritten", GINT_TO_POINTER (TAMPER_OVERWRITE),
                        test_get_part_tampered);
  g_test_add_data_func ("/client/get/owns/part-replaced", GINT_TO_POINTER (TAMPER_REPLACE),
                        test_get_part_tampered);
  tu_add ("/client/get/owns/part-not-regular", NULL, test_get_part_not_regular);
  tu_add ("/client/get/local-failure-goes-on", NULL, test_get_local_failure_goes_on);
  tu_add ("/client/get/owns/part-hard-link", NULL, test_get_part_hard_link);
  tu_add ("/client/get/owns/hidden-name-swapped-before-rename", NULL,
          test_get_hidden_name_swapped_before_rename);
  tu_add ("/client/get/owns/part-hard-link-no-digest", NULL, test_get_part_hard_link_no_digest);
  tu_add ("/client/get/owns/digest-folder", NULL, test_get_digest_folder);
  tu_add ("/client/get/local-failure-goes-on/enospc-tmpfs", NULL, test_get_enospc_goes_on);
  tu_add ("/client/get/local-failure-goes-on/enospc-tmpfs-continue", NULL,
          test_get_enospc_resumable);
  tu_add ("/client/get/owns/sigkill-leaves-nothing", NULL, test_get_sigkill_leaves_nothing);
  g_test_add ("/client/stats/c-locale-ascii", BusFixture, NULL, bus_fixture_setup,
              test_stats_c_locale, bus_fixture_teardown);
  tu_add ("/client/get/progress/c-locale-ascii", NULL, test_progress_c_locale);
  g_test_add ("/client/stats/advise/c-locale-ascii", BusFixture, NULL, bus_fixture_setup,
              test_stats_advise_c_locale, bus_fixture_teardown);
  g_test_add ("/client/stats/json", BusFixture, NULL, bus_fixture_setup, test_stats_json,
              bus_fixture_teardown);
  g_test_add ("/client/stats/prometheus", BusFixture, NULL, bus_fixture_setup,
              test_stats_prometheus, bus_fixture_teardown);
  g_test_add_func ("/client/stats/prometheus-same-as-metrics-port",
                   test_stats_prometheus_metrics_port);

  return g_test_run ();
}
