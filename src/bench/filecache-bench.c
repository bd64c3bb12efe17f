/* filecache-bench: a load generator for filecached (PROTOCOL.md) and, with
 * --http, for any HTTP/1.1 server, so that both can be loaded the same way.
 * This file parses options, runs one mode and reports; the connections
 * are load.c's, the checking of replies wire.c's. */

#define G_LOG_DOMAIN "filecache-bench"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "hist.h"
#include "load.h"
#include "probe.h"
#include "wire.h"
#include "zipf.h"

#define PROGRAM_NAME "filecache-bench"
#define RECV_SIZE_DEFAULT (256 * 1024)
/* How long a held mode waits for all its connections to settle (a server
 * that stops accepting leaves connect()s in SYN retries for minutes). */
#define SETTLE_TIMEOUT_S 60
#define NS_PER_S 1000000000.0

typedef struct {
  char *host;               /* (owned) (nullable): NULL for 127.0.0.1 */
  int port;
  int connections;
  int threads;
  double duration;
  char **names;             /* (owned) (nullable) */
  char *names_file;         /* (owned) (nullable) */
  double zipf;
  int pipeline;
  int recv_size;
  gboolean http;
  char *command;            /* (owned) (nullable): GET, STAT or PING; NULL for GET */
  double interval;          /* seconds between a connection's requests; 0: back to back */
  gboolean new_connection;
  gboolean idle;
  gboolean unread;
  int slowloris;
  int reconnecting;
  int probes;
  double probe_timeout;
} Options;

static void
options_clear (Options *options)
{
  g_clear_pointer (&options->host, g_free);
  g_clear_pointer (&options->command, g_free);
  g_clear_pointer (&options->names, g_strfreev);
  g_clear_pointer (&options->names_file, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

typedef struct {
  double seconds;           /* wall time */
  double cpu;               /* user + system over wall time: 1.0 is one core */
} Usage;

static const char *const mode_names[] = {
  [FCB_MODE_KEEP_ALIVE] = "keep-alive",
  [FCB_MODE_NEW_CONNECTION] = "new-connection",
  [FCB_MODE_IDLE] = "idle",
  [FCB_MODE_UNREAD] = "unread",
  [FCB_MODE_SLOWLORIS] = "slowloris",
};

static G_NORETURN void
usage_error (GOptionContext *context,
             const char     *message)
{
  char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("%s: %s\n\n%s", PROGRAM_NAME, message, help);
  /* exit() unwinds no autofree, and LeakSanitizer would count it. */
  g_free (help);
  exit (2);
}

/* Thousands of connections need more descriptors than the usual soft
 * limit of 1024; the hard limit is ours to take. */
static void
raise_fd_limit (guint wanted)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < (rlim_t) wanted + 64)
    g_printerr (_("%s: %u connections need more descriptors than the limit of %lu allows\n"),
                PROGRAM_NAME, wanted, (unsigned long) limit.rlim_cur);
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6 +
         (double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
}

static gboolean
resolve (const char               *host,
         int                       port,
         struct sockaddr_storage  *addr,
         socklen_t                *addr_len,
         GError                  **error)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
  struct addrinfo *res = NULL;
  char service[16];
  int rc;

  g_snprintf (service, sizeof service, "%d", port);
  rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   _("cannot resolve %s: %s"), host, gai_strerror (rc));
      return FALSE;
    }
  memcpy (addr, res->ai_addr, res->ai_addrlen);
  *addr_len = res->ai_addrlen;
  freeaddrinfo (res);
  return TRUE;
}

/* (transfer full): -n names, then the file's lines (empty ones skipped). */
static GStrv
collect_names (const Options  *options,
               GError        **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (options->names != NULL)
    g_strv_builder_addv (builder, (const char **) options->names);
  if (options->names_file != NULL)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      if (!g_file_get_contents (options->names_file, &text, NULL, error))
        return NULL;
      lines = g_strsplit (text, "\n", -1);
      for (char **line = lines; *line != NULL; line++)
        {
          gsize len = strlen (*line);

          if (len > 0 && (*line)[len - 1] == '\r')
            (*line)[len - 1] = '\0';
          if (**line != '\0')
            g_strv_builder_add (builder, *line);
        }
    }
  return g_strv_builder_end (builder);
}

static void
format_us (char    *buffer,
           gsize    size,
           guint64  ns)
{
  g_snprintf (buffer, size, "%.1f", (double) ns / 1000.0);
}

static int
report_load (const Options       *options,
             const FcbLoadConfig *config,
             const FcbLoadTotals *totals,
             const Usage         *usage)
{
  const FcbHist *hist = &totals->latency_ns;
  const char *host = options->host != NULL ? options->host : "127.0.0.1";
  double rps = (double) totals->requests / usage->seconds;
  double mbps = (double) totals->body_bytes / usage->seconds / 1e6;
  char p50[32] = "-", p90[32] = "-", p99[32] = "-", p999[32] = "-", mean[32] = "-", max[32] = "-";
  char conn_p99[32] = "-";
  const char *command = fcb_command_name (config->command);

  if (hist->total > 0)
    {
      format_us (p50, sizeof p50, fcb_hist_percentile (hist, 0.50));
      format_us (p90, sizeof p90, fcb_hist_percentile (hist, 0.90));
      format_us (p99, sizeof p99, fcb_hist_percentile (hist, 0.99));
      format_us (p999, sizeof p999, fcb_hist_percentile (hist, 0.999));
      format_us (mean, sizeof mean, hist->sum / hist->total);
      format_us (max, sizeof max, hist->max);
      if (config->interval_ns > 0)
        format_us (conn_p99, sizeof conn_p99, totals->conn_p99_max_ns);
    }

  printf (_("%s: %s port %d, %s, %s, %d connections, %u threads, pipeline %u, %.1f s\n"),
          PROGRAM_NAME, host, options->port, config->http ? "HTTP/1.1" : _("filecached protocol"),
          mode_names[config->mode], options->connections, config->threads, config->pipeline, usage->seconds);
  printf (_("  requests   %" PRIu64 " (%.1f/s)\n"), totals->requests, rps);
  printf (_("  body       %.1f MB (%.2f MB/s)\n"), (double) totals->body_bytes / 1e6, mbps);
  printf (_("  errors     %" PRIu64 " (reconnects %" PRIu64 ")\n"),
          totals->errors, totals->reconnects);
  if (config->mode == FCB_MODE_KEEP_ALIVE)
    printf (_("  retried    %" PRIu64 " (sent again: the server closed before any byte of the reply)\n"),
            totals->retried);
  if (config->interval_ns > 0)
    printf (_("  paced      %s every %.1f ms per connection, timed from when due;"
              " %" PRIu64 " owed at the end, counted with their age then;"
              " the worst connection's p99 %s us\n"),
            command, (double) config->interval_ns / 1e6, totals->unanswered, conn_p99);
  if (hist->total > 0)
    printf (_("  latency us p50 %s  p90 %s  p99 %s  p99.9 %s  mean %s  max %s\n"),
            p50, p90, p99, p999, mean, max);
  else if (config->pipeline > 1)
    printf (_("  latency    not measured with more than one request in flight\n"));
  printf (_("  cpu        %.2f of one core\n"), usage->cpu);
  /* For scripts: never translated, keys never renamed. */
  printf ("%s: mode=%s protocol=%s requests=%" G_GUINT64_FORMAT " seconds=%.3f rps=%.1f mbps=%.2f"
          " errors=%" G_GUINT64_FORMAT " reconnects=%" G_GUINT64_FORMAT
          " p50_us=%s p99_us=%s p999_us=%s cpu=%.3f connections=%d threads=%u pipeline=%u"
          " command=%s max_us=%s interval_us=%.0f unanswered=%" G_GUINT64_FORMAT
          " rx_bytes=%" G_GUINT64_FORMAT " conn_p99_max_us=%s retried=%" G_GUINT64_FORMAT "\n",
          PROGRAM_NAME, mode_names[config->mode], config->http ? "http" : "filecached",
          totals->requests, usage->seconds, rps, mbps, totals->errors, totals->reconnects,
          p50, p99, p999, usage->cpu, options->connections, config->threads, config->pipeline,
          command, max, (double) config->interval_ns / 1e3, totals->unanswered,
          totals->received_bytes, conn_p99, totals->retried);

  if (totals->requests == 0 && totals->errors == 0)
    g_printerr (_("%s: no reply arrived within the run\n"), PROGRAM_NAME);
  return totals->errors == 0 && totals->requests > 0 ? 0 : 1;
}

static int
report_held (const Options       *options,
             const FcbLoadConfig *config,
             const FcbLoadTotals *totals,
             const Usage         *usage)
{
  const char *host = options->host != NULL ? options->host : "127.0.0.1";

  printf (_("%s: %s port %d, %s, %s, %d connections held %.1f s\n"),
          PROGRAM_NAME, host, options->port, config->http ? "HTTP/1.1" : _("filecached protocol"),
          mode_names[config->mode], options->connections, options->duration);
  printf (_("  open       %" PRIu64 " at the end (dropped by the server %" PRIu64 ")\n"),
          totals->open, totals->dropped);
  printf (_("  errors     %" PRIu64 "\n"), totals->errors);
  printf (_("  cpu        %.2f of one core\n"), usage->cpu);
  printf ("%s: mode=%s protocol=%s connections=%d open=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
          " errors=%" G_GUINT64_FORMAT " seconds=%.3f cpu=%.3f threads=%u\n",
          PROGRAM_NAME, mode_names[config->mode], config->http ? "http" : "filecached",
          options->connections, totals->open, totals->dropped, totals->errors,
          usage->seconds, usage->cpu, config->threads);
  return totals->errors == 0 && totals->dropped == 0 ? 0 : 1;
}

/* Holds the connections once they are settled, for the duration; prints
 * a `ready` line first, for a script to measure the server while held. */
static void
hold (FcbLoad       *load,
      const Options *options,
      FcbMode        mode)
{
  gboolean all = fcb_load_wait_settled (load, fcb_now_ns () + (gint64) SETTLE_TIMEOUT_S * 1000000000);

  printf ("%s: ready mode=%s connections=%d settled=%s\n", PROGRAM_NAME, mode_names[mode],
          options->connections, all ? "all" : "partly");
  fflush (stdout);
  g_usleep ((gulong) (options->duration * G_USEC_PER_SEC));
}

static int
run_slowloris (FcbLoad             *load,
               const Options       *options,
               const FcbLoadConfig *config,
               gint64               start_ns)
{
  g_autofree FcbHist *hist = g_new0 (FcbHist, 1);
  g_autofree FcbLoadTotals *totals = g_new0 (FcbLoadTotals, 1);
  guint ok = 0, failed = 0;
  double cpu_start = cpu_seconds ();
  gint64 probes_start_ns;
  Usage usage;
  char p50[32] = "-", max[32] = "-";

  if (!fcb_load_wait_settled (load, fcb_now_ns () + (gint64) SETTLE_TIMEOUT_S * 1000000000))
    g_printerr (_("%s: not every stalled connection was open after %d s; probing anyway\n"),
                PROGRAM_NAME, SETTLE_TIMEOUT_S);
  printf ("%s: ready mode=slowloris connections=%u\n", PROGRAM_NAME, config->connections + config->reconnecting);
  fflush (stdout);

  /* Spread over the duration, so that the probes meet the attack at every stage. */
  probes_start_ns = fcb_now_ns ();
  for (int i = 0; i < options->probes; i++)
    {
      g_autoptr(GError) error = NULL;
      guint r = (guint) i % config->n_requests;
      gint64 at = probes_start_ns + (gint64) (options->duration * NS_PER_S * i / options->probes);
      gint64 begun;
      guint64 size;

      while (fcb_now_ns () < at)
        g_usleep ((gulong) MAX ((at - fcb_now_ns ()) / 1000, 1));
      begun = fcb_now_ns ();
      if (fcb_probe_get ((const struct sockaddr *) &config->addr, config->addr_len,
                         config->requests[r], config->request_lens[r], config->http,
                         begun + (gint64) (options->probe_timeout * NS_PER_S), &size, &error))
        {
          ok++;
          fcb_hist_add (hist, (guint64) (fcb_now_ns () - begun));
        }
      else if (failed++ < 10)
        g_printerr (_("%s: probe %d: %s\n"), PROGRAM_NAME, i, error->message);
    }

  fcb_load_stop (load);
  fcb_load_join (load, totals);
  usage.seconds = (double) (fcb_now_ns () - start_ns) / NS_PER_S;
  usage.cpu = (cpu_seconds () - cpu_start) / usage.seconds;
  if (hist->total > 0)
    {
      format_us (p50, sizeof p50, fcb_hist_percentile (hist, 0.5));
      format_us (max, sizeof max, hist->max);
    }

  printf (_("%s: %s port %d, %s, slowloris: %u stalled and %u reconnecting connections, %d probes over %.1f s\n"),
          PROGRAM_NAME, options->host != NULL ? options->host : "127.0.0.1", options->port,
          config->http ? "HTTP/1.1" : _("filecached protocol"),
          config->connections, config->reconnecting, options->probes, options->duration);
  printf (_("  probes     %u of %d got the file within %.1f s (us: p50 %s, max %s)\n"),
          ok, options->probes, options->probe_timeout, p50, max);
  printf (_("  stalled    open at the end %" PRIu64 ", dropped %" PRIu64
            ", reconnects %" PRIu64 ", failed %" PRIu64 "\n"),
          totals->open, totals->dropped, totals->reconnects, totals->errors);
  printf (_("  cpu        %.2f of one core\n"), usage.cpu);
  printf ("%s: mode=slowloris protocol=%s slowloris=%u reconnecting=%u probes=%d probe_ok=%u"
          " probe_p50_us=%s probe_max_us=%s open=%" G_GUINT64_FORMAT " dropped=%" G_GUINT64_FORMAT
          " reconnects=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT " seconds=%.3f cpu=%.3f\n",
          PROGRAM_NAME, config->http ? "http" : "filecached", config->connections, config->reconnecting,
          options->probes, ok, p50, max, totals->open, totals->dropped, totals->reconnects,
          totals->errors, usage.seconds, usage.cpu);
  return ok == (guint) options->probes ? 0 : 1;
}

static FcbMode
choose_mode (GOptionContext *context,
             const Options  *options)
{
  guint chosen = 0;
  FcbMode mode = FCB_MODE_KEEP_ALIVE;

  if (options->new_connection)
    chosen++, mode = FCB_MODE_NEW_CONNECTION;
  if (options->idle)
    chosen++, mode = FCB_MODE_IDLE;
  if (options->unread)
    chosen++, mode = FCB_MODE_UNREAD;
  if (options->slowloris > 0 || options->reconnecting > 0)
    chosen++, mode = FCB_MODE_SLOWLORIS;
  if (chosen > 1)
    usage_error (context, _("--new-connection, --idle, --unread and --slowloris/--reconnecting exclude each other"));
  return mode;
}

static FcbCommand
choose_command (GOptionContext *context,
                const Options  *options,
                FcbMode         mode)
{
  FcbCommand command = FCB_COMMAND_GET;

  if (options->command != NULL && !fcb_command_parse (options->command, &command))
    usage_error (context, _("the command must be GET, STAT or PING"));
  if (command != FCB_COMMAND_GET && options->http)
    usage_error (context, _("--http sends GET only"));
  /* The probes fetch a file; half a PING line is no attack worth measuring. */
  if (command != FCB_COMMAND_GET && mode == FCB_MODE_SLOWLORIS)
    usage_error (context, _("--slowloris sends GET only"));
  if (command == FCB_COMMAND_PING && (options->names != NULL || options->names_file != NULL))
    usage_error (context, _("PING takes no name"));
  return command;
}

static void
check_options (GOptionContext *context,
               const Options  *options,
               FcbMode         mode)
{
  if (options->port < 1 || options->port > 65535)
    usage_error (context, _("the port must be 1 to 65535"));
  if (options->connections < 1 || options->connections > 1000000)
    usage_error (context, _("connections must be 1 to 1000000"));
  if (options->threads < 1 || options->threads > 1024)
    usage_error (context, _("threads must be 1 to 1024"));
  if (options->pipeline < 1 || options->pipeline > 1024)
    usage_error (context, _("pipeline must be 1 to 1024"));
  if (options->pipeline > 1 && mode != FCB_MODE_KEEP_ALIVE)
    usage_error (context, _("--pipeline needs keep-alive connections"));
  if (!(options->interval >= 0.0 && options->interval <= 3600.0))
    usage_error (context, _("the interval must be 0 to 3600 seconds"));
  if (options->interval > 0.0 && (mode != FCB_MODE_KEEP_ALIVE || options->pipeline > 1))
    usage_error (context, _("--interval needs keep-alive connections with one request in flight"));
  if (options->recv_size < 64 || options->recv_size > 64 * 1024 * 1024)
    usage_error (context, _("the recv size must be 64 bytes to 64 MiB"));
  if (!(options->duration > 0.0 && options->duration <= 86400.0))
    usage_error (context, _("the duration must be more than 0 and at most 86400 seconds"));
  if (!(options->zipf >= 0.0 && options->zipf <= 100.0))
    usage_error (context, _("the Zipf exponent must be 0 to 100"));
  if (options->slowloris < 0 || options->reconnecting < 0 ||
      options->slowloris > 1000000 || options->reconnecting > 1000000)
    usage_error (context, _("--slowloris and --reconnecting must be 0 to 1000000"));
  if (options->probes < 1 || options->probes > 1000000)
    usage_error (context, _("probes must be 1 to 1000000"));
  if (!(options->probe_timeout > 0.0 && options->probe_timeout <= 3600.0))
    usage_error (context, _("the probe timeout must be more than 0 and at most 3600 seconds"));
}

int
main (int   argc,
      char *argv[])
{
  g_auto(Options) options = {
    .port = 3030, .connections = 32, .threads = 2, .duration = 10.0, .pipeline = 1,
    .recv_size = RECV_SIZE_DEFAULT, .probes = 100, .probe_timeout = 1.0,
  };
  GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &options.host, N_("Server address or name (default: 127.0.0.1)"), N_("HOST") },
    { "port", 'p', 0, G_OPTION_ARG_INT, &options.port, N_("Server port (default: 3030)"), N_("PORT") },
    { "http", 0, 0, G_OPTION_ARG_NONE, &options.http, N_("Speak HTTP/1.1 (GET /NAME, keep-alive) instead of the filecached protocol"), NULL },
    { "connections", 'c', 0, G_OPTION_ARG_INT, &options.connections, N_("Connections at once (default: 32)"), N_("N") },
    { "threads", 't', 0, G_OPTION_ARG_INT, &options.threads, N_("Threads sharing the connections (default: 2)"), N_("N") },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options.duration,
      N_("Seconds to run; to hold the connections with --idle or --unread; to spread the probes over with --slowloris (default: 10)"), N_("S") },
    { "name", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &options.names, N_("A file to GET; repeat for several"), N_("NAME") },
    { "names-file", 'f', 0, G_OPTION_ARG_FILENAME, &options.names_file, N_("Read more names from FILE, one a line, most popular first"), N_("FILE") },
    { "zipf", 0, 0, G_OPTION_ARG_DOUBLE, &options.zipf,
      N_("Choose names by a Zipf law of exponent S, the first most often (default: 0, uniform)"), N_("S") },
    { "pipeline", 0, 0, G_OPTION_ARG_INT, &options.pipeline, N_("Requests in flight per keep-alive connection (default: 1)"), N_("N") },
    { "command", 0, 0, G_OPTION_ARG_STRING, &options.command,
      N_("What each request asks: GET, STAT (size and SHA-256, no body) or PING (no name) (default: GET)"), N_("CMD") },
    { "interval", 0, 0, G_OPTION_ARG_DOUBLE, &options.interval,
      N_("Keep-alive: send each connection's requests S seconds apart and time them from when due,"
         " so that a stalled server counts in full (default: 0, back to back)"), N_("S") },
    { "new-connection", 0, 0, G_OPTION_ARG_NONE, &options.new_connection,
      N_("One request per connection, closed with a reset once the reply is read"), NULL },
    { "idle", 0, 0, G_OPTION_ARG_NONE, &options.idle, N_("One request per connection, then hold it idle"), NULL },
    { "unread", 0, 0, G_OPTION_ARG_NONE, &options.unread, N_("One request per connection, and never read the reply"), NULL },
    { "slowloris", 0, 0, G_OPTION_ARG_INT, &options.slowloris,
      N_("Connections that send half a request line and stall, while probes fetch the first name"), N_("N") },
    { "reconnecting", 0, 0, G_OPTION_ARG_INT, &options.reconnecting,
      N_("With --slowloris: connections that stall as well, and connect again as soon as they are dropped"), N_("N") },
    { "probes", 0, 0, G_OPTION_ARG_INT, &options.probes, N_("With --slowloris: requests on fresh connections (default: 100)"), N_("N") },
    { "probe-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.probe_timeout,
      N_("With --slowloris: seconds a probe may take, connection included (default: 1)"), N_("S") },
    { "recv-size", 0, 0, G_OPTION_ARG_INT, &options.recv_size, N_("Bytes read per recv() (default: 262144)"), N_("BYTES") },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(FcbZipf) chooser = NULL;
  g_autoptr(FcbLoad) load = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) requests = NULL;
  g_autofree gsize *request_lens = NULL;
  g_autofree FcbLoadTotals *totals = NULL;
  FcbLoadConfig config = { 0 };
  guint n_names;
  gint64 start_ns;
  double cpu_start;
  Usage usage;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context,
                                _("Loads a filecached daemon, or with --http an HTTP server, for a fixed time and\n"
                                  "reports requests/s, MB/s of body (1 MB = 10^6 bytes), errors, latency\n"
                                  "percentiles and its own CPU use. Every reply is checked. The last line of\n"
                                  "output is KEY=VALUE pairs for scripts."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    usage_error (context, error->message);
  if (argc > 1)
    usage_error (context, _("unexpected argument"));

  config.mode = choose_mode (context, &options);
  check_options (context, &options, config.mode);
  config.command = choose_command (context, &options, config.mode);
  /* PING names nothing: one empty name, for one request to pick. */
  names = config.command == FCB_COMMAND_PING ? g_strdupv ((char *[]) { "", NULL }) : collect_names (&options, &error);
  if (names == NULL)
    {
      g_printerr ("%s: %s\n", PROGRAM_NAME, error->message);
      return 1;
    }
  n_names = g_strv_length (names);
  if (n_names == 0)
    usage_error (context, _("at least one name is needed (-n NAME or --names-file FILE)"));

  if (!resolve (options.host != NULL ? options.host : "127.0.0.1", options.port,
                &config.addr, &config.addr_len, &error))
    {
      g_printerr ("%s: %s\n", PROGRAM_NAME, error->message);
      return 1;
    }

  requests = g_new0 (char *, n_names + 1);
  request_lens = g_new0 (gsize, n_names);
  for (guint i = 0; i < n_names; i++)
    requests[i] = fcb_wire_request (config.command, names[i], options.http,
                                    options.host != NULL ? options.host : "127.0.0.1", &request_lens[i]);
  chooser = fcb_zipf_new (n_names, options.zipf);

  config.http = options.http;
  config.requests = requests;
  config.request_lens = request_lens;
  config.n_requests = n_names;
  config.chooser = chooser;
  config.pipeline = (guint) options.pipeline;
  config.interval_ns = (gint64) (options.interval * NS_PER_S);
  config.recv_size = (gsize) options.recv_size;
  config.threads = (guint) options.threads;
  if (config.mode == FCB_MODE_SLOWLORIS)
    {
      config.connections = (guint) options.slowloris;
      config.reconnecting = (guint) options.reconnecting;
    }
  else
    config.connections = (guint) options.connections;
  config.threads = MIN (config.threads, MAX (config.connections + config.reconnecting, 1));

  signal (SIGPIPE, SIG_IGN);
  raise_fd_limit (config.connections + config.reconnecting);

  load = fcb_load_new (&config, &error);
  if (load == NULL)
    {
      g_printerr (_("%s: %s port %d: %s\n"), PROGRAM_NAME,
                  options.host != NULL ? options.host : "127.0.0.1", options.port, error->message);
      return 1;
    }

  cpu_start = cpu_seconds ();
  start_ns = fcb_now_ns ();
  totals = g_new0 (FcbLoadTotals, 1);
  switch (config.mode)
    {
    case FCB_MODE_KEEP_ALIVE:
    case FCB_MODE_NEW_CONNECTION:
      fcb_load_start (load, start_ns + (gint64) (options.duration * NS_PER_S));
      fcb_load_join (load, totals);
      /* Only replies completed before the deadline were counted. */
      usage.seconds = options.duration;
      usage.cpu = (cpu_seconds () - cpu_start) / ((double) (fcb_now_ns () - start_ns) / NS_PER_S);
      status = report_load (&options, &config, totals, &usage);
      break;
    case FCB_MODE_IDLE:
    case FCB_MODE_UNREAD:
      fcb_load_start (load, G_MAXINT64);
      hold (load, &options, config.mode);
      fcb_load_stop (load);
      fcb_load_join (load, totals);
      usage.seconds = (double) (fcb_now_ns () - start_ns) / NS_PER_S;
      usage.cpu = (cpu_seconds () - cpu_start) / usage.seconds;
      status = report_held (&options, &config, totals, &usage);
      break;
    case FCB_MODE_SLOWLORIS:
      fcb_load_start (load, G_MAXINT64);
      status = run_slowloris (load, &options, &config, start_ns);
      break;
    default:
      g_assert_not_reached ();
    }

  return status;
}
