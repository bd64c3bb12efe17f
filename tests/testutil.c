#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#define TU_MAX_LINE 65536

void
tu_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  /* A daemon that closes on us must fail a send, not kill the test. */
  signal (SIGPIPE, SIG_IGN);
}

/**
 * tu_start_bus_watcher:
 *
 * For a suite that uses GTestDBus: call first, before any thread exists.
 * GTestDBus forks a watcher from the test process the first time it
 * starts a bus, and that child ends with exit(): under LeakSanitizer it
 * then reports as leaked what the parent's other threads held, threads
 * the child does not have. Forked now, it has none to miss.
 */
void
tu_start_bus_watcher (void)
{
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);

  g_test_dbus_up (bus);
  g_test_dbus_down (bus);
}

static const char *
env_path (const char *var)
{
  const char *path = g_getenv (var);

  if (path == NULL || *path == '\0')
    g_error ("%s is not set: run the suite with `meson test`", var);
  return path;
}

/* Runs in the child after fork: if the test aborts on a failed assertion,
 * the daemon must not outlive it and keep the harness's stderr open. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* The limits on open files and on a file's size (bytes) of the next
 * daemons started; 0: the test's. */
static rlim_t daemon_nofile;
static rlim_t daemon_fsize;

void
tu_daemon_set_nofile (rlim_t nofile)
{
  daemon_nofile = nofile;
}

void
tu_daemon_set_fsize (rlim_t bytes)
{
  daemon_fsize = bytes;
}

/* In the child, before exec: async-signal-safe calls only. */
static void
daemon_child_setup (gpointer user_data)
{
  struct rlimit nofile = { daemon_nofile, daemon_nofile };
  struct rlimit fsize = { daemon_fsize, daemon_fsize };

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (daemon_nofile != 0)
    setrlimit (RLIMIT_NOFILE, &nofile);
  if (daemon_fsize != 0)
    setrlimit (RLIMIT_FSIZE, &fsize);
}

GSubprocessLauncher *
tu_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return launcher;
}

typedef struct {
  gboolean done;
  GBytes *out; /* (owned) (nullable) */
  GBytes *err; /* (owned) (nullable) */
} WaitState;

static void
communicate_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WaitState *state = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), result,
                                   &state->out, &state->err, &error);
  g_assert_no_error (error);
  state->done = TRUE;
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* g_subprocess_wait() has no deadline; a daemon that ignores a signal or
 * a bad option must fail the test, not hang it. */
static gboolean
wait_with_deadline (GSubprocess *proc, guint timeout_s,
                    GBytes **out, GBytes **err)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (timeout_s);
  WaitState state = { FALSE, NULL, NULL };
  gboolean timed_out = FALSE;

  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, set_flag, &timed_out, NULL);
  g_source_attach (timeout, context);
  g_subprocess_communicate_async (proc, NULL, NULL, communicate_done, &state);
  while (!state.done && !timed_out)
    g_main_context_iteration (context, TRUE);
  if (!state.done)
    {
      g_subprocess_force_exit (proc);
      while (!state.done)
        g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (out != NULL)
    *out = g_steal_pointer (&state.out);
  if (err != NULL)
    *err = g_steal_pointer (&state.err);
  g_clear_pointer (&state.out, g_bytes_unref);
  g_clear_pointer (&state.err, g_bytes_unref);
  return !timed_out;
}

static char *
bytes_to_string (GBytes *bytes)
{
  gsize len = 0;
  const char *data;

  /* An empty pipe's GBytes may hold a NULL pointer, which g_strndup()
   * would turn into NULL rather than "". */
  if (bytes == NULL || g_bytes_get_size (bytes) == 0)
    return g_strdup ("");
  data = g_bytes_get_data (bytes, &len);
  return g_strndup (data, len);
}

int
tu_run (const char *const *argv, guint timeout_s,
        char **out_stdout, char **out_stderr)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autofree char *cmdline = g_strjoinv (" ", (char **) argv);
  gboolean finished;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, daemon_child_setup, NULL, NULL);
  tu_wait_written ();
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  finished = wait_with_deadline (proc, timeout_s, &out, &err);
  if (!finished)
    g_error ("`%s` still running after %u s", cmdline, timeout_s);

  if (out_stdout != NULL)
    *out_stdout = bytes_to_string (out);
  if (out_stderr != NULL)
    *out_stderr = bytes_to_string (err);
  {
    g_autofree char *err_text = bytes_to_string (err);

    g_test_message ("`%s`: stderr: %s", cmdline, err_text);
  }
  if (!g_subprocess_get_if_exited (proc))
    return -1;
  return g_subprocess_get_exit_status (proc);
}

/* (transfer full) (nullable): one line from the pipe @stream, LF
 * stripped; NULL at EOF. Byte by byte, so that nothing past the line is
 * taken from the pipe. */
static char *
read_pipe_line (GInputStream *stream, guint timeout_s)
{
  int fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  g_autoptr(GString) line = g_string_new (NULL);

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int wait_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      char c;
      ssize_t n;

      if (wait_ms <= 0)
        g_error ("no line from the daemon within %u s (have \"%s\")",
                 timeout_s, line->str);
      if (poll (&pfd, 1, wait_ms) <= 0)
        continue;
      n = read (fd, &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      if (c == '\n')
        return g_string_free (g_steal_pointer (&line), FALSE);
      g_string_append_c (line, c);
      g_assert_cmpuint (line->len, <, TU_MAX_LINE);
    }
}

static guint16
read_port (GSubprocess *proc)
{
  g_autofree char *line = read_pipe_line (g_subprocess_get_stdout_pipe (proc),
                                          TU_IO_TIMEOUT_S);
  guint64 port = 0;
  g_autoptr(GError) error = NULL;

  if (line == NULL)
    g_error ("the daemon closed its stdout before printing its port");
  g_ascii_string_to_unsigned (line, 10, 1, G_MAXUINT16, &port, &error);
  g_assert_no_error (error);
  return (guint16) port;
}

/* @dbus leaves out `--no-dbus`; @keep_stderr keeps the daemon's stderr,
 * where its bus troubles and warnings show; @bus_address (nullable)
 * replaces the session bus address it would inherit. */
static TuDaemon *
daemon_spawn (const char *const *args, gboolean dbus, gboolean keep_stderr,
              const char *bus_address)
{
  TuDaemon *d = g_new0 (TuDaemon, 1);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE;

  /* The root sits one level down so that tests can put files beside it,
   * just outside, for links to point at. */
  d->base = g_dir_make_tmp ("filecached-test-XXXXXX", &error);
  g_assert_no_error (error);
  d->root = g_build_filename (d->base, "root", NULL);
  g_assert_cmpint (mkdir (d->root, 0755), ==, 0);

  g_ptr_array_add (argv, (gpointer) env_path ("FILECACHED"));
  /* Not the configuration file of a filecached installed on this
   * machine: each test says all it wants (a later --config wins). */
  g_ptr_array_add (argv, "--config=/dev/null");
  if (!dbus)
    g_ptr_array_add (argv, "--no-dbus");
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, "0");
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, d->root);
  g_ptr_array_add (argv, NULL);

  if (keep_stderr)
    flags |= G_SUBPROCESS_FLAGS_STDERR_PIPE;
  launcher = g_subprocess_launcher_new (flags);
  /* A kept stderr is read only once the daemon exits: per-request debug
   * output could fill the pipe and block the daemon mid-test. */
  if (keep_stderr)
    g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  if (bus_address != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", bus_address, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, daemon_child_setup, NULL, NULL);
  d->proc = g_subprocess_launcher_spawnv (launcher,
                                          (const char *const *) argv->pdata,
                                          &error);
  g_assert_no_error (error);
  d->port = read_port (d->proc);
  return d;
}

TuDaemon *
tu_daemon_start_argv (const char *const *args)
{
  return daemon_spawn (args, FALSE, FALSE, NULL);
}

/* The options every tu_daemon_start*() adds: IPv4 loopback only, the
 * address tu_connect() uses. */
static GPtrArray *
loopback_args (void)
{
  GPtrArray *args = g_ptr_array_new ();

  g_ptr_array_add (args, "--host");
  g_ptr_array_add (args, "127.0.0.1");
  return args;
}

/* loopback_args() and the NULL-terminated options from @first_arg on. */
static GPtrArray *
loopback_args_va (const char *first_arg,
                  va_list     ap)
{
  GPtrArray *args = loopback_args ();

  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  g_ptr_array_add (args, NULL);
  return args;
}

TuDaemon *
tu_daemon_start (const char *first_arg, ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = loopback_args_va (first_arg, ap);
  va_end (ap);
  return tu_daemon_start_argv ((const char *const *) args->pdata);
}

TuDaemon *
tu_daemon_start_logged (const char *first_arg, ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = loopback_args_va (first_arg, ap);
  va_end (ap);
  return daemon_spawn ((const char *const *) args->pdata, FALSE, TRUE, NULL);
}

TuDaemon *
tu_daemon_start_dbus (const char *bus_address, const char *const *args)
{
  g_autoptr(GPtrArray) argv = loopback_args ();

  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return daemon_spawn ((const char *const *) argv->pdata, TRUE, TRUE, bus_address);
}

char *
tu_daemon_read_stderr_line (TuDaemon *d, guint timeout_s)
{
  GInputStream *stream = g_subprocess_get_stderr_pipe (d->proc);

  g_assert_nonnull (stream);
  return read_pipe_line (stream, timeout_s);
}

char *
tu_daemon_await_stderr (TuDaemon   *d,
                        const char *needle)
{
  for (;;)
    {
      char *line = tu_daemon_read_stderr_line (d, TU_IO_TIMEOUT_S);

      if (line == NULL)
        g_error ("the daemon's stderr ended before a line with “%s”", needle);
      g_test_message ("stderr: %s", line);
      if (strstr (line, needle) != NULL)
        return line;
      g_free (line);
    }
}

/* Signals (unless @signum is 0) and waits for the exit. Returns the rest
 * of a kept stderr, also logged: a sanitizer's report lands there. */
static char *
daemon_reap (TuDaemon *d, int signum, guint timeout_s)
{
  g_autoptr(GBytes) err = NULL;
  char *err_text;

  if (signum != 0)
    g_subprocess_send_signal (d->proc, signum);
  if (!wait_with_deadline (d->proc, timeout_s, NULL, &err))
    g_error ("the daemon did not exit within %u s of signal %d", timeout_s, signum);
  err_text = bytes_to_string (err);
  if (*err_text != '\0')
    g_test_message ("daemon stderr: %s", err_text);
  return err_text;
}

static void
daemon_free (TuDaemon *d)
{
  tu_rm_rf (d->base);
  g_object_unref (d->proc);
  g_free (d->root);
  g_free (d->base);
  g_free (d);
}

int
tu_daemon_finish (TuDaemon *d, int signum, guint timeout_s, char **out_stderr)
{
  g_autofree char *err_text = daemon_reap (d, signum, timeout_s);
  int status = -1;

  if (g_subprocess_get_if_exited (d->proc))
    status = g_subprocess_get_exit_status (d->proc);
  else
    g_test_message ("the daemon died from signal %d", g_subprocess_get_term_sig (d->proc));
  daemon_free (d);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err_text);
  return status;
}

void
tu_daemon_stop_with (TuDaemon *d, int signum)
{
  g_free (daemon_reap (d, signum, 10));
  if (g_subprocess_get_if_signaled (d->proc))
    g_error ("the daemon died from signal %d after signal %d",
             g_subprocess_get_term_sig (d->proc), signum);
  g_assert_cmpint (g_subprocess_get_exit_status (d->proc), ==, 0);
  daemon_free (d);
}

void
tu_daemon_stop (TuDaemon *d)
{
  tu_daemon_stop_with (d, SIGTERM);
}

char *
tu_daemon_path (TuDaemon *d, const char *name)
{
  return g_build_filename (d->root, name, NULL);
}

void
tu_fixture_setup (TuFixture *f, gconstpointer data)
{
  f->d = tu_daemon_start (NULL);
  f->fd = tu_connect (f->d->port);
  f->out = g_build_filename (f->d->base, "out", NULL);
  g_assert_cmpint (mkdir (f->out, 0755), ==, 0);
}

void
tu_fixture_teardown (TuFixture *f, gconstpointer data)
{
  close (f->fd);
  tu_daemon_stop (f->d);
  g_free (f->out);
}

guint8 *
tu_make_content (guint32 seed, gsize len)
{
  guint8 *data = g_malloc (len + 1);
  guint32 x = seed * 2654435761u + 0x9e3779b9u;

  if (x == 0)
    x = 1;
  for (gsize i = 0; i < len; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) (x >> 24);
    }
  return data;
}

/* The newest ctime tu_write_file() stamped, in ns; guarded by written. */
G_LOCK_DEFINE_STATIC (written);
static gint64 written_ctime_ns;

void
tu_write_file (const char *dir, const char *name, const void *data, gsize len)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  const guint8 *p = data;
  int fd;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      g_assert_cmpint (n, >, 0);
      p += n;
      len -= (gsize) n;
    }
  tu_note_written (fd);
  g_assert_cmpint (close (fd), ==, 0);
}

void
tu_note_written (int fd)
{
  struct stat st;

  g_assert_cmpint (fstat (fd, &st), ==, 0);
  G_LOCK (written);
  written_ctime_ns = MAX (written_ctime_ns,
                          (gint64) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
  G_UNLOCK (written);
}

void
tu_wait_written (void)
{
  gint64 ctime_ns;
  struct timespec now;

  G_LOCK (written);
  ctime_ns = written_ctime_ns;
  G_UNLOCK (written);
  for (;;)
    {
      clock_gettime (CLOCK_REALTIME_COARSE, &now);
      if ((gint64) now.tv_sec * 1000000000 + now.tv_nsec > ctime_ns)
        return;
      g_usleep (1000);
    }
}

void
tu_write_file_str (const char *dir, const char *name, const char *text)
{
  tu_write_file (dir, name, text, strlen (text));
}

void
tu_assert_file_contents (const char *path, const void *data, gsize len)
{
  g_autofree char *contents = NULL;
  gsize got = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, &got, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, got, data, len);
}

static int
remove_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  return remove (path) == 0 || errno == ENOENT ? 0 : -1;
}

void
tu_rm_rf (const char *path)
{
  g_assert_cmpint (nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
}

int
tu_connect_full (const char *address, guint16 port, int rcvbuf)
{
  struct sockaddr_storage addr = { 0 };
  socklen_t addr_len;
  struct timeval tv = { .tv_sec = TU_IO_TIMEOUT_S };
  int one = 1;
  int fd;

  if (strchr (address, ':') != NULL)
    {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr;

      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons (port);
      g_assert_cmpint (inet_pton (AF_INET6, address, &sin6->sin6_addr), ==, 1);
      addr_len = sizeof *sin6;
    }
  else
    {
      struct sockaddr_in *sin = (struct sockaddr_in *) &addr;

      sin->sin_family = AF_INET;
      sin->sin_port = htons (port);
      g_assert_cmpint (inet_pton (AF_INET, address, &sin->sin_addr), ==, 1);
      addr_len = sizeof *sin;
    }

  fd = socket (addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_cmpint (setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), ==, 0);
  /* The receive window is fixed at connect time, so this must come first. */
  if (rcvbuf > 0)
    g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), ==, 0);
  if (connect (fd, (struct sockaddr *) &addr, addr_len) != 0)
    g_error ("connect to %s port %u: %s", address, port, g_strerror (errno));
  return fd;
}

int
tu_tcp_peer_state (int fd)
{
  struct sockaddr_in ours = { 0 };
  struct sockaddr_in theirs = { 0 };
  socklen_t len = sizeof ours;
  struct {
    struct nlmsghdr header;
    struct inet_diag_req_v2 request;
  } query = { 0 };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  union {
    struct nlmsghdr header;
    char bytes[8192];
  } reply;
  struct timeval tv = { .tv_sec = TU_IO_TIMEOUT_S };
  ssize_t n;
  int nl;

  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &ours, &len), ==, 0);
  len = sizeof theirs;
  g_assert_cmpint (getpeername (fd, (struct sockaddr *) &theirs, &len), ==, 0);
  g_assert_cmpint (ours.sin_family, ==, AF_INET);

  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_INET;
  query.request.sdiag_protocol = IPPROTO_TCP;
  query.request.idiag_states = ~0U;
  /* The peer's socket: its source is our destination, and back. */
  query.request.id.idiag_sport = theirs.sin_port;
  query.request.id.idiag_dport = ours.sin_port;
  query.request.id.idiag_src[0] = theirs.sin_addr.s_addr;
  query.request.id.idiag_dst[0] = ours.sin_addr.s_addr;
  query.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  nl = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  g_assert_cmpint (nl, >=, 0);
  g_assert_cmpint (setsockopt (nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_cmpint (sendto (nl, &query, sizeof query, 0, (struct sockaddr *) &kernel,
                           sizeof kernel), ==, (ssize_t) sizeof query);
  n = recv (nl, &reply, sizeof reply, 0);
  close (nl);
  g_assert_cmpint (n, >=, (ssize_t) sizeof (struct nlmsghdr));
  if (reply.header.nlmsg_type == NLMSG_ERROR)
    {
      const struct nlmsgerr *err = NLMSG_DATA (&reply.header);

      /* ENOENT: gone. */
      g_assert_cmpint (err->error, ==, -ENOENT);
      return -1;
    }
  g_assert_cmpint (reply.header.nlmsg_type, ==, SOCK_DIAG_BY_FAMILY);
  return ((const struct inet_diag_msg *) NLMSG_DATA (&reply.header))->idiag_state;
}

int
tu_connect (guint16 port)
{
  return tu_connect_full ("127.0.0.1", port, 0);
}

void
tu_send (int fd, const void *data, gsize len)
{
  const char *p = data;

  tu_wait_written ();
  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("send: %s", g_strerror (errno));
      p += n;
      len -= (gsize) n;
    }
}

void
tu_send_str (int fd, const char *text)
{
  tu_send (fd, text, strlen (text));
}

char *
tu_read_line_timeout (int fd, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autoptr(GString) line = g_string_new (NULL);

  /* One byte at a time: the bytes after the LF belong to the next reply
   * and must stay in the socket for tu_read_exact(). */
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      char c;
      ssize_t n;

      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) == 0)
        {
          g_test_message ("no line within %d ms (have \"%s\")",
                          timeout_ms, line->str);
          return NULL;
        }
      n = recv (fd, &c, 1, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      g_string_append_c (line, c);
      if (c == '\n')
        return g_string_free (g_steal_pointer (&line), FALSE);
      g_assert_cmpuint (line->len, <, TU_MAX_LINE);
    }
}

char *
tu_read_line (int fd)
{
  return tu_read_line_timeout (fd, TU_IO_TIMEOUT_S * 1000);
}

guint8 *
tu_read_exact (int fd, gsize len)
{
  guint8 *data = g_malloc (len + 1);
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = recv (fd, data + got, len - got, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("expected %" G_GSIZE_FORMAT " bytes, got %" G_GSIZE_FORMAT
                 " then %s", len, got, n == 0 ? "EOF" : g_strerror (errno));
      got += (gsize) n;
    }
  return data;
}

void
tu_expect_eof (int fd)
{
  char c;
  ssize_t n;

  do
    n = recv (fd, &c, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    g_error ("expected EOF, got byte 0x%02x", (guint8) c);
  if (n < 0 && errno != ECONNRESET)
    g_error ("expected EOF, got %s", g_strerror (errno));
}

gboolean
tu_wait_closed (int fd, int timeout_ms, guint64 *out_discarded)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autofree char *buf = g_malloc (65536);
  guint64 discarded = 0;
  gboolean closed = FALSE;

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      ssize_t n;

      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) == 0)
        break;
      n = recv (fd, buf, 65536, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          closed = n == 0 || errno == ECONNRESET;
          break;
        }
      discarded += (guint64) n;
    }
  if (out_discarded != NULL)
    *out_discarded = discarded;
  return closed;
}

void
tu_assert_err (const char *line, const char *code)
{
  g_autofree char *prefix = g_strdup_printf ("ERR %s ", code);
  gsize len;

  g_assert_nonnull (line);
  len = strlen (line);
  if (!g_str_has_prefix (line, prefix))
    g_error ("expected \"%s...\", got \"%s\"", prefix, line);
  g_assert_cmpint (line[len - 1], ==, '\n');
  /* The text is for people: it must be there, on the same line. */
  g_assert_cmpuint (len, >, strlen (prefix) + 1);
  g_assert_null (strchr (line + strlen (prefix), '\r'));
}

/* The contract's numbers: decimal digits, no sign, no leading zeros. */
static guint64
parse_number (const char *text, gsize len)
{
  guint64 value = 0;

  g_assert_cmpuint (len, >, 0);
  g_assert_false (len > 1 && text[0] == '0');
  for (gsize i = 0; i < len; i++)
    {
      g_assert_true (g_ascii_isdigit (text[i]));
      value = value * 10 + (guint64) (text[i] - '0');
    }
  return value;
}

/* Parses `OK <number>` LF. */
static guint64
parse_ok_number (const char *line)
{
  gsize len;

  g_assert_nonnull (line);
  len = strlen (line);
  if (!g_str_has_prefix (line, "OK ") || line[len - 1] != '\n')
    g_error ("expected \"OK <number>\", got \"%s\"", line);
  return parse_number (line + 3, len - 4);
}

void
tu_assert_get_reply (int fd, const void *data, gsize len)
{
  g_autofree char *line = tu_read_line (fd);
  g_autofree guint8 *body = NULL;

  g_assert_cmpuint (parse_ok_number (line), ==, len);
  body = tu_read_exact (fd, len);
  g_assert_cmpmem (body, len, data, len);
}

static void
send_get (int fd, const char *name)
{
  g_autofree char *request = g_strdup_printf ("GET %s\n", name);

  tu_send_str (fd, request);
}

void
tu_assert_get (int fd, const char *name, const void *data, gsize len)
{
  send_get (fd, name);
  tu_assert_get_reply (fd, data, len);
}

char *
tu_get_err (int fd, const char *name)
{
  char *line;

  send_get (fd, name);
  line = tu_read_line (fd);
  g_assert_nonnull (line);
  if (!g_str_has_prefix (line, "ERR "))
    g_error ("GET %s: expected an error, got \"%s\"", name, line);
  return line;
}

void
tu_assert_ping (int fd)
{
  g_autofree char *line = NULL;

  tu_send_str (fd, "PING\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, "OK PONG\n");
}

int
tu_connect_when_free (guint16 port, guint timeout_s)
{
  gint64 guard = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      int fd = tu_connect (port);
      g_autofree char *reply = NULL;

      /* A refused connection may be reset before the 503 line is read. */
      (void) send (fd, "PING\n", 5, MSG_NOSIGNAL);
      reply = tu_read_line (fd);
      if (g_strcmp0 (reply, "OK PONG\n") == 0)
        return fd;
      if (reply != NULL)
        tu_assert_err (reply, "503");
      close (fd);
      g_assert_cmpint (g_get_monotonic_time (), <, guard);
      g_usleep (20 * 1000);
    }
}

static void
list_entry_free (gpointer data)
{
  TuListEntry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

GPtrArray *
tu_read_list (int fd)
{
  g_autofree char *header = tu_read_line (fd);
  guint64 count = parse_ok_number (header);
  GPtrArray *entries = g_ptr_array_new_with_free_func (list_entry_free);

  for (guint64 i = 0; i < count; i++)
    {
      g_autofree char *line = tu_read_line (fd);
      TuListEntry *entry = g_new0 (TuListEntry, 1);
      const char *size_end, *hits_end;

      g_assert_nonnull (line);
      size_end = strchr (line, ' ');
      g_assert_nonnull (size_end);
      hits_end = strchr (size_end + 1, ' ');
      g_assert_nonnull (hits_end);
      entry->size = parse_number (line, (gsize) (size_end - line));
      entry->hits = parse_number (size_end + 1, (gsize) (hits_end - size_end - 1));
      entry->name = g_strndup (hits_end + 1, strlen (hits_end + 1) - 1);
      g_assert_cmpuint (strlen (entry->name), >, 0);
      g_ptr_array_add (entries, entry);
    }
  return entries;
}

GPtrArray *
tu_list (int fd)
{
  tu_send_str (fd, "LIST\n");
  return tu_read_list (fd);
}

TuListEntry *
tu_list_find (GPtrArray *entries, const char *name)
{
  for (guint i = 0; i < entries->len; i++)
    {
      TuListEntry *entry = g_ptr_array_index (entries, i);

      if (g_str_equal (entry->name, name))
        return entry;
    }
  return NULL;
}

#define FIFO_MESSAGE "a message for the reader"

struct _TuFifoWriter {
  char *path;           /* (owned) */
  GThread *thread;      /* (owned) */
  int tid;              /* (atomic): 0 until the thread runs */
  int reader_coming;    /* (atomic): set just before the test opens the FIFO */
  gboolean released_early;
  gssize written;
};

static gpointer
fifo_writer_run (gpointer data)
{
  TuFifoWriter *w = data;
  sigset_t pipe_only;
  int fd;

  /* A reader that comes and goes turns the write into EPIPE, which must
   * fail the test rather than kill it. */
  sigemptyset (&pipe_only);
  sigaddset (&pipe_only, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_only, NULL);

  g_atomic_int_set (&w->tid, gettid ());
  fd = open (w->path, O_WRONLY | O_CLOEXEC);
  w->released_early = !g_atomic_int_get (&w->reader_coming);
  w->written = fd < 0 ? -1 : write (fd, FIFO_MESSAGE, strlen (FIFO_MESSAGE));
  if (fd >= 0)
    close (fd);
  return NULL;
}

/* Whether thread @tid sleeps in openat(), as /proc shows the syscall a
 * blocked thread is in. */
static gboolean
thread_in_openat (int tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/syscall", tid);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  return g_ascii_strtoll (text, NULL, 10) == SYS_openat && g_ascii_isdigit (text[0]);
}

TuFifoWriter *
tu_fifo_writer_start (const char *path)
{
  TuFifoWriter *w = g_new0 (TuFifoWriter, 1);
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  w->path = g_strdup (path);
  w->thread = g_thread_new ("fifo-writer", fifo_writer_run, w);
  while (g_atomic_int_get (&w->tid) == 0 || !thread_in_openat (g_atomic_int_get (&w->tid)))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the FIFO writer never blocked in open()");
      g_usleep (1000);
    }
  return w;
}

void
tu_fifo_writer_finish (TuFifoWriter *w)
{
  char buf[64];
  ssize_t n;
  int fd;

  g_atomic_int_set (&w->reader_coming, TRUE);
  fd = open (w->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_thread_join (w->thread);
  g_assert_false (w->released_early);
  g_assert_cmpint (w->written, ==, (gssize) strlen (FIFO_MESSAGE));
  n = read (fd, buf, sizeof buf);
  g_assert_cmpmem (buf, n, FIFO_MESSAGE, strlen (FIFO_MESSAGE));
  close (fd);
  g_free (w->path);
  g_free (w);
}

guint8 *
tu_put_seeded (TuDaemon *d, const char *name, guint32 seed, gsize len)
{
  guint8 *data = tu_make_content (seed, len);

  tu_write_file (d->root, name, data, len);
  return data;
}

gsize
tu_recv_until_closed (int fd, guint8 *buf, gsize size)
{
  gsize got = 0;

  while (got < size)
    {
      ssize_t n = recv (fd, buf + got, size - got, 0);

      if (n <= 0)
        break;
      got += (gsize) n;
    }
  return got;
}

guint
tu_daemon_threads (TuDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (d->proc));
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

int
tu_listen_loopback (guint16 *port)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &address, &len), ==, 0);
  *port = ntohs (address.sin_port);
  return fd;
}

void
tu_http_response_free (TuHttpResponse *r)
{
  g_free (r->status_line);
  g_hash_table_unref (r->fields);
  g_free (r->body);
  g_free (r);
}

static char *
read_crlf_line (int fd)
{
  g_autofree char *line = tu_read_line (fd);
  gsize len;

  g_assert_nonnull (line);
  len = strlen (line);
  g_assert_true (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n');
  return g_strndup (line, len - 2);
}

TuHttpResponse *
tu_http_read_response (int      fd,
                       gboolean head_only)
{
  TuHttpResponse *r = g_new0 (TuHttpResponse, 1);
  const char *length;

  r->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->status_line = read_crlf_line (fd);
  g_assert_true (g_str_has_prefix (r->status_line, "HTTP/1.1 "));
  r->status = (guint) g_ascii_strtoull (r->status_line + 9, NULL, 10);
  for (;;)
    {
      g_autofree char *line = read_crlf_line (fd);
      g_autofree char *name = NULL;
      char *colon;

      if (*line == '\0')
        break;
      colon = strchr (line, ':');
      g_assert_nonnull (colon);
      *colon = '\0';
      name = g_ascii_strdown (line, -1);
      g_assert_false (g_hash_table_contains (r->fields, name));
      g_hash_table_insert (r->fields, g_steal_pointer (&name), g_strdup (g_strstrip (colon + 1)));
      r->n_fields++;
    }
  length = g_hash_table_lookup (r->fields, "content-length");
  if (!head_only && r->status != 304 && length != NULL)
    {
      r->body_len = (gsize) g_ascii_strtoull (length, NULL, 10);
      r->body = (char *) tu_read_exact (fd, r->body_len);
      r->body[r->body_len] = '\0';
    }
  return r;
}

const char *
tu_http_field (TuHttpResponse *r,
               const char     *name)
{
  return g_hash_table_lookup (r->fields, name);
}

char *
tu_asan_options_with (const char *option)
{
  const char *asan = g_getenv ("ASAN_OPTIONS");

  return g_strconcat (asan != NULL ? asan : "", asan != NULL ? ":" : "", option, NULL);
}

char *
tu_preload_begin (const char *preload_var)
{
  char *saved_asan = g_strdup (g_getenv ("ASAN_OPTIONS"));
  /* ASan wants to be the first library loaded; the preload comes first. */
  g_autofree char *asan_options = tu_asan_options_with ("verify_asan_link_order=0");

  /* A launcher copies the environment when made, so only the processes
   * started meanwhile get these. */
  g_setenv ("LD_PRELOAD", env_path (preload_var), TRUE);
  g_setenv ("ASAN_OPTIONS", asan_options, TRUE);
  return saved_asan;
}

void
tu_preload_end (char *saved_asan)
{
  g_unsetenv ("LD_PRELOAD");
  if (saved_asan != NULL)
    g_setenv ("ASAN_OPTIONS", saved_asan, TRUE);
  else
    g_unsetenv ("ASAN_OPTIONS");
  g_free (saved_asan);
}

/* The state letter (proc(5)) in @stat_path, a process's or a thread's
 * `stat`; '?' when it cannot be read (a thread that has just ended). */
char
tu_proc_state (const char *stat_path)
{
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (stat_path, &stat, NULL, NULL) ||
      (paren = strrchr (stat, ')')) == NULL || paren[1] == '\0')
    return '?';
  return paren[2];
}

/* Whether every thread of @pid is stopped: kill() returns before they
 * are, and one still running may take what is sent meanwhile. */
static gboolean
all_threads_stopped (pid_t pid)
{
  g_autofree char *tasks = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (tasks, 0, NULL);
  const char *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tasks, tid, "stat", NULL);
      char state = tu_proc_state (path);

      if (state != '?' && state != 'T' && state != 't')
        return FALSE;
    }
  return TRUE;
}

/* Stops @d (SIGSTOP) and returns once all its threads are stopped, so
 * that what a test sends meanwhile is all there when it goes on
 * (tu_daemon_resume()). */
void
tu_daemon_pause (TuDaemon *d)
{
  pid_t pid = (pid_t) atoi (g_subprocess_get_identifier (d->proc));
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  while (!all_threads_stopped (pid))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

void
tu_daemon_resume (TuDaemon *d)
{
  g_assert_cmpint (kill ((pid_t) atoi (g_subprocess_get_identifier (d->proc)), SIGCONT), ==, 0);
}

/* The response to @request on a new connection to @d, which is at its
 * --max-clients: the daemon is paused while the client connects and
 * sends, so that the request has come when the connection is accepted
 * and refused (HTTP.md: HTTP's 503 only then). */
TuHttpResponse *
tu_http_refused_at_accept (TuDaemon   *d,
                           const char *request)
{
  TuHttpResponse *r;
  int fd;

  tu_daemon_pause (d);
  fd = tu_connect (d->port);
  tu_send_str (fd, request);
  tu_daemon_resume (d);
  r = tu_http_read_response (fd, FALSE);
  close (fd);
  return r;
}
