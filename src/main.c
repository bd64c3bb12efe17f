#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gio.h>

#include "abandon.h"
#include "access-log.h"
#include "cache.h"
#include "dbus-control.h"
#include "file-read.h"
#include "i18n.h"
#include "metrics.h"
#include "server.h"
#include "settings.h"
#include "systemd.h"

/* Besides a socket and a file per client: listeners, D-Bus, GLib's own
 * descriptors and refused connections being drained. */
#define FD_RESERVE 128

typedef struct {
  FcSettings given;         /* what the command line says: it wins over the file */
  char *config_path;        /* (owned) (nullable): --config */
  gboolean check_config;
  gboolean version;
  char **dirs;              /* (owned) (nullable) */
} Options;

/* Every setting's option goes through the same table as the file's keys,
 * so that both take the same values and say the same about bad ones. */
static gboolean
on_setting_option (const char  *option_name,
                   const char  *value,
                   gpointer     data,
                   GError     **error)
{
  Options *options = data;
  FcSetting setting;

  if (!fc_settings_lookup (option_name + 2, &setting))
    g_return_val_if_reached (FALSE);
  return fc_settings_set (&options->given, setting, option_name, value, error);
}

/* The one setting whose option is its negation: `http` is on by default. */
static gboolean
on_no_http_option (const char  *option_name,
                   const char  *value,
                   gpointer     data,
                   GError     **error)
{
  Options *options = data;

  return fc_settings_set (&options->given, FC_SETTING_HTTP, option_name, "false", error);
}

#define SETTING_OPTION(name, description, arg) \
  { name, 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) on_setting_option, description, arg }
#define SETTING_FLAG(name, description) \
  { name, 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_setting_option, description, NULL }

static gboolean
parse_options (Options   *options,
               int       *argc,
               char    ***argv,
               GError   **error)
{
  const GOptionEntry entries[] = {
    SETTING_OPTION ("host", N_("Address or host name to listen on (default: localhost, IPv4 and IPv6)"), N_("ADDR")),
    SETTING_OPTION ("port", N_("TCP port (default: 3030; 0 picks a free one and prints it)"), N_("N")),
    SETTING_OPTION ("cache-size", N_("Memory cache capacity, in bytes or with a K, M or G suffix (default: 64M; 0 disables)"), N_("SIZE")),
    SETTING_OPTION ("max-entry-size", N_("Largest file kept in the cache, larger ones are streamed (default and most: the capacity or a quarter of memory, whichever is smaller)"), N_("SIZE")),
    SETTING_OPTION ("max-clients", N_("Most connections served at once (default: 10000)"), N_("N")),
    SETTING_OPTION ("threads", N_("Worker threads that serve the connections (default: one per processor)"), N_("N")),
    SETTING_OPTION ("request-timeout", N_("Seconds to finish a request line once begun (default: 10)"), N_("S")),
    SETTING_OPTION ("idle-timeout", N_("Seconds an idle connection is kept (default: 60)"), N_("S")),
    SETTING_OPTION ("send-timeout", N_("Seconds a client may read nothing before it is dropped (default: 30)"), N_("S")),
    SETTING_OPTION ("drain-timeout", N_("Seconds a stop lets the requests received be answered before it cuts them (default: 5)"), N_("S")),
    { "no-http", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_no_http_option,
      N_("Do not speak HTTP: every connection speaks the line protocol (key: http = false)"), NULL },
    SETTING_FLAG ("index", N_("Over HTTP, list the entries of a directory asked for with a trailing slash (HTML or JSON)")),
    SETTING_OPTION ("metrics-port", N_("Also listen on port N, on the same addresses, for Prometheus's GET /metrics (default: 0, none)"), N_("N")),
    SETTING_OPTION ("access-log", N_("Log every HTTP request to FILE in the Combined Log Format; SIGHUP opens it again (default: none)"), N_("FILE")),
    SETTING_FLAG ("no-dbus", N_("Do not export the D-Bus control interface")),
    SETTING_FLAG ("system", N_("Use the system bus instead of the session bus")),
    SETTING_FLAG ("verbose", N_("Log every request (debug messages)")),
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &options->config_path,
      N_("Read the settings from FILE; the command line wins over it"), N_("FILE") },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &options->check_config,
      N_("Check the configuration file and the options, then exit"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version,
      N_("Print the version and exit"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->dirs, NULL, N_("[DIR]") },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GOptionGroup) group = g_option_group_new (NULL, NULL, NULL, options, NULL);
  g_autofree char *description =
    g_strdup_printf (_("Every option but --config, --check-config and --version can also be set in %s, in the group [%s], under its name without the dashes (DIR as root). SIGHUP reads the file again."),
                     FC_CONFIG_FILE, FC_SETTINGS_GROUP);

  g_option_context_set_summary (context, _("Serve the files of DIR (default: the current directory) over TCP, with hot files kept in memory."));
  g_option_context_set_description (context, description);
  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_context_set_main_group (context, g_steal_pointer (&group));

  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;

  if (options->dirs != NULL && g_strv_length (options->dirs) > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("Only one directory can be served, got “%s” and “%s”"),
                   options->dirs[0], options->dirs[1]);
      return FALSE;
    }
  if (options->dirs != NULL && options->dirs[0] != NULL)
    return fc_settings_set (&options->given, FC_SETTING_ROOT, "DIR", options->dirs[0], error);

  return TRUE;
}

static void
options_clear (Options *options)
{
  fc_settings_clear (&options->given);
  g_free (options->config_path);
  g_strfreev (options->dirs);
}

static const char *
config_path (const Options *options)
{
  return options->config_path != NULL ? options->config_path : FC_CONFIG_FILE;
}

/* Defaults, then the file, then the command line. Without --config, a
 * missing file means the defaults: a daemon run from a build tree needs
 * none. */
static gboolean
load_settings (const Options  *options,
               FcSettings     *settings,
               GError        **error)
{
  g_autoptr(GError) local_error = NULL;

  fc_settings_init (settings);
  if (!fc_settings_load_file (settings, config_path (options), &local_error) &&
      (options->config_path != NULL ||
       !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      fc_settings_clear (settings);
      return FALSE;
    }
  fc_settings_merge (settings, &options->given);
  return TRUE;
}

/* Descriptors each thread holds for good: a worker its epoll set, its
 * eventfd and its watch of changes (an epoll set and the mount table,
 * watch.c); a bulk sender, one per processor, its epoll set and eventfd. */
#define FD_PER_WORKER 4
#define FD_PER_SENDER 2

/* The limit on open files, its soft value raised to the hard one: a
 * daemon that runs out of descriptors stops accepting altogether. */
static rlim_t
fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return RLIM_INFINITY;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        getrlimit (RLIMIT_NOFILE, &limit);
    }
  return limit.rlim_cur;
}

/* What @threads worker threads (0: one per processor) and the bulk
 * senders hold. */
static rlim_t
thread_fds (guint threads)
{
  guint processors = fc_server_processors ();

  return (rlim_t) FD_PER_WORKER * (threads > 0 ? threads : processors) +
         (rlim_t) FD_PER_SENDER * processors;
}

/* Below what the reserve, one worker and one client hold, the daemon
 * would serve nobody, or die in GLib on its first connection: it says so
 * and does not start. */
static gboolean
check_fd_limit (GError **error)
{
  rlim_t limit = fd_limit ();
  rlim_t least = FD_RESERVE + thread_fds (1) + 2;

  if (limit >= least)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES,
               _("The limit on open files (%lu) is below the %lu that one thread and one client need; "
                 "raise it (ulimit -n, or LimitNOFILE= in the unit)"),
               (unsigned long) limit, (unsigned long) least);
  return FALSE;
}

/* Threads take at most half the descriptors past the reserve, so that
 * a reload raising `threads` cannot leave none for clients (nor for
 * reading the configuration again). */
static guint
fit_threads_to_fd_limit (guint threads)
{
  rlim_t limit = fd_limit ();
  guint processors = fc_server_processors ();
  rlim_t room = limit > FD_RESERVE ? (limit - FD_RESERVE) / 2 : 0;
  rlim_t most = room > thread_fds (1) ? (room - (rlim_t) FD_PER_SENDER * processors) / FD_PER_WORKER : 1;

  if (thread_fds (threads) <= room)
    return threads;
  g_warning (_("threads %u needs more open files than the limit of %lu allows; threads lowered to %lu"),
             threads > 0 ? threads : processors, (unsigned long) limit, (unsigned long) most);
  return (guint) most;
}

/* Serves no more clients than the limit on open files allows beside
 * what @threads hold. The default is lowered without a warning (the
 * "Serving" line says the figure): only a limit the admin @asked for and
 * cannot have is worth one. */
static guint
fit_clients_to_fd_limit (guint    max_clients,
                         gboolean asked,
                         guint    threads)
{
  rlim_t limit = fd_limit ();
  rlim_t reserve = FD_RESERVE + thread_fds (threads);
  rlim_t fit;

  if (limit == RLIM_INFINITY)
    return max_clients;
  fit = limit > reserve + 2 ? (limit - reserve) / 2 : 1;
  if (max_clients <= fit)
    return max_clients;
  if (!asked)
    return (guint) fit;

  g_warning (_("max-clients %u needs more open files than the limit of %lu allows; max-clients lowered to %lu"),
             max_clients, (unsigned long) limit, (unsigned long) fit);
  return (guint) fit;
}

/* The service manager is told, never asked: a failure to tell it is
 * worth a warning, not a stop. */
static void
notify (const char *state)
{
  g_autoptr(GError) error = NULL;

  if (!fc_systemd_notify (state, &error))
    g_warning ("%s", error->message);
}

typedef struct {
  GMainLoop *loop;
  int status;
  const Options *options;
  FcSettings *settings;           /* in force */
  guint max_clients;              /* in force: fitted to the open-file limit */
  guint n_listen_fds;
  FcCache *cache;
  FcServer *server;
  FcDbusControl *control;         /* (nullable) */
  FcMetrics *metrics;             /* (nullable): with --metrics-port */
  guint drain_deadline;           /* a stop drains until this source fires; 0 before a stop */
} Run;

/* Says the daemon is up, once it is: TCP bound and, with D-Bus, the name
 * owned (or the bus found unreachable), so nobody is handed the port of
 * a daemon about to exit for want of its name. */
static void
announce (gpointer user_data)
{
  Run *run = user_data;
  const FcSettings *settings = run->settings;
  guint n_threads = fc_server_get_threads (run->server);
  g_autofree char *clients = NULL;
  g_autofree char *threads = NULL;

  if (settings->port == 0 && run->n_listen_fds == 0)
    {
      /* Machine-readable for whoever asked for any free port. */
      printf ("%u\n", fc_server_get_port (run->server));
      fflush (stdout);
    }

  /* Each count a sentence of its own, so that each takes its plural. */
  clients = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "at most %u client", "at most %u clients",
                                          run->max_clients), run->max_clients);
  threads = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u thread", "%u threads", n_threads),
                             n_threads);
  if (run->n_listen_fds > 0)
    g_message (_("Serving “%s” on the sockets from systemd: %s (cache %" PRIu64 " bytes, %s, %s)"),
               fc_server_get_root (run->server),
               fc_server_get_activated_addresses (run->server), settings->cache_size, clients, threads);
  else
    g_message (_("Serving “%s” on %s port %u (cache %" PRIu64 " bytes, %s, %s)"),
               fc_server_get_root (run->server), settings->host,
               fc_server_get_port (run->server), settings->cache_size, clients, threads);
}

static void
apply_setting (Run              *run,
               FcSetting         setting,
               const FcSettings *next)
{
  switch (setting)
    {
    case FC_SETTING_CACHE_SIZE:
      /* Through D-Bus when exported, so that the Capacity property and
       * its watchers learn of it too. */
      if (run->control != NULL)
        fc_dbus_control_set_capacity (run->control, next->cache_size);
      else
        fc_cache_set_capacity (run->cache, next->cache_size);
      break;
    case FC_SETTING_MAX_ENTRY_SIZE:
      fc_cache_set_max_entry_size (run->cache, next->max_entry_size);
      break;
    case FC_SETTING_MAX_CLIENTS:
      run->max_clients = fit_clients_to_fd_limit (next->max_clients,
                                                  next->given & (1u << FC_SETTING_MAX_CLIENTS),
                                                  fit_threads_to_fd_limit (next->threads));
      fc_server_set_max_clients (run->server, run->max_clients);
      break;
    case FC_SETTING_REQUEST_TIMEOUT:
    case FC_SETTING_IDLE_TIMEOUT:
    case FC_SETTING_SEND_TIMEOUT:
      fc_server_set_timeouts (run->server, next->request_timeout, next->idle_timeout,
                              next->send_timeout);
      break;
    case FC_SETTING_THREADS:
      {
        g_autoptr(GError) error = NULL;

        guint threads = fit_threads_to_fd_limit (next->threads);

        if (!fc_server_set_threads (run->server, threads, &error))
          g_warning (_("Serving with %u worker threads: %s"), fc_server_get_threads (run->server),
                     error->message);
        /* More threads leave fewer descriptors to clients. */
        run->max_clients = fit_clients_to_fd_limit (next->max_clients,
                                                    next->given & (1u << FC_SETTING_MAX_CLIENTS),
                                                    threads);
        fc_server_set_max_clients (run->server, run->max_clients);
      }
      break;
    case FC_SETTING_VERBOSE:
      g_log_set_debug_enabled (next->verbose);
      fc_server_refresh_debug (run->server);
      break;
    case FC_SETTING_DRAIN_TIMEOUT:
      /* Read from the settings in force when a stop begins. */
      break;
    case FC_SETTING_ACCESS_LOG:
      /* Opened on every reload, changed or not: on_reload_signal(). */
      break;
    case FC_SETTING_HTTP:
    case FC_SETTING_INDEX:
      /* New connections pick their dialect by it; open ones keep theirs. */
      fc_server_set_http (run->server, next->http, next->index);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* logrotate renames the file, then sends SIGHUP: the path is opened
 * again whether or not it changed. A file that cannot be opened leaves
 * the one in use, if any: a warning, not a stop. */
static gboolean
reopen_access_log (Run              *run,
                   const FcSettings *next)
{
  g_autoptr(GError) error = NULL;

  if (fc_server_set_access_log (run->server, next->access_log, &error))
    return TRUE;
  g_warning (_("Access log not reopened: %s"), error->message);
  return FALSE;
}

static void
notify_reloading (void)
{
  /* MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match this
   * report to the reload it asked for; older ones ignore it. */
  g_autofree char *state = g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                                            g_get_monotonic_time ());

  notify (state);
}

/* SIGHUP: reads the file again and applies what changed in it (a setting
 * given on the command line still wins). Only changed settings are
 * applied, so a capacity set over D-Bus since lasts until the file's
 * cache-size changes. Connections and transfers go on throughout. */
static gboolean
on_reload_signal (gpointer user_data)
{
  Run *run = user_data;
  g_auto(FcSettings) next = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) applied = g_string_new (NULL);
  g_autoptr(GString) deferred = g_string_new (NULL);
  guint changed;

  /* A stop under way has fixed its deadline and its workers: a reload
   * would only say it changed what no longer moves. */
  if (run->drain_deadline != 0)
    {
      g_message (_("Not reloading: the daemon is stopping"));
      return G_SOURCE_CONTINUE;
    }

  notify_reloading ();
  if (!load_settings (run->options, &next, &error))
    {
      g_warning (_("Not reloading, the settings in force stay: %s"), error->message);
      notify ("READY=1");
      return G_SOURCE_CONTINUE;
    }

  fc_server_reload_mime (run->server);
  fc_server_check_root (run->server, next.root);
  /* A new path that cannot be opened leaves the file in use, so the
   * setting stays as it runs: not said to have changed, and tried again
   * (and said again) at the next reload. */
  if (!reopen_access_log (run, &next))
    fc_settings_copy_one (&next, run->settings, FC_SETTING_ACCESS_LOG);
  changed = fc_settings_diff (run->settings, &next);
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    {
      GString *list;

      if ((changed & (1u << i)) == 0)
        continue;
      list = fc_settings_is_live ((FcSetting) i) ? applied : deferred;
      g_string_append_printf (list, "%s%s", list->len > 0 ? ", " : "", fc_settings_key ((FcSetting) i));
      if (list == applied)
        apply_setting (run, (FcSetting) i, &next);
    }

  if (applied->len > 0)
    g_message (_("Reloaded %s; changed: %s"), config_path (run->options), applied->str);
  else if (deferred->len == 0)
    g_message (_("Reloaded %s; nothing changed"), config_path (run->options));
  if (deferred->len > 0)
    g_warning (_("Changed in %s but applied only on restart: %s"),
               config_path (run->options), deferred->str);

  /* The values in force from now on: the live ones from the file, the
   * others as they run until the restart, so that the next reload tells
   * again what still differs from what runs, and nothing else. */
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    if (!fc_settings_is_live ((FcSetting) i))
      fc_settings_copy_one (&next, run->settings, (FcSetting) i);
  fc_settings_clear (run->settings);
  *run->settings = next;
  next = (FcSettings) { NULL };
  notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

/* What the process exits with if cleaning up after the main loop hangs:
 * async-signal-safe to read. */
static volatile sig_atomic_t exit_status = EXIT_SUCCESS;

static void
on_exit_guard (int signum)
{
  _exit (exit_status);
}

/* Once the main loop is over, the process is gone within this bound
 * whatever a thread is blocked in (a read from a hung NFS server, say):
 * the stop's promise, drain-timeout + 1 s, must not depend on a file. */
static void
arm_exit_guard (int status)
{
  struct sigaction action = { .sa_handler = on_exit_guard };
  const struct itimerval in = { .it_value = { 0, 900 * 1000 } };

  exit_status = status;
  sigaction (SIGALRM, &action, NULL);
  setitimer (ITIMER_REAL, &in, NULL);
}

static void
disarm_exit_guard (void)
{
  const struct itimerval never = { { 0, 0 }, { 0, 0 } };

  setitimer (ITIMER_REAL, &never, NULL);
}

static void
on_drained (gpointer user_data)
{
  Run *run = user_data;

  g_main_loop_quit (run->loop);
}

static gboolean
on_drain_deadline (gpointer user_data)
{
  Run *run = user_data;
  FcServerStats stats;

  fc_server_get_stats (run->server, &stats);
  g_message (_("Drain timeout over: cutting what is left (connections open: %u)"), stats.clients);
  g_main_loop_quit (run->loop);
  return G_SOURCE_CONTINUE;
}

/* The first SIGTERM or SIGINT drains (README, "Stopping"); the second
 * stops at once, cutting what is under way. */
static gboolean
on_stop_signal (gpointer user_data)
{
  Run *run = user_data;
  guint timeout = run->settings->drain_timeout;

  if (run->drain_deadline != 0)
    {
      g_message (_("Stopping at once: replies under way are cut"));
      g_main_loop_quit (run->loop);
      return G_SOURCE_CONTINUE;
    }

  notify ("STOPPING=1");
  g_message (_("Stopping: the requests received are answered for at most %u s"), timeout);
  run->drain_deadline = g_timeout_add (timeout * 1000, on_drain_deadline, run);
  fc_server_drain (run->server, on_drained, run);
  return G_SOURCE_CONTINUE;
}

static void
on_dbus_fatal (const GError *error,
               gpointer      user_data)
{
  Run *run = user_data;

  g_printerr ("filecached: %s\n", error->message);
  run->status = EXIT_FAILURE;
  g_main_loop_quit (run->loop);
}

static int
check_config (const Options *options)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  if (!load_settings (options, &settings, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* What start-up would refuse, a root it cannot serve, is no valid
   * configuration either (nginx -t opens what it will serve too). */
  {
    const FcServerConfig config = { .root = settings.root, .host = settings.host, .max_clients = 1, .threads = 1 };
    g_autoptr(FcCache) cache = fc_cache_new (0);
    g_autoptr(FcServer) server = fc_server_new (&config, cache, &error);

    if (server == NULL)
      {
        g_printerr ("filecached: %s\n", error->message);
        return EXIT_FAILURE;
      }
  }
  if (settings.access_log != NULL && !fc_access_log_check (settings.access_log, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      return EXIT_FAILURE;
    }
  if (settings.metrics_port != 0 && settings.metrics_port == settings.port)
    {
      g_autofree char *why = g_strdup_printf (_("the metrics port %u is also the port files are served on"),
                                              settings.metrics_port);

      g_printerr ("filecached: %s\n", why);
      return EXIT_FAILURE;
    }
  if (g_file_test (config_path (options), G_FILE_TEST_EXISTS))
    g_print (_("%s: the configuration is valid\n"), config_path (options));
  else
    g_print (_("%s does not exist: the defaults and the command line apply\n"), config_path (options));
  return EXIT_SUCCESS;
}

int
main (int   argc,
      char *argv[])
{
  Options options = { { NULL } };
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(FcCache) cache = NULL;
  g_autoptr(FcServer) server = NULL;
  g_autoptr(FcDbusControl) control = NULL;
  g_autoptr(FcMetrics) metrics = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  FcServerConfig config;
  guint threads;
  Run run = { NULL, EXIT_FAILURE };

  fc_i18n_init ();

  /* A peer that vanishes mid-sendfile() must cost an EPIPE, not the process;
   * an access log past a file size limit (LimitFSIZE=, ulimit -f) an
   * EFBIG, warned about, not the process. */
  signal (SIGPIPE, SIG_IGN);
  signal (SIGXFSZ, SIG_IGN);
  fc_file_read_init ();
  /* GLib writes debug messages to stdout, where they would follow the
   * port printed for --port 0: all of the log goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);

  if (!parse_options (&options, &argc, &argv, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      g_printerr (_("Try “filecached --help” for more information.\n"));
      options_clear (&options);
      return EXIT_FAILURE;
    }

  if (options.version)
    {
      g_print ("filecached %s\n", PACKAGE_VERSION);
      options_clear (&options);
      return EXIT_SUCCESS;
    }
  if (options.check_config)
    {
      int status = check_config (&options);

      options_clear (&options);
      return status;
    }

  if (!load_settings (&options, &settings, &error) ||
      !check_fd_limit (&error) ||
      !fc_systemd_take_listen_fds (&run.n_listen_fds, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      options_clear (&options);
      return EXIT_FAILURE;
    }
  if (settings.verbose)
    g_log_set_debug_enabled (TRUE);

  threads = fit_threads_to_fd_limit (settings.threads);
  config = (FcServerConfig) {
    .root = settings.root,
    .host = settings.host,
    .port = (guint16) settings.port,
    .n_listen_fds = run.n_listen_fds,
    .max_clients = fit_clients_to_fd_limit (settings.max_clients,
                                            settings.given & (1u << FC_SETTING_MAX_CLIENTS),
                                            threads),
    .threads = threads,
    .request_timeout = settings.request_timeout,
    .idle_timeout = settings.idle_timeout,
    .send_timeout = settings.send_timeout,
    .http = settings.http,
    .index = settings.index,
  };

  cache = fc_cache_new (settings.cache_size);
  fc_cache_set_max_entry_size (cache, settings.max_entry_size);
  server = fc_server_new (&config, cache, &error);
  if (server == NULL || !fc_server_set_access_log (server, settings.access_log, &error) ||
      !fc_server_start (server, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      goto out;
    }
  if (settings.metrics_port != 0)
    {
      metrics = fc_metrics_new (cache, server);
      if (!fc_metrics_listen (metrics, settings.host, (guint16) settings.metrics_port, &error))
        {
          g_printerr ("filecached: %s\n", error->message);
          goto out;
        }
    }

  /* Before anything is announced: a supervisor may stop or reload us
   * right then. */
  loop = g_main_loop_new (NULL, FALSE);
  run = (Run) { loop, EXIT_SUCCESS, &options, &settings, config.max_clients, run.n_listen_fds,
                cache, server, NULL, metrics, 0 };
  g_unix_signal_add (SIGINT, on_stop_signal, &run);
  g_unix_signal_add (SIGTERM, on_stop_signal, &run);
  g_unix_signal_add (SIGHUP, on_reload_signal, &run);

  /* Ready as soon as TCP is: the bus is an extra that may come later, or
   * never. */
  {
    g_autofree char *status = g_strdup_printf (_("Serving “%s” on port %u"),
                                               fc_server_get_root (server),
                                               fc_server_get_port (server));
    g_autofree char *state = g_strdup_printf ("READY=1\nSTATUS=%s", status);

    notify (state);
  }

  if (settings.no_dbus)
    announce (&run);
  else
    control = run.control = fc_dbus_control_new (cache, server,
                                                 settings.system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION,
                                                 announce, on_dbus_fatal, &run);
  g_main_loop_run (loop);

  /* Drained, out of time, or told twice: what is left is cut now. */
  g_clear_handle_id (&run.drain_deadline, g_source_remove);
  fc_abandon_long_work ();
  arm_exit_guard (run.status);
  g_clear_pointer (&control, fc_dbus_control_free);
  g_clear_pointer (&metrics, fc_metrics_free);
  fc_server_stop (server);
  disarm_exit_guard ();

out:
  options_clear (&options);
  return run.status;
}
