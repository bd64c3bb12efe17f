#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <gio/gio.h>

#include "cache.h"
#include "dbus-control.h"
#include "i18n.h"
#include "notify.h"
#include "server.h"
#include "size.h"

/* Besides a socket and a file per client: listeners, D-Bus, GLib's own
 * descriptors and refused connections being drained. */
#define FD_RESERVE 128

typedef struct {
  char *host;
  guint port;
  guint64 cache_size;
  guint64 max_entry_size;   /* G_MAXUINT64: no limit of its own */
  guint max_clients;
  guint threads;
  guint request_timeout;
  guint idle_timeout;
  guint send_timeout;
  gboolean no_dbus;
  gboolean system_bus;
  gboolean version;
  char **dirs;
} Options;

static gboolean
parse_size (const char  *option_name,
            const char  *value,
            gpointer     data,
            GError     **error)
{
  Options *options = data;
  guint64 *size = strcmp (option_name, "--cache-size") == 0 ? &options->cache_size
                                                            : &options->max_entry_size;

  return fc_size_parse (value, size, error);
}

typedef struct {
  const char *name;
  gsize offset;      /* of the guint in Options */
  guint min;
  guint max;
} NumberOption;

static const NumberOption number_options[] = {
  { "--port", G_STRUCT_OFFSET (Options, port), 0, G_MAXUINT16 },
  { "--max-clients", G_STRUCT_OFFSET (Options, max_clients), 1, 1000000 },
  { "--threads", G_STRUCT_OFFSET (Options, threads), 1, 1024 },
  { "--request-timeout", G_STRUCT_OFFSET (Options, request_timeout), 1, 86400 },
  { "--idle-timeout", G_STRUCT_OFFSET (Options, idle_timeout), 1, 86400 },
  { "--send-timeout", G_STRUCT_OFFSET (Options, send_timeout), 1, 86400 },
};

/* G_OPTION_ARG_INT reads "010" as octal and "0x10" as hex; an admin
 * means decimal. */
static gboolean
parse_number (const char  *option_name,
              const char  *value,
              gpointer     data,
              GError     **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (number_options); i++)
    {
      const NumberOption *option = &number_options[i];
      guint64 number;

      if (strcmp (option_name, option->name) != 0)
        continue;
      if (!g_ascii_string_to_unsigned (value, 10, option->min, option->max, &number, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("%s takes a whole number from %u to %u, not “%s”"),
                       option->name, option->min, option->max, value);
          return FALSE;
        }
      G_STRUCT_MEMBER (guint, data, option->offset) = (guint) number;
      return TRUE;
    }

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_options (Options   *options,
               int       *argc,
               char    ***argv,
               GError   **error)
{
  const GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &options->host,
      N_("Address or host name to listen on (default: localhost, IPv4 and IPv6)"), N_("ADDR") },
    { "port", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("TCP port (default: 3030; 0 picks a free one and prints it)"), N_("N") },
    { "cache-size", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_size,
      N_("Memory cache capacity, in bytes or with a K, M or G suffix (default: 64M; 0 disables)"), N_("SIZE") },
    { "max-entry-size", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_size,
      N_("Largest file kept in the cache, larger ones are streamed (default and most: the capacity or a quarter of memory, whichever is smaller)"), N_("SIZE") },
    { "max-clients", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("Most connections served at once (default: 10000)"), N_("N") },
    { "threads", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("Worker threads that serve the connections (default: twice the processors)"), N_("N") },
    { "request-timeout", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("Seconds to finish a request line once begun (default: 10)"), N_("S") },
    { "idle-timeout", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("Seconds an idle connection is kept (default: 60)"), N_("S") },
    { "send-timeout", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_number,
      N_("Seconds a client may read nothing before it is dropped (default: 30)"), N_("S") },
    { "no-dbus", 0, 0, G_OPTION_ARG_NONE, &options->no_dbus,
      N_("Do not export the D-Bus control interface"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &options->system_bus,
      N_("Use the system bus instead of the session bus"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options->version,
      N_("Print the version and exit"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->dirs, NULL, N_("[DIR]") },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GOptionGroup) group = g_option_group_new (NULL, NULL, NULL, options, NULL);

  g_option_context_set_summary (context, _("Serve the files of DIR (default: the current directory) over TCP, with hot files kept in memory."));
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

  return TRUE;
}

/* Connections served at once when --max-clients is not given. */
#define DEFAULT_MAX_CLIENTS 10000

/* Raises the soft limit on open files to the hard one, and serves no more
 * clients than it then allows: a daemon that runs out of descriptors
 * stops accepting altogether. @max_clients 0 is the default, lowered
 * without a warning (the "Serving" line says the figure): only a limit
 * the admin asked for and cannot have is worth one. */
static guint
fit_clients_to_fd_limit (guint max_clients)
{
  gboolean asked = max_clients != 0;

  struct rlimit limit;
  rlim_t fit;

  if (!asked)
    max_clients = DEFAULT_MAX_CLIENTS;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return max_clients;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        getrlimit (RLIMIT_NOFILE, &limit);
    }

  fit = limit.rlim_cur > FD_RESERVE + 2 ? (limit.rlim_cur - FD_RESERVE) / 2 : 1;
  if (max_clients <= fit)
    return max_clients;
  if (!asked)
    return (guint) fit;

  g_warning (_("--max-clients %u needs more open files than the limit of %lu allows; serving at most %lu clients"),
             max_clients, (unsigned long) limit.rlim_cur, (unsigned long) fit);
  return (guint) fit;
}

typedef struct {
  GMainLoop *loop;
  int status;
  FcServer *server;
  const Options *options;
  const FcServerConfig *config;
} Run;

/* Says the daemon is up, once it is: TCP bound and, with D-Bus, the name
 * owned (or the bus found unreachable), so nobody is handed the port of
 * a daemon about to exit for want of its name. */
static void
announce (gpointer user_data)
{
  Run *run = user_data;

  if (run->options->port == 0)
    {
      /* Machine-readable for whoever asked for any free port. */
      printf ("%u\n", fc_server_get_port (run->server));
      fflush (stdout);
    }

  g_message (_("Serving “%s” on %s port %u (cache %" PRIu64 " bytes, at most %u clients, %u threads)"),
             fc_server_get_root (run->server), run->config->host,
             fc_server_get_port (run->server), run->options->cache_size,
             run->config->max_clients, fc_server_get_threads (run->server));
  fc_notify_ready ();
}

static gboolean
on_stop_signal (gpointer user_data)
{
  Run *run = user_data;

  g_main_loop_quit (run->loop);
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

static void
options_clear (Options *options)
{
  g_free (options->host);
  g_strfreev (options->dirs);
}

int
main (int   argc,
      char *argv[])
{
  Options options = {
    .port = 3030,
    .cache_size = G_GUINT64_CONSTANT (64) << 20,
    .max_entry_size = G_MAXUINT64,
    .request_timeout = 10,
    .idle_timeout = 60,
    .send_timeout = 30,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(FcCache) cache = NULL;
  g_autoptr(FcServer) server = NULL;
  g_autoptr(FcDbusControl) control = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  FcServerConfig config;
  Run run = { NULL, EXIT_FAILURE, NULL, NULL, NULL };

  fc_i18n_init ();

  /* A peer that vanishes mid-sendfile() must cost an EPIPE, not the process. */
  signal (SIGPIPE, SIG_IGN);

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

  config = (FcServerConfig) {
    .root = options.dirs != NULL ? options.dirs[0] : ".",
    .host = options.host != NULL ? options.host : "localhost",
    .port = (guint16) options.port,
    .max_clients = fit_clients_to_fd_limit (options.max_clients),
    .threads = options.threads,
    .request_timeout = options.request_timeout,
    .idle_timeout = options.idle_timeout,
    .send_timeout = options.send_timeout,
  };

  cache = fc_cache_new (options.cache_size);
  fc_cache_set_max_entry_size (cache, options.max_entry_size);
  server = fc_server_new (&config, cache, &error);
  if (server == NULL || !fc_server_start (server, &error))
    {
      g_printerr ("filecached: %s\n", error->message);
      goto out;
    }

  /* Before anything is announced: a supervisor may stop us right then. */
  loop = g_main_loop_new (NULL, FALSE);
  run = (Run) { loop, EXIT_SUCCESS, server, &options, &config };
  g_unix_signal_add (SIGINT, on_stop_signal, &run);
  g_unix_signal_add (SIGTERM, on_stop_signal, &run);

  if (options.no_dbus)
    announce (&run);
  else
    control = fc_dbus_control_new (cache, server,
                                   options.system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION,
                                   announce, on_dbus_fatal, &run);
  g_main_loop_run (loop);

  g_message (_("Stopping"));
  g_clear_pointer (&control, fc_dbus_control_free);
  fc_server_stop (server);

out:
  options_clear (&options);
  return run.status;
}
