#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "conn.h"
#include "control.h"
#include "fetch.h"
#include "i18n.h"
#include "names.h"
#include "stats-format.h"
#include "watch.h"

/* The prefix of every message, as in the usual "program: what: why". */
#define PROGRAM_NAME "filecache"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT 3030
#define DEFAULT_TIMEOUT_S 30

/* The exit statuses: documented in --help (and so in the man page). */
#define EXIT_USAGE 2

typedef struct {
  char *host;        /* (owned) (nullable): NULL for DEFAULT_HOST */
  char *port_text;   /* (owned) (nullable): as given, parsed into port */
  char *timeout_text;  /* (owned) (nullable): as given, parsed into timeout */
  guint16 port;
  guint timeout;     /* seconds */
  char *output_dir;  /* (owned) (nullable): NULL for the current directory */
  gboolean resume;
  gboolean skip_identical;
  gboolean system_bus;
  gboolean dbus;     /* a command that speaks both: over D-Bus */
  gboolean json;
  gboolean prometheus;
  gboolean advise;   /* stats: the capacity advisor's table instead */
  char **args;       /* (owned) (nullable): the operands */
} Options;

static void
options_clear (Options *options)
{
  g_clear_pointer (&options->host, g_free);
  g_clear_pointer (&options->port_text, g_free);
  g_clear_pointer (&options->timeout_text, g_free);
  g_clear_pointer (&options->output_dir, g_free);
  g_clear_pointer (&options->args, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

typedef struct {
  const char *name;
  const char *summary;
  gboolean    takes_names;
  /* The command speaks PROTOCOL.md over TCP, or DBUS.md to the daemon
   * on the bus, or either (TCP unless --dbus or --system). */
  gboolean  (*run)         (FccConn       *conn,
                            const Options *options);
  gboolean  (*run_control) (FccControl    *control,
                            const Options *options);
} Command;

static void
report_failure (const char   *subject,
                const GError *error)
{
  if (subject != NULL)
    g_printerr ("%s: %s: %s\n", PROGRAM_NAME, subject, error->message);
  else
    g_printerr ("%s: %s\n", PROGRAM_NAME, error->message);
}

/* Every name left undone is named, so a script reading stderr knows
 * which files it does not have. */
static void
report_not_fetched (char       **names,
                    const char  *why)
{
  for (; *names != NULL; names++)
    g_printerr (_("%s: %s: not fetched: %s\n"), PROGRAM_NAME, *names, why);
}

/* The end of every --help: the exit statuses, for scripts (and the man
 * page). */
static const char *
exit_status_help (void)
{
  return _("Exit status: 0 if all went well (for get: every NAME was saved or\n"
           "skipped as identical), 1 if the server, the daemon or a file failed,\n"
           "2 for a usage error (an unknown command or option, a bad value, or\n"
           "NAMEs that cannot be saved side by side).");
}

static void
notice_fetch (const char *name,
              const char *message)
{
  g_printerr ("%s: %s: %s\n", PROGRAM_NAME, name, message);
}

static gboolean
run_get (FccConn       *conn,
         const Options *options)
{
  FccFetchOptions fetch_options = {
    .dir = options->output_dir != NULL ? options->output_dir : ".",
    .resume = options->resume,
    .skip_identical = options->skip_identical,
    .notice = notice_fetch,
  };
  g_autoptr(FccFetcher) fetcher = fcc_fetcher_new (conn, &fetch_options);
  gboolean all_fetched = TRUE;

  fcc_fetch_clean_up_on_signals ();
  for (char **name = options->args; *name != NULL; name++)
    {
      g_autoptr(GError) error = NULL;

      switch (fcc_fetcher_get (fetcher, *name, &error))
        {
        case FCC_FETCH_VERIFIED:
          continue;
        case FCC_FETCH_UNVERIFIED:
          g_printerr (_("%s: %s: unverified: the server speaks protocol 1.0 (no STAT), so the content was not checked against a SHA-256\n"),
                      PROGRAM_NAME, *name);
          continue;
        case FCC_FETCH_SKIPPED:
          g_printerr (_("%s: %s: skipped: the local file is identical (same SHA-256)\n"),
                      PROGRAM_NAME, *name);
          continue;
        case FCC_FETCH_FAILED:
          break;
        }

      report_failure (*name, error);
      all_fetched = FALSE;
      /* A local failure (a full disk) left the server sending a body
       * nobody reads: the other names go on over a new connection. */
      if (fcc_conn_owes_body (conn))
        {
          g_autoptr(GError) reopen_error = NULL;

          if (!fcc_conn_reopen (conn, &reopen_error))
            {
              report_not_fetched (name + 1, reopen_error->message);
              break;
            }
        }
      if (!fcc_conn_usable (conn))
        {
          report_not_fetched (name + 1, _("the connection to the server was lost"));
          break;
        }
    }
  return all_fetched;
}

static GString *
list_table_new (void)
{
  GString *table = g_string_new (NULL);

  /* Translators: the column headings of "filecache list", right-aligned
   * in 10 and 6 columns; keep them short. */
  g_string_append_printf (table, "%10s %6s  %s\n", _("SIZE"), _("HITS"), _("NAME"));
  return table;
}

static void
list_table_add (GString    *table,
                const char *size,
                gsize       size_len,
                const char *hits,
                gsize       hits_len,
                const char *name)
{
  g_string_append_printf (table, "%10.*s %6.*s  %s\n",
                          (int) size_len, size, (int) hits_len, hits, name);
}

static GString *
read_list (FccConn  *conn,
           GError  **error)
{
  guint64 count;
  g_autoptr(GString) table = NULL;

  if (!fcc_conn_call_count (conn, "LIST", NULL, &count, error))
    return NULL;

  table = list_table_new ();
  for (guint64 i = 0; i < count; i++)
    {
      g_autofree char *line = fcc_conn_read_line (conn, error);
      const char *hits;
      const char *name;

      if (line == NULL)
        return NULL;

      /* "<size> <hits> <name>": the name may hold spaces, the numbers not. */
      hits = strchr (line, ' ');
      name = hits != NULL ? strchr (hits + 1, ' ') : NULL;
      if (name == NULL || name[1] == '\0' ||
          !fcc_parse_uint (line, hits - line, NULL) ||
          !fcc_parse_uint (hits + 1, name - hits - 1, NULL))
        {
          fcc_conn_set_malformed (conn, line, error);
          return NULL;
        }
      list_table_add (table, line, hits - line, hits + 1, name - hits - 1, name + 1);
    }
  return g_steal_pointer (&table);
}

static GString *
read_list_dbus (FccControl  *control,
                GError     **error)
{
  g_autoptr(GPtrArray) entries = fcc_control_list (control, error);
  g_autoptr(GString) table = NULL;

  if (entries == NULL)
    return NULL;

  table = list_table_new ();
  for (guint i = 0; i < entries->len; i++)
    {
      const FccListEntry *entry = g_ptr_array_index (entries, i);
      g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, entry->size);
      g_autofree char *hits = g_strdup_printf ("%" G_GUINT64_FORMAT, entry->hits);

      list_table_add (table, size, strlen (size), hits, strlen (hits), entry->name);
    }
  return g_steal_pointer (&table);
}

/* Prints all of @table, read to the end first so that a failure prints
 * no half table; or reports @error. */
static gboolean
print_list (GString      *table,
            const GError *error)
{
  if (table == NULL)
    {
      report_failure (NULL, error);
      return FALSE;
    }
  fputs (table->str, stdout);
  return TRUE;
}

static gboolean
run_list (FccConn       *conn,
          const Options *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) table = read_list (conn, &error);

  return print_list (table, error);
}

static gboolean
run_list_dbus (FccControl    *control,
               const Options *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) table = read_list_dbus (control, &error);

  return print_list (table, error);
}

static gboolean
run_ping (FccConn       *conn,
          const Options *options)
{
  g_autoptr(GError) error = NULL;
  const char *answer;
  g_autofree char *line = fcc_conn_call (conn, "PING", NULL, &answer, &error);

  if (line != NULL && strcmp (answer, "PONG") != 0)
    fcc_conn_set_malformed (conn, line, &error);
  if (error != NULL)
    {
      report_failure (NULL, error);
      return FALSE;
    }
  /* The server's word, not a message: scripts may test for it. */
  g_print ("PONG\n");
  return TRUE;
}

static gboolean
run_stats (FccControl    *control,
           const Options *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autofree char *text = NULL;

  if (options->advise)
    {
      if (fcc_advise_print (control, &error))
        return TRUE;
      report_failure (NULL, error);
      return FALSE;
    }
  /* The table shows the root and the port too. */
  if (!options->json && !options->prometheus)
    properties = fcc_control_get_properties (control, &error);
  if (error == NULL)
    stats = fcc_control_get_stats (control, &error);
  if (stats == NULL)
    {
      report_failure (NULL, error);
      return FALSE;
    }

  if (options->json)
    text = fc_stats_format_json (stats);
  else if (options->prometheus)
    text = fc_stats_format_prometheus (stats);
  else
    text = fc_stats_format_text (stats, properties);
  /* UTF-8 as it is, whatever the locale: g_print() would convert it. */
  fputs (text, stdout);
  return TRUE;
}

static gboolean
run_evict (FccControl    *control,
           const Options *options)
{
  gboolean all_answered = TRUE;

  for (char **name = options->args; *name != NULL; name++)
    {
      g_autoptr(GError) error = NULL;
      gboolean evicted;

      if (fcc_control_evict (control, *name, &evicted, &error))
        {
          g_print ("%s: %s\n", *name, evicted ? _("evicted") : _("not cached"));
          continue;
        }

      report_failure (*name, error);
      all_answered = FALSE;
      if (!fcc_control_reachable (control))
        break;
    }
  return all_answered;
}

static gboolean
run_clear (FccControl    *control,
           const Options *options)
{
  g_autoptr(GError) error = NULL;
  guint32 count;

  if (!fcc_control_clear (control, &count, &error))
    {
      report_failure (NULL, error);
      return FALSE;
    }
  g_print (ngettext ("%u file dropped", "%u files dropped", count), count);
  g_print ("\n");
  return TRUE;
}

static gboolean
run_watch (FccControl    *control,
           const Options *options)
{
  fcc_watch_run (control);
  return TRUE;
}

static const Command commands[] = {
  { "get", N_("Fetch each NAME into a file under the same relative path"), TRUE, run_get, NULL },
  { "list", N_("Show the files in the server's memory cache"), FALSE, run_list, run_list_dbus },
  { "ping", N_("Check that the server answers"), FALSE, run_ping, NULL },
  { "stats", N_("Show the daemon's counters (over D-Bus)"), FALSE, NULL, run_stats },
  { "evict", N_("Drop each NAME from the daemon's cache (over D-Bus)"), TRUE, NULL, run_evict },
  { "clear", N_("Drop every file from the daemon's cache (over D-Bus)"), FALSE, NULL, run_clear },
  { "watch", N_("Print each file leaving the daemon's cache, until interrupted (over D-Bus)"), FALSE, NULL, run_watch },
};

/* Decimal only, as people write ports and seconds: strtol()'s base 0,
 * which G_OPTION_ARG_INT uses, would read "-p 03030" as octal. */
static gboolean
parse_decimal (const char  *text,
               guint64      max,
               const char  *what,
               guint64     *value,
               GError     **error)
{
  if (g_ascii_string_to_unsigned (text, 10, 1, max, value, NULL))
    return TRUE;
  /* PRIu64, not G_GUINT64_FORMAT: xgettext knows the one, and would cut
   * the message short at the other. */
  /* Translators: the first %s is "port" or "timeout", as the option is
   * named; the second is the value given. */
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("invalid %s “%s”: a decimal number from 1 to %" PRIu64 " is needed"),
               what, text, max);
  return FALSE;
}

static gboolean
parse_command_options (const Command   *command,
                       Options         *options,
                       int             *argc,
                       char          ***argv,
                       GError         **error)
{
  const GOptionEntry connection_entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &options->host,
      N_("Server to connect to (default: localhost)"), N_("HOST") },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &options->port_text,
      N_("TCP port of the server, in decimal (default: 3030)"), N_("PORT") },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &options->timeout_text,
      N_("Seconds to wait for the server at any one step (default: 30)"), N_("S") },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry dbus_choice_entries[] = {
    { "dbus", 0, 0, G_OPTION_ARG_NONE, &options->dbus,
      N_("Ask the daemon over D-Bus instead of TCP"), NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry bus_entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &options->system_bus,
      N_("Talk to the daemon on the system bus (default: the session bus)"), NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry operand_entries[] = {
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &options->args,
      NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry save_entries[] = {
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &options->output_dir,
      N_("Save under DIR, each NAME at its relative path (default: the current directory)"),
      N_("DIR") },
    { "continue", 'c', 0, G_OPTION_ARG_NONE, &options->resume,
      N_("Keep a cut download as .NAME.part and resume it next time"), NULL },
    { "skip-identical", 0, 0, G_OPTION_ARG_NONE, &options->skip_identical,
      N_("Leave a local file that already has the server's SHA-256"), NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry stats_entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &options->json,
      N_("Print the counters as one JSON object"), NULL },
    { "prometheus", 0, 0, G_OPTION_ARG_NONE, &options->prometheus,
      N_("Print the counters in Prometheus's text format (for node_exporter's textfile collector)"),
      NULL },
    { "advise", 0, 0, G_OPTION_ARG_NONE, &options->advise,
      N_("Show the hit ratio at 1/4 to 8 times the capacity, and the misses by cause"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *prgname = NULL;
  guint64 value;

  /* GOptionContext translates these strings itself, when it shows them. */
  context = g_option_context_new (command->takes_names ? N_("NAME…") : NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, command->summary);
  g_option_context_set_description (context, exit_status_help ());
  if (command->run != NULL)
    g_option_context_add_main_entries (context, connection_entries, NULL);
  if (command->run != NULL && command->run_control != NULL)
    g_option_context_add_main_entries (context, dbus_choice_entries, NULL);
  if (command->run_control != NULL)
    g_option_context_add_main_entries (context, bus_entries, NULL);
  g_option_context_add_main_entries (context, operand_entries, NULL);
  /* The names a TCP command takes are files to fetch, and so to save. */
  if (command->run != NULL && command->takes_names)
    g_option_context_add_main_entries (context, save_entries, NULL);
  if (command->run_control == run_stats)
    g_option_context_add_main_entries (context, stats_entries, NULL);

  /* So that --help shows "Usage: filecache get [OPTION…] NAME…". */
  prgname = g_strdup_printf ("%s %s", g_get_prgname (), command->name);
  g_set_prgname (prgname);

  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;

  if (options->port_text != NULL)
    {
      if (!parse_decimal (options->port_text, G_MAXUINT16, "port", &value, error))
        return FALSE;
      options->port = value;
    }
  if (options->timeout_text != NULL)
    {
      if (!parse_decimal (options->timeout_text, G_MAXUINT, "timeout", &value, error))
        return FALSE;
      options->timeout = value;
    }
  if (options->json && options->prometheus)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--json and --prometheus exclude each other"));
      return FALSE;
    }
  if (options->advise && (options->json || options->prometheus))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--advise prints a table only: not with --json or --prometheus"));
      return FALSE;
    }
  if (command->takes_names && options->args == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("no NAME given"));
      return FALSE;
    }
  if (!command->takes_names && options->args != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("unexpected argument “%s”"), options->args[0]);
      return FALSE;
    }
  /* Refused before anything is fetched, not found out halfway. */
  if (command->run == run_get)
    return fcc_fetch_check_names ((const char *const *) options->args, error);
  /* A name the protocol refuses is a usage error for evict as for get. */
  if (command->run_control == run_evict)
    for (char **name = options->args; *name != NULL; name++)
      if (!fc_name_validate (*name, strlen (*name), error))
        {
          g_prefix_error (error, "%s: ", *name);
          return FALSE;
        }
  return TRUE;
}

static const Command *
parse_command_line (int     *argc,
                    char  ***argv,
                    GError **error)
{
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      N_("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GString) description = g_string_new (_("Commands:"));

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (description, "\n  %-6s %s", commands[i].name, _(commands[i].summary));
  g_string_append_printf (description, "\n\n%s\n\n%s",
                          _("Run “filecache COMMAND --help” for the options of a command."),
                          exit_status_help ());

  context = g_option_context_new (N_("COMMAND [ARGUMENT…]"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, N_("Fetch files from a filecached server, or steer its cache."));
  g_option_context_set_description (context, description->str);
  g_option_context_add_main_entries (context, entries, NULL);
  /* The command's own options come after it and are not ours to parse. */
  g_option_context_set_strict_posix (context, TRUE);

  if (!g_option_context_parse (context, argc, argv, error))
    return NULL;

  if (version)
    {
      g_print ("%s %s\n", PROGRAM_NAME, PACKAGE_VERSION);
      exit (EXIT_SUCCESS);
    }

  if (*argc < 2)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("no command given (see --help)"));
      return NULL;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp ((*argv)[1], commands[i].name) == 0)
      return &commands[i];

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               _("unknown command “%s” (see --help)"), (*argv)[1]);
  return NULL;
}

static gboolean
run_command (const Command *command,
             const Options *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FccConn) conn = NULL;
  g_autoptr(FccControl) control = NULL;

  if (command->run != NULL && (command->run_control == NULL || !(options->dbus || options->system_bus)))
    {
      conn = fcc_conn_open (options->host != NULL ? options->host : DEFAULT_HOST,
                            options->port, options->timeout, &error);
      if (conn == NULL)
        {
          if (command->run == run_get)
            report_not_fetched (options->args, error->message);
          else
            report_failure (NULL, error);
          return FALSE;
        }
      return command->run (conn, options);
    }

  control = fcc_control_open (options->system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION,
                              &error);
  if (control == NULL)
    {
      report_failure (NULL, error);
      return FALSE;
    }
  return command->run_control (control, options);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_auto(Options) options = { .port = DEFAULT_PORT, .timeout = DEFAULT_TIMEOUT_S };
  const Command *command;
  int command_argc;
  char **command_argv;
  gboolean ok;

  fc_i18n_init ();

  command = parse_command_line (&argc, &argv, &error);
  if (command == NULL)
    {
      report_failure (NULL, error);
      return EXIT_USAGE;
    }

  /* Parse from the command word on, as if it were the program name. */
  command_argc = argc - 1;
  command_argv = argv + 1;
  if (!parse_command_options (command, &options, &command_argc, &command_argv, &error))
    {
      report_failure (NULL, error);
      return EXIT_USAGE;
    }

  ok = run_command (command, &options);
  if (fflush (stdout) != 0)
    {
      int saved_errno = errno;

      g_printerr ("%s: %s: %s\n", PROGRAM_NAME, _("cannot write the output"), g_strerror (saved_errno));
      ok = FALSE;
    }
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
