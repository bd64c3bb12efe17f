/* The daemon as a system service: its configuration file, --check-config,
 * SIGHUP, readiness through NOTIFY_SOCKET and the sockets systemd passes.
 * Each test plays the service manager itself: it writes the file, listens
 * on the notification socket and, for activation, binds the socket. */
#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <gio/gunixinputstream.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

typedef struct {
  TuDaemon *d;      /* (owned) (nullable): NULL once finished */
  char *config;     /* (owned): the configuration file, beside the root */
  int notify_fd;    /* the service manager's end of NOTIFY_SOCKET */
} Service;

/* Writes the configuration file: the root, then @text. */
static void
service_write_config (Service    *s,
                      const char *text)
{
  g_autofree char *contents = g_strdup_printf ("[filecached]\nroot = %s\n%s", s->d->root, text);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (s->config, contents, -1, &error);
  g_assert_no_error (error);
}

/* (transfer full): the next report to the service manager; fails the
 * test if none comes in time. */
static char *
service_read_notify (Service *s)
{
  struct pollfd pfd = { .fd = s->notify_fd, .events = POLLIN };
  char buf[4096];
  ssize_t n;
  int ready;

  do
    ready = poll (&pfd, 1, TU_IO_TIMEOUT_S * 1000);
  while (ready < 0 && errno == EINTR);
  if (ready <= 0)
    g_error ("no report on NOTIFY_SOCKET within %d s", TU_IO_TIMEOUT_S);
  n = recv (s->notify_fd, buf, sizeof buf, 0);
  g_assert_cmpint (n, >, 0);
  g_test_message ("notify: %.*s", (int) n, buf);
  return g_strndup (buf, (gsize) n);
}

static gboolean
has_line (const char *text,
          const char *line)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  return g_strv_contains ((const char *const *) lines, line);
}

/* Skips reports until one holding the line @line, and returns it. */
static char *
service_await_notify (Service    *s,
                      const char *line)
{
  for (;;)
    {
      char *state = service_read_notify (s);

      if (has_line (state, line))
        return state;
      g_free (state);
    }
}

static int
bind_notify_socket (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof address.sun_path);
  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  return fd;
}

/* A TCP socket on 127.0.0.1, listening (as filecached.socket makes one)
 * only if @backlog > 0. */
static int
bind_loopback (int      backlog,
               guint16 *port)
{
  struct sockaddr_in address = { .sin_family = AF_INET };
  socklen_t len = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  if (backlog > 0)
    g_assert_cmpint (listen (fd, backlog), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &address, &len), ==, 0);
  *port = ntohs (address.sin_port);
  return fd;
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

typedef struct {
  const char *config;           /* (nullable): after the root line */
  gboolean activated;           /* pass a socket as systemd does */
  gboolean dbus;                /* leave out --no-dbus */
  const char *bus_address;      /* (nullable): DBUS_SESSION_BUS_ADDRESS */
  const char *const *args;      /* (nullable): more options */
  int pass_fd;                  /* with @activated: the socket to pass (taken),
                                   or 0 for a fresh listening one */
} ServiceOptions;

/* Starts the daemon with `--config` and NOTIFY_SOCKET, its stderr kept:
 * on 127.0.0.1 with a port it picks, or on a socket passed through
 * tests/activate. */
static Service *
service_spawn (const ServiceOptions *options)
{
  Service *s = g_new0 (Service, 1);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *notify_path = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  int listen_fd = -1;

  s->d = g_new0 (TuDaemon, 1);
  s->d->base = g_dir_make_tmp ("filecached-service-XXXXXX", &error);
  g_assert_no_error (error);
  s->d->root = g_build_filename (s->d->base, "root", NULL);
  g_assert_cmpint (mkdir (s->d->root, 0755), ==, 0);
  s->config = g_build_filename (s->d->base, "filecached.conf", NULL);
  service_write_config (s, options->config != NULL ? options->config : "");
  notify_path = g_build_filename (s->d->base, "notify", NULL);
  s->notify_fd = bind_notify_socket (notify_path);

  if (options->activated)
    {
      g_ptr_array_add (argv, g_test_build_filename (G_TEST_BUILT, "activate", NULL));
      g_ptr_array_add (argv, g_strdup ("1"));
    }
  g_ptr_array_add (argv, g_strdup (g_getenv ("FILECACHED")));
  g_ptr_array_add (argv, g_strdup_printf ("--config=%s", s->config));
  if (!options->dbus)
    g_ptr_array_add (argv, g_strdup ("--no-dbus"));
  if (!options->activated)
    {
      g_ptr_array_add (argv, g_strdup ("--host=127.0.0.1"));
      g_ptr_array_add (argv, g_strdup ("--port=0"));
    }
  for (gsize i = 0; options->args != NULL && options->args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (options->args[i]));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", notify_path, TRUE);
  /* Per-request debug output is the daemon's to turn on, by its setting. */
  g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
  if (options->bus_address != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", options->bus_address, TRUE);
  if (options->activated)
    {
      listen_fd = options->pass_fd > 0 ? options->pass_fd : bind_loopback (16, &s->d->port);
      g_subprocess_launcher_take_fd (launcher, listen_fd, 3);
    }
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  s->d->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  return s;
}

/* service_spawn(), returning once the daemon reports READY=1. */
static Service *
service_start (const ServiceOptions *options)
{
  Service *s = service_spawn (options);
  g_autoptr(GError) error = NULL;
  g_autofree char *ready = NULL;

  ready = service_await_notify (s, "READY=1");
  if (!options->activated)
    {
      /* Printed once announced, just after READY=1 without D-Bus. */
      g_autoptr(GDataInputStream) out =
        g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->d->proc));
      g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
      guint64 port = 0;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_assert_true (g_ascii_string_to_unsigned (line, 10, 1, G_MAXUINT16, &port, NULL));
      s->d->port = (guint16) port;
      g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out), FALSE);
    }
  return s;
}

/* Sends @signum (0: none), waits for the exit, frees @s; returns the
 * exit status, and in @out_stderr the rest of stderr. */
static int
service_finish (Service  *s,
                int       signum,
                char    **out_stderr)
{
  int status = tu_daemon_finish (s->d, signum, 10, out_stderr);

  close (s->notify_fd);
  g_free (s->config);
  g_free (s);
  return status;
}

/* Sends @signum, asserts a clean exit, frees @s; (transfer full) the rest
 * of stderr. */
static char *
service_stop (Service *s,
              int      signum)
{
  char *err = NULL;

  g_assert_cmpint (service_finish (s, signum, &err), ==, 0);
  return err;
}

static void
service_reload (Service    *s,
                const char *config)
{
  g_autofree char *reloading = NULL;
  g_autofree char *ready = NULL;

  service_write_config (s, config);
  g_subprocess_send_signal (s->d->proc, SIGHUP);
  reloading = service_await_notify (s, "RELOADING=1");
  ready = service_await_notify (s, "READY=1");
}

static void
assert_list_has (int fd, const char *name, gboolean expected)
{
  g_autoptr(GPtrArray) entries = tu_list (fd);

  g_assert_cmpint (tu_list_find (entries, name) != NULL, ==, expected);
}

/* ---- the configuration file ---- */

/* The file's settings apply (the root, a client limit), and an option on
 * the command line wins over the file's (an address that cannot be bound). */
static void
test_config_file_applies (void)
{
  const ServiceOptions options = {
    .config = "max-clients = 1\nhost = 203.0.113.1\nport = 1\n",
  };
  Service *s = service_start (&options);
  g_autofree char *line = NULL;
  int first, second;

  tu_write_file_str (s->d->root, "hello", "hello\n");
  first = tu_connect (s->d->port);
  tu_assert_get (first, "hello", "hello\n", 6);
  second = tu_connect (s->d->port);
  line = tu_read_line (second);
  tu_assert_err (line, "503");
  close (second);
  close (first);
  g_free (service_stop (s, SIGTERM));
}

static void
test_config_invalid_refuses_start (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *expected = g_strdup_printf ("%s:3: cache-size", config);
  g_autofree char *err = NULL;
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *argv[] = { g_getenv ("FILECACHED"), config_arg, "--no-dbus", "--port=0", dir, NULL };

  g_assert_true (g_file_set_contents (config, "[filecached]\n# the cache\ncache-size = lots\n", -1, NULL));
  g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, expected));
  g_assert_nonnull (strstr (err, "lots"));
  tu_rm_rf (dir);
}

/* Only the default file may be missing: one asked for must be there. */
static void
test_config_named_file_missing (void)
{
  const char *argv[] = { g_getenv ("FILECACHED"), "--config=/nonexistent/filecached.conf",
                         "--no-dbus", "--port=0", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "/nonexistent/filecached.conf"));
}

/* ---- --check-config ---- */

static void
test_check_config_valid (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "good.conf", NULL);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", config_arg, NULL };
  g_autofree char *out = NULL;

  g_assert_true (g_file_set_contents (config, "[filecached]\nport = 9\nverbose = true\n", -1, NULL));
  g_assert_cmpint (tu_run (argv, 20, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, config));
  tu_rm_rf (dir);
}

static void
test_check_config_invalid (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", config);
  g_autofree char *expected = g_strdup_printf ("%s:2: unknown key “prot”", config);
  const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", config_arg, NULL };
  g_autofree char *err = NULL;

  g_assert_true (g_file_set_contents (config, "[filecached]\nprot = 9\n", -1, NULL));
  g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, expected));
  tu_rm_rf (dir);
}

/* The command line is checked too: it is half of the configuration. */
static void
test_check_config_bad_option (void)
{
  const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", "--config=/dev/null",
                         "--idle-timeout=0", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "--idle-timeout"));
}

/* A root the daemon could not serve is no valid configuration: a missing
 * directory, a regular file. */
static void
test_check_config_bad_root (void)
{
  static const char *const roots[] = { "/nonexistent-filecached-root", "/etc/passwd" };

  for (gsize i = 0; i < G_N_ELEMENTS (roots); i++)
    {
      const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", "--config=/dev/null",
                             roots[i], NULL };
      g_autofree char *err = NULL;

      g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
      g_assert_nonnull (strstr (err, roots[i]));
    }
}

/* What start-up would refuse is refused before it: an access log that
 * cannot be opened (in a missing directory, a directory), and a metrics
 * port that is the main one. Neither check creates the log. */
static void
test_check_config_access_log_and_metrics_port (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *missing_dir = g_build_filename (dir, "nodir", "access.log", NULL);
  g_autofree char *fine = g_build_filename (dir, "access.log", NULL);
  const char *refused[][4] = {
    { "--access-log", missing_dir, missing_dir, NULL },
    { "--access-log", dir, "Is a directory", NULL },
    { "--port=47999", "--metrics-port=47999", "metrics port 47999", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", "--config=/dev/null",
                             refused[i][0], refused[i][1], dir, NULL };
      g_autofree char *err = NULL;

      g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
      g_assert_nonnull (strstr (err, refused[i][2]));
    }
  {
    const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", "--config=/dev/null",
                           "--access-log", fine, dir, NULL };

    g_assert_cmpint (tu_run (argv, 20, NULL, NULL), ==, 0);
    g_assert_false (g_file_test (fine, G_FILE_TEST_EXISTS));
  }
  tu_rm_rf (dir);
}

/* The commented example shipped in data/ is valid as it is, and with
 * every commented setting uncommented. */
static void
test_check_config_example (void)
{
  g_autofree char *example = g_test_build_filename (G_TEST_BUILT, "..", "data",
                                                    "filecached.conf.example", NULL);
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *uncommented_path = g_build_filename (dir, "all.conf", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GRegex) commented = g_regex_new ("^#([a-z-]+ = )", G_REGEX_MULTILINE, 0, NULL);
  g_autofree char *uncommented = NULL;

  for (guint pass = 0; pass < 2; pass++)
    {
      g_autofree char *config_arg = g_strdup_printf ("--config=%s", pass == 0 ? example : uncommented_path);
      /* The example's root (the service's) need not exist here: the
       * command line's wins, as it does over every key. */
      const char *argv[] = { g_getenv ("FILECACHED"), "--check-config", config_arg, dir, NULL };

      if (pass == 1)
        {
          g_assert_true (g_file_get_contents (example, &text, NULL, NULL));
          uncommented = g_regex_replace (commented, text, -1, 0, "\\1", 0, NULL);
          g_assert_cmpstr (uncommented, !=, text);
          g_assert_true (g_file_set_contents (uncommented_path, uncommented, -1, NULL));
        }
      g_assert_cmpint (tu_run (argv, 20, NULL, NULL), ==, 0);
    }
  tu_rm_rf (dir);
}

/* ---- reload ---- */

/* SIGHUP lowers the capacity (evicting at once) and the idle timeout,
 * while a transfer is stalled halfway and an idle client waits: both go
 * on. */
static void
test_reload_live_while_transferring (void)
{
  const ServiceOptions options = {
    .config = "cache-size = 64M\nidle-timeout = 60\nsend-timeout = 300\n",
  };
  Service *s = service_start (&options);
  gsize size = 8 * MiB;
  g_autofree guint8 *big = tu_make_content (7, size);
  g_autofree guint8 *head = NULL;
  g_autofree guint8 *rest = NULL;
  g_autofree char *reloaded = NULL;
  g_autofree char *status = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  gsize head_len = 4096;
  int idle, transfer, fresh;

  tu_write_file (s->d->root, "big", big, size);
  tu_write_file_str (s->d->root, "small", "small\n");
  idle = tu_connect (s->d->port);
  tu_assert_get (idle, "small", "small\n", 6);
  assert_list_has (idle, "small", TRUE);

  transfer = tu_connect_full ("127.0.0.1", s->d->port, 4096);
  tu_send_str (transfer, "GET big\n");
  head = tu_read_exact (transfer, head_len);
  g_assert_cmpmem (head, strlen (status), status, strlen (status));

  service_reload (s, "cache-size = 1K\nidle-timeout = 1\nsend-timeout = 300\n");
  reloaded = tu_daemon_await_stderr (s->d, "Reloaded");
  g_assert_nonnull (strstr (reloaded, s->config));
  g_assert_nonnull (strstr (reloaded, "cache-size, idle-timeout"));

  /* The capacity: evicted at once, and the idle client still served. */
  assert_list_has (idle, "small", FALSE);
  tu_assert_ping (idle);

  /* The idle timeout, for the next wait: the old one would keep a fresh
   * connection for a minute. */
  fresh = tu_connect (s->d->port);
  g_assert_true (tu_wait_closed (fresh, TU_IO_TIMEOUT_S * 1000, NULL));
  close (fresh);

  /* The stalled transfer ends whole. */
  rest = tu_read_exact (transfer, strlen (status) + size - head_len);
  g_assert_cmpmem (head + strlen (status), head_len - strlen (status), big, head_len - strlen (status));
  g_assert_cmpmem (rest, size - (head_len - strlen (status)), big + head_len - strlen (status),
                   size - (head_len - strlen (status)));
  close (transfer);
  close (idle);
  g_free (service_stop (s, SIGTERM));
}

/* A lower client limit refuses the next client, and keeps those it has. */
static void
test_reload_max_clients (void)
{
  const ServiceOptions options = { .config = "max-clients = 10\n" };
  Service *s = service_start (&options);
  g_autofree char *line = NULL;
  int first = tu_connect (s->d->port);
  int second = tu_connect (s->d->port);
  int third;

  tu_assert_ping (first);
  tu_assert_ping (second);
  service_reload (s, "max-clients = 2\n");
  third = tu_connect (s->d->port);
  line = tu_read_line (third);
  tu_assert_err (line, "503");
  tu_assert_ping (first);
  tu_assert_ping (second);
  close (third);
  close (second);
  close (first);
  g_free (service_stop (s, SIGTERM));
}


/* The worker threads follow a reload both ways: more start at once; the
 * surplus takes no new connection and ends with the last it serves, a
 * stalled transfer finishing whole first. */
static void
test_reload_threads (void)
{
  const ServiceOptions options = { .config = "threads = 1\nsend-timeout = 300\n" };
  Service *s = service_start (&options);
  gsize size = 8 * MiB;
  g_autofree guint8 *big = tu_make_content (8, size);
  g_autofree char *line = NULL;
  g_autofree guint8 *body = NULL;
  guint base = tu_daemon_threads (s->d);
  gint64 deadline;
  int transfers[3];
  int fd;

  tu_write_file (s->d->root, "big", big, size);
  service_reload (s, "threads = 4\nsend-timeout = 300\n");
  g_assert_cmpuint (tu_daemon_threads (s->d), ==, base + 3);

  /* One stalled transfer on each of three workers (round robin). */
  for (guint i = 0; i < G_N_ELEMENTS (transfers); i++)
    {
      transfers[i] = tu_connect_full ("127.0.0.1", s->d->port, 4096);
      tu_send_str (transfers[i], "GET big\n");
      g_free (tu_read_line (transfers[i]));
    }

  service_reload (s, "threads = 1\nsend-timeout = 300\n");
  line = tu_daemon_await_stderr (s->d, "Reloaded");
  g_assert_nonnull (strstr (line, "threads"));
  /* New connections go to the one worker left. */
  fd = tu_connect (s->d->port);
  tu_assert_ping (fd);
  close (fd);

  for (guint i = 0; i < G_N_ELEMENTS (transfers); i++)
    {
      body = tu_read_exact (transfers[i], size);
      g_assert_cmpmem (body, size, big, size);
      g_clear_pointer (&body, g_free);
      close (transfers[i]);
    }
  /* The retired workers end with their last connections. */
  deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  while (tu_daemon_threads (s->d) > base)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  g_assert_cmpuint (tu_daemon_threads (s->d), ==, base);
  g_free (service_stop (s, SIGTERM));
}

/* The daemon's eventfds: one per worker, and the workers' own. */
static guint
daemon_eventfds (TuDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (d->proc));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link_path = g_build_filename (path, name, NULL);
      g_autofree char *target = g_file_read_link (link_path, NULL);

      if (g_strcmp0 (target, "anon_inode:[eventfd]") == 0)
        n++;
    }
  return n;
}

/* A reload that lowers threads: the retired worker's thread and eventfd
 * go once its last connection ends, with no later reload (issue 13).
 * The workers accept for themselves, so which one holds which
 * connection is the kernel's choice: the retired one may hold both, or
 * none. */
static void
test_reload_threads_frees_retired (void)
{
  const ServiceOptions options = { .config = "threads = 2\n" };
  Service *s = service_start (&options);
  guint threads = tu_daemon_threads (s->d);
  guint eventfds = daemon_eventfds (s->d);
  gint64 deadline;
  int first = tu_connect (s->d->port);
  int second = tu_connect (s->d->port);

  tu_assert_ping (first);
  tu_assert_ping (second);
  service_reload (s, "threads = 1\n");
  tu_assert_ping (first);
  tu_assert_ping (second);
  close (first);
  close (second);

  deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  while (daemon_eventfds (s->d) > eventfds - 1 || tu_daemon_threads (s->d) > threads - 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  first = tu_connect (s->d->port);
  tu_assert_ping (first);
  close (first);
  g_free (service_stop (s, SIGTERM));
}

/* The worker a reload leaves alone may be one that had stopped accepting
 * because it held well over its share (workers.c, worker_balance()):
 * 40 idle connections on the one worker, a second worker that takes the
 * next ones, then back to one thread. The one left accepts again at
 * once, though none of its connections stirs to wake it. */
static void
test_reload_threads_held_back (void)
{
  enum { N = 40 };
  const ServiceOptions options = { .config = "threads = 1\n" };
  Service *s = service_start (&options);
  int fds[N];
  int fd;

  for (guint i = 0; i < N; i++)
    {
      fds[i] = tu_connect (s->d->port);
      tu_assert_ping (fds[i]);
    }
  service_reload (s, "threads = 2\n");
  fd = tu_connect (s->d->port);
  tu_assert_ping (fd);
  close (fd);
  service_reload (s, "threads = 1\n");
  fd = tu_connect (s->d->port);
  tu_assert_ping (fd);
  close (fd);
  for (guint i = 0; i < N; i++)
    close (fds[i]);
  g_free (service_stop (s, SIGTERM));
}

/* The directory opened at start is served until a restart: when its
 * path leads to another directory (renamed, and another made in its
 * place, as a link switched to a new release would), a reload says so,
 * naming both; the files of the one opened are still served. */
static void
test_reload_root_moved (void)
{
  const ServiceOptions options = { .config = "" };
  Service *s = service_start (&options);
  g_autofree char *old = g_strconcat (s->d->root, ".old", NULL);
  g_autofree char *line = NULL;
  g_autofree char *body = NULL;
  int fd;

  tu_write_file_str (s->d->root, "release", "one\n");
  g_assert_cmpint (rename (s->d->root, old), ==, 0);
  g_assert_cmpint (mkdir (s->d->root, 0755), ==, 0);
  tu_write_file_str (s->d->root, "release", "two\n");
  service_reload (s, "");
  line = tu_daemon_await_stderr (s->d, "is served until the daemon restarts");
  g_assert_nonnull (strstr (line, s->d->root));
  /* The one served is named where it is now. */
  g_assert_nonnull (strstr (line, old));
  fd = tu_connect (s->d->port);
  tu_assert_get (fd, "release", "one\n", 4);
  close (fd);
  /* root.old goes with the rest of the daemon's directory. */
  g_free (service_stop (s, SIGTERM));
}

/* What a running daemon cannot change is said, and left as it was; what
 * the command line gives stays as it says (here the port). */
static void
test_reload_restart_settings_logged (void)
{
  const ServiceOptions options = { .config = "threads = 2\n" };
  Service *s = service_start (&options);
  g_autofree char *line = NULL;
  int fd;

  service_reload (s, "threads = 3\nport = 1\nmax-clients = 5\nsystem = true\n");
  line = tu_daemon_await_stderr (s->d, "restart");
  g_assert_nonnull (strstr (line, ": system"));
  g_assert_null (strstr (line, "threads"));
  g_assert_null (strstr (line, "max-clients"));
  g_assert_null (strstr (line, "port"));

  /* Compared with what runs, not with the last file read: still
   * different, said again; back to what runs, said no more. */
  service_reload (s, "system = true\nmax-clients = 6\n");
  g_clear_pointer (&line, g_free);
  line = tu_daemon_await_stderr (s->d, "restart");
  g_assert_nonnull (strstr (line, ": system"));
  service_reload (s, "max-clients = 7\n");
  g_clear_pointer (&line, g_free);
  line = tu_daemon_await_stderr (s->d, "Reloaded");
  service_reload (s, "max-clients = 8\n");
  for (;;)
    {
      g_autofree char *next = tu_daemon_read_stderr_line (s->d, TU_IO_TIMEOUT_S);

      g_assert_nonnull (next);
      g_assert_null (strstr (next, "restart"));
      if (strstr (next, "Reloaded") != NULL)
        break;
    }

  fd = tu_connect (s->d->port);
  tu_assert_ping (fd);
  close (fd);
  g_free (service_stop (s, SIGTERM));
}

/* A reload naming an access log that cannot be opened keeps the file in
 * use and does not say access-log changed; each later reload tries the
 * path again, and says so again. */
static void
test_reload_access_log_unopenable (void)
{
  const ServiceOptions options = { NULL };
  Service *s = service_start (&options);
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (dir, "a.log", NULL);
  g_autofree char *bad = g_build_filename (dir, "nodir", "b.log", NULL);
  g_autofree char *good_config = g_strdup_printf ("access-log = %s\n", good);
  g_autofree char *bad_config = g_strdup_printf ("access-log = %s\n", bad);
  g_autofree guint8 *buf = g_malloc (4096);
  g_autofree char *line = NULL;
  g_autofree char *logged = NULL;
  int fd;

  service_reload (s, good_config);
  line = tu_daemon_await_stderr (s->d, "Reloaded");
  g_assert_nonnull (strstr (line, "changed: access-log"));
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&line, g_free);
      service_reload (s, bad_config);
      line = tu_daemon_await_stderr (s->d, "not reopened");
      g_assert_nonnull (strstr (line, bad));
      g_clear_pointer (&line, g_free);
      line = tu_daemon_await_stderr (s->d, "Reloaded");
      g_assert_nonnull (strstr (line, "nothing changed"));
    }

  fd = tu_connect (s->d->port);
  tu_send_str (fd, "GET /logged HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  tu_recv_until_closed (fd, buf, 4096);
  close (fd);
  g_free (service_stop (s, SIGTERM));
  g_assert_true (g_file_get_contents (good, &logged, NULL, NULL));
  g_assert_nonnull (strstr (logged, "\"GET /logged HTTP/1.1\" 404"));
  tu_rm_rf (dir);
}

/* A file broken since start-up is refused whole; the daemon goes on with
 * what it had. */
static void
test_reload_invalid_keeps_settings (void)
{
  const ServiceOptions options = { .config = "cache-size = 1M\n" };
  Service *s = service_start (&options);
  g_autofree char *line = NULL;
  g_autofree char *expected = NULL;
  int fd = tu_connect (s->d->port);

  tu_write_file_str (s->d->root, "small", "small\n");
  tu_assert_get (fd, "small", "small\n", 6);

  service_reload (s, "cache-size = 0\nidle-timeout = never\n");
  expected = g_strdup_printf ("%s:4: idle-timeout", s->config);
  line = tu_daemon_await_stderr (s->d, "Not reloading");
  g_assert_nonnull (strstr (line, expected));

  assert_list_has (fd, "small", TRUE);
  close (fd);
  g_free (service_stop (s, SIGTERM));
}

/* Per-request logging, off then on without a restart. */
static void
test_reload_verbose (void)
{
  const ServiceOptions options = { .config = "verbose = false\n" };
  Service *s = service_start (&options);
  g_autofree char *line = NULL;
  g_autofree char *err = NULL;
  int fd = tu_connect (s->d->port);

  tu_send_str (fd, "GET before-reload\n");
  tu_assert_err (line = tu_read_line (fd), "404");
  g_clear_pointer (&line, g_free);

  service_reload (s, "verbose = true\n");
  tu_send_str (fd, "GET after-reload\n");
  tu_assert_err (line = tu_read_line (fd), "404");
  close (fd);

  err = service_stop (s, SIGTERM);
  g_assert_nonnull (strstr (err, "after-reload"));
  g_assert_null (strstr (err, "before-reload"));
}

/* ---- systemd: readiness and activation ---- */

/* READY=1 with a status once serving, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1 on the way out. */
static void
test_notify_states (void)
{
  const ServiceOptions options = { NULL };
  Service *s = service_start (&options);
  g_autofree char *reloading = NULL;
  g_autofree char *ready = NULL;
  g_autofree char *stopping = NULL;

  g_subprocess_send_signal (s->d->proc, SIGHUP);
  reloading = service_read_notify (s);
  g_assert_true (has_line (reloading, "RELOADING=1"));
  g_assert_nonnull (strstr (reloading, "\nMONOTONIC_USEC="));
  ready = service_read_notify (s);
  g_assert_true (has_line (ready, "READY=1"));

  g_subprocess_send_signal (s->d->proc, SIGTERM);
  stopping = service_read_notify (s);
  g_assert_true (has_line (stopping, "STOPPING=1"));
  g_free (service_stop (s, 0));
}

/* Puts @size bytes of @data in the root as "big" and begins a GET of it
 * on a connection with a small receive buffer; returns once its status
 * line has come (the request was received). */
static int
service_begin_big_get (Service      *s,
                       const guint8 *data,
                       gsize         size)
{
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  g_autofree char *line = NULL;
  int fd;

  tu_write_file (s->d->root, "big", data, size);
  fd = tu_connect_full ("127.0.0.1", s->d->port, 4096);
  tu_send_str (fd, "GET big\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
  return fd;
}

/* STOPPING=1 as soon as SIGTERM comes, while a transfer under way goes
 * on to its end; then a clean exit. */
static void
test_notify_stopping_while_draining (void)
{
  const ServiceOptions options = { .config = "cache-size = 1M\ndrain-timeout = 60\n" };
  Service *s = service_start (&options);
  gsize size = 24 * MiB;
  g_autofree guint8 *big = tu_make_content (23, size);
  g_autofree char *stopping = NULL;
  g_autofree guint8 *body = NULL;
  int fd = service_begin_big_get (s, big, size);

  g_subprocess_send_signal (s->d->proc, SIGTERM);
  stopping = service_await_notify (s, "STOPPING=1");
  body = tu_read_exact (fd, size);
  g_assert_cmpmem (body, size, big, size);
  tu_expect_eof (fd);
  close (fd);
  g_free (service_stop (s, 0));
}

/* A reload changes drain-timeout, and a stop then keeps to the new one:
 * a client that stops reading holds it an hour no longer. */
static void
test_reload_drain_timeout (void)
{
  const ServiceOptions options = { .config = "cache-size = 1M\ndrain-timeout = 3600\n" };
  Service *s = service_start (&options);
  gsize size = 32 * MiB;
  g_autofree guint8 *big = tu_make_content (24, size);
  g_autofree char *line = NULL;
  int fd;

  service_reload (s, "cache-size = 1M\ndrain-timeout = 1\n");
  line = tu_daemon_await_stderr (s->d, "Reloaded");
  g_assert_nonnull (strstr (line, "changed: drain-timeout"));

  fd = service_begin_big_get (s, big, size);
  g_free (service_stop (s, SIGTERM));
  g_assert_true (tu_wait_closed (fd, TU_IO_TIMEOUT_S * 1000, NULL));
  close (fd);
}

/* A SIGHUP during a stop changes nothing and says so: the drain keeps
 * its deadline (here 1 s; the reload would have made it an hour) and
 * the log does not claim a change that never happens. */
static void
test_reload_while_stopping (void)
{
  const ServiceOptions options = { .config = "cache-size = 1M\ndrain-timeout = 1\n" };
  Service *s = service_start (&options);
  gsize size = 32 * MiB;
  g_autofree guint8 *big = tu_make_content (25, size);
  g_autofree char *line = NULL;
  g_autofree char *err = NULL;
  int fd = service_begin_big_get (s, big, size);

  g_subprocess_send_signal (s->d->proc, SIGTERM);
  g_free (tu_daemon_await_stderr (s->d, "Stopping"));
  service_write_config (s, "cache-size = 1M\ndrain-timeout = 3600\n");
  g_subprocess_send_signal (s->d->proc, SIGHUP);
  line = tu_daemon_await_stderr (s->d, "Not reloading");
  g_assert_nonnull (strstr (line, "stopping"));
  /* The reader never reads: only the deadline ends the stop. */
  g_assert_true (tu_wait_closed (fd, TU_IO_TIMEOUT_S * 1000, NULL));
  close (fd);
  g_assert_cmpint (service_finish (s, 0, &err), ==, 0);
  g_assert_null (strstr (err, "Reloaded"));
}

/* The sockets systemd passes are served; the configured address is not
 * even tried (this one cannot be bound here). */
static void
test_activation_serves_passed_socket (void)
{
  const char *const args[] = { "--host=203.0.113.1", "--port=1", NULL };
  const ServiceOptions options = { .activated = TRUE, .args = args };
  Service *s = service_start (&options);
  guint16 port = s->d->port;
  g_autofree char *err = NULL;
  int fd;

  tu_write_file_str (s->d->root, "hello", "hello\n");
  fd = tu_connect (port);
  tu_assert_get (fd, "hello", "hello\n", 6);
  close (fd);
  err = service_stop (s, SIGTERM);
  g_assert_nonnull (strstr (err, "sockets from systemd"));
  /* Named by their addresses (each, when there are several). */
  {
    g_autofree char *named = g_strdup_printf ("sockets from systemd: 127.0.0.1:%u (", port);

    g_assert_nonnull (strstr (err, named));
  }
}

/* Passes @fd as systemd would and asserts that the daemon refuses to
 * start, naming the socket, its address and the fix. */
static void
assert_refused_socket (int     fd,
                       guint16 port)
{
  const ServiceOptions options = { .activated = TRUE, .pass_fd = fd };
  g_autofree char *err = NULL;
  g_autofree char *address = g_strdup_printf ("(127.0.0.1:%u)", port);

  g_assert_cmpint (service_finish (service_spawn (&options), 0, &err), ==, 1);
  g_assert_nonnull (strstr (err, "Socket 3 "));
  g_assert_nonnull (strstr (err, address));
  g_assert_nonnull (strstr (err, "not listening"));
  g_assert_nonnull (strstr (err, "Accept=no"));
}

/* A socket systemd passes that is only bound, or one connection (a unit
 * with Accept=yes), is refused at start: accepting on it would fail for
 * ever. */
static void
test_activation_refuses_unlistening (void)
{
  guint16 port;
  guint16 client_port;
  int bound = bind_loopback (0, &port);
  int listener;
  int client;
  int accepted;

  assert_refused_socket (bound, port);

  listener = bind_loopback (4, &port);
  client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  {
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
    struct sockaddr_in local;
    socklen_t len = sizeof local;

    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    g_assert_cmpint (connect (client, (struct sockaddr *) &address, sizeof address), ==, 0);
    accepted = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint (accepted, >=, 0);
    g_assert_cmpint (getsockname (accepted, (struct sockaddr *) &local, &len), ==, 0);
    client_port = ntohs (local.sin_port);
  }
  assert_refused_socket (accepted, client_port);
  close (client);
  close (listener);
}

/* The daemon's own CPU time so far, user and system, in seconds, from
 * its /proc/PID/stat (fields 14 and 15, after the command's parenthesis). */
static double
daemon_cpu_seconds (TuDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (d->proc));
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  /* After ")": state is field 3, so utime (14) and stime (15) are 11, 12. */
  fields = g_strsplit (strrchr (text, ')') + 2, " ", -1);
  g_assert_cmpuint (g_strv_length (fields), >, 12);
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         (double) sysconf (_SC_CLK_TCK);
}

/* (transfer full): what the daemon writes to its kept stderr in the
 * next @usec, read as it comes: a daemon logging at full speed would
 * otherwise block on a full pipe and look idle. */
static GString *
drain_stderr (TuDaemon *d,
              gint64    usec)
{
  int fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_subprocess_get_stderr_pipe (d->proc)));
  gint64 end = g_get_monotonic_time () + usec;
  GString *text = g_string_new (NULL);
  gint64 left;

  while ((left = end - g_get_monotonic_time ()) > 0)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char buf[65536];
      ssize_t n;

      if (poll (&pfd, 1, (int) (left / 1000) + 1) <= 0)
        continue;
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (text, buf, n);
    }
  return text;
}

static guint
count_lines_with (const char *text,
                  const char *needle)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint count = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      count++;
  return count;
}

/* A listening socket that fails every accept() (shut down by someone
 * else holding it: EINVAL for ever) costs the daemon almost no CPU and a
 * few log lines, not a spin writing one per failure; connections
 * already open are still served, and accepting resumes when it can. */
static void
test_activation_accept_error_backs_off (void)
{
  guint16 port;
  int listener = bind_loopback (16, &port);
  int held = dup (listener);
  const ServiceOptions options = { .activated = TRUE, .pass_fd = listener };
  Service *s = service_start (&options);
  g_autoptr(GString) logged = NULL;
  g_autofree char *err = NULL;
  guint accept_lines;
  double cpu;
  int fd;

  s->d->port = port;
  fd = tu_connect (port);
  tu_assert_ping (fd);
  cpu = daemon_cpu_seconds (s->d);
  g_assert_cmpint (shutdown (held, SHUT_RDWR), ==, 0);
  logged = drain_stderr (s->d, G_USEC_PER_SEC);
  cpu = daemon_cpu_seconds (s->d) - cpu;
  tu_assert_ping (fd);
  g_test_message ("CPU in the second after the shutdown: %.2f s", cpu);
  /* A spin takes the whole second; backing off, a few wake-ups. The
   * bound is loose for sanitizers and a busy machine. */
  g_assert_cmpfloat (cpu, <, 0.3);
  close (fd);

  /* Listening again (on a new port: the shutdown let the old one go),
   * the socket is accepted on again within the back-off, and that is
   * said once. */
  g_assert_cmpint (listen (held, 16), ==, 0);
  {
    struct sockaddr_in address;
    socklen_t len = sizeof address;

    g_assert_cmpint (getsockname (held, (struct sockaddr *) &address, &len), ==, 0);
    fd = tu_connect (ntohs (address.sin_port));
  }
  tu_assert_ping (fd);
  close (fd);
  close (held);

  err = service_stop (s, SIGTERM);
  g_assert_cmpuint (count_lines_with (err, "Accepting connections on"), ==, 1);
  accept_lines = count_lines_with (logged->str, "ccept") + count_lines_with (err, "ccept");
  g_test_message ("lines about accepting: %u", accept_lines);
  g_assert_cmpuint (accept_lines, >=, 2);
  g_assert_cmpuint (accept_lines, <, 10);
}

/* Ready when TCP is, not when the bus is: a bus that accepts and never
 * answers holds the name back for ever, but not the service. */
static void
test_activation_ready_without_bus (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *bus_path = g_build_filename (dir, "silent-bus", NULL);
  g_autofree char *bus_address = g_strdup_printf ("unix:path=%s", bus_path);
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int bus = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ServiceOptions options = { .activated = TRUE, .dbus = TRUE, .bus_address = bus_address };
  Service *s;
  int fd;

  g_strlcpy (address.sun_path, bus_path, sizeof address.sun_path);
  g_assert_cmpint (bind (bus, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (bus, 4), ==, 0);

  s = service_start (&options);
  tu_write_file_str (s->d->root, "hello", "hello\n");
  fd = tu_connect (s->d->port);
  tu_assert_get (fd, "hello", "hello\n", 6);
  close (fd);
  g_free (service_stop (s, SIGTERM));
  close (bus);
  tu_rm_rf (dir);
}

/* ---- the served directory ---- */

static void
test_root_not_a_directory (void)
{
  g_autofree char *dir = g_dir_make_tmp ("filecached-service-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "plain", NULL);
  const char *argv[] = { g_getenv ("FILECACHED"), "--config=/dev/null", "--no-dbus",
                         "--port=0", file, NULL };
  g_autofree char *err = NULL;

  tu_write_file_str (dir, "plain", "x");
  g_assert_cmpint (tu_run (argv, 20, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, file));
  g_assert_nonnull (strstr (err, "Not a directory"));
  tu_rm_rf (dir);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/service/config/file-applies", test_config_file_applies);
  g_test_add_func ("/service/config/invalid-refuses-start", test_config_invalid_refuses_start);
  g_test_add_func ("/service/config/named-file-missing", test_config_named_file_missing);
  g_test_add_func ("/service/check-config/valid", test_check_config_valid);
  g_test_add_func ("/service/check-config/invalid", test_check_config_invalid);
  g_test_add_func ("/service/check-config/bad-option", test_check_config_bad_option);
  g_test_add_func ("/service/check-config/example", test_check_config_example);
  g_test_add_func ("/service/reload/live-while-transferring", test_reload_live_while_transferring);
  g_test_add_func ("/service/reload/max-clients", test_reload_max_clients);
  g_test_add_func ("/service/reload/threads", test_reload_threads);
  g_test_add_func ("/service/reload/threads-held-back", test_reload_threads_held_back);
  g_test_add_func ("/service/reload/root-moved", test_reload_root_moved);
  g_test_add_func ("/service/reload/threads-frees-retired", test_reload_threads_frees_retired);
  g_test_add_func ("/service/check-config/bad-root", test_check_config_bad_root);
  g_test_add_func ("/service/reload/access-log-unopenable", test_reload_access_log_unopenable);
  g_test_add_func ("/service/check-config/access-log-and-metrics-port",
                   test_check_config_access_log_and_metrics_port);
  g_test_add_func ("/service/reload/restart-settings-logged", test_reload_restart_settings_logged);
  g_test_add_func ("/service/reload/invalid-keeps-settings", test_reload_invalid_keeps_settings);
  g_test_add_func ("/service/reload/verbose", test_reload_verbose);
  g_test_add_func ("/service/reload/drain-timeout", test_reload_drain_timeout);
  g_test_add_func ("/service/reload/while-stopping", test_reload_while_stopping);
  g_test_add_func ("/service/notify/states", test_notify_states);
  g_test_add_func ("/service/notify/stopping-while-draining", test_notify_stopping_while_draining);
  g_test_add_func ("/service/activation/serves-passed-socket", test_activation_serves_passed_socket);
  g_test_add_func ("/service/activation/refuses-unlistening", test_activation_refuses_unlistening);
  g_test_add_func ("/service/activation/accept-error-backs-off", test_activation_accept_error_backs_off);
  g_test_add_func ("/service/activation/ready-without-bus", test_activation_ready_without_bus);
  g_test_add_func ("/service/root/not-a-directory", test_root_not_a_directory);
  return g_test_run ();
}
