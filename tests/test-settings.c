#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "settings.h"

static gboolean
load (FcSettings  *settings,
      const char  *text,
      GError     **error)
{
  return fc_settings_load_data (settings, text, strlen (text), "/etc/x.conf", error);
}

/* Every key, in the file, with a value other than its default. */
static void
test_file_every_key (void)
{
  static const char text[] =
    "# comment\n"
    "[filecached]\n"
    "root = /srv/files\n"
    "host=::1\n"
    "port = 8080\n"
    "cache-size = 2M\n"
    "max-entry-size = 512K\n"
    "max-clients = 50\n"
    "threads = 3\n"
    "request-timeout = 4\n"
    "idle-timeout = 5\n"
    "send-timeout = 6\n"
    "drain-timeout = 7\n"
    "http = false\n"
    "index = true\n"
    "metrics-port = 9100\n"
    "access-log = /var/log/filecached/access.log\n"
    "no-dbus = true\n"
    "system = true\n"
    "verbose = 1\n";
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  g_assert_true (load (&settings, text, &error));
  g_assert_no_error (error);

  g_assert_cmpstr (settings.root, ==, "/srv/files");
  g_assert_cmpstr (settings.host, ==, "::1");
  g_assert_cmpuint (settings.port, ==, 8080);
  g_assert_cmpuint (settings.cache_size, ==, 2 << 20);
  g_assert_false (settings.http);
  g_assert_true (settings.index);
  g_assert_cmpuint (settings.metrics_port, ==, 9100);
  g_assert_cmpstr (settings.access_log, ==, "/var/log/filecached/access.log");
  g_assert_cmpuint (settings.max_entry_size, ==, 512 << 10);
  g_assert_cmpuint (settings.max_clients, ==, 50);
  g_assert_cmpuint (settings.threads, ==, 3);
  g_assert_cmpuint (settings.request_timeout, ==, 4);
  g_assert_cmpuint (settings.idle_timeout, ==, 5);
  g_assert_cmpuint (settings.send_timeout, ==, 6);
  g_assert_cmpuint (settings.drain_timeout, ==, 7);
  g_assert_true (settings.no_dbus);
  g_assert_true (settings.system_bus);
  g_assert_true (settings.verbose);
  g_assert_cmpuint (settings.given, ==, (1u << FC_N_SETTINGS) - 1);
}

static void
test_file_empty_keeps_defaults (void)
{
  g_auto(FcSettings) defaults = { NULL };
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&defaults);
  fc_settings_init (&settings);
  g_assert_true (load (&settings, "# nothing set\n[filecached]\n", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fc_settings_diff (&defaults, &settings), ==, 0);
  g_assert_cmpuint (settings.given, ==, 0);
  g_assert_cmpstr (settings.root, ==, ".");
  g_assert_cmpuint (settings.port, ==, 3030);
  g_assert_cmpuint (settings.cache_size, ==, 64 << 20);
  g_assert_cmpuint (settings.max_entry_size, ==, G_MAXUINT64);
  g_assert_cmpuint (settings.drain_timeout, ==, 5);
}

/* 0 is a stop without draining; a reload applies a new value. */
static void
test_drain_timeout (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_auto(FcSettings) next = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  fc_settings_init (&next);
  g_assert_true (fc_settings_set (&settings, FC_SETTING_DRAIN_TIMEOUT, "--drain-timeout", "0", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (settings.drain_timeout, ==, 0);
  g_assert_true (load (&next, "[filecached]\ndrain-timeout = 3600\n", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (next.drain_timeout, ==, 3600);
  g_assert_cmpuint (fc_settings_diff (&settings, &next), ==, 1u << FC_SETTING_DRAIN_TIMEOUT);
  g_assert_true (fc_settings_is_live (FC_SETTING_DRAIN_TIMEOUT));
}

/* GKeyFile's escapes, as every GKeyFile reader knows them. */
static void
test_file_string_escapes (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  g_assert_true (load (&settings, "[filecached]\nroot=\\s/srv/with\\\\slash\n", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (settings.root, ==, " /srv/with\\slash");
}

/* Each bad line: the message names the file, the line and the key, and
 * shows the value refused. */
static void
test_file_bad_value (void)
{
  static const struct {
    const char *line;
    const char *key;
    const char *value;
  } bad[] = {
    { "port = 65536", "port", "65536" },
    { "port = -1", "port", "-1" },
    { "port = 0x10", "port", "0x10" },
    { "max-clients = 0", "max-clients", "0" },
    { "threads = 1025", "threads", "1025" },
    { "request-timeout = 0", "request-timeout", "0" },
    { "idle-timeout = 1.5", "idle-timeout", "1.5" },
    { "send-timeout = soon", "send-timeout", "soon" },
    { "drain-timeout = 3601", "drain-timeout", "3601" },
    { "drain-timeout = -1", "drain-timeout", "-1" },
    { "cache-size = 64Q", "cache-size", "64Q" },
    { "max-entry-size = big", "max-entry-size", "big" },
    { "no-dbus = yes", "no-dbus", "yes" },
    { "system = on", "system", "on" },
    { "verbose = TRUE", "verbose", "TRUE" },
    { "root =", "root", NULL },
    { "host = ", "host", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *good = strcmp (bad[i].key, "port") != 0 ? "port = 1" : "threads = 2";
      g_autofree char *text = g_strdup_printf ("# a comment\n[filecached]\n%s\n%s\n\n", good, bad[i].line);
      g_autofree char *where = g_strdup_printf ("/etc/x.conf:4: %s ", bad[i].key);
      g_auto(FcSettings) settings = { NULL };
      g_auto(FcSettings) defaults = { NULL };
      g_autoptr(GError) error = NULL;

      fc_settings_init (&settings);
      fc_settings_init (&defaults);
      g_assert_false (load (&settings, text, &error));
      g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, where));
      if (bad[i].value != NULL)
        g_assert_nonnull (strstr (error->message, bad[i].value));
      /* Nothing of a refused file is applied, not even its good lines. */
      g_assert_cmpuint (fc_settings_diff (&defaults, &settings), ==, 0);
      g_assert_cmpuint (settings.given, ==, 0);
    }
}

static void
test_file_unknown_key (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  g_assert_false (load (&settings, "[filecached]\nport = 1\n\ncahce-size = 1M\n", &error));
  g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_UNKNOWN_KEY);
  g_assert_true (g_str_has_prefix (error->message, "/etc/x.conf:4: "));
  g_assert_nonnull (strstr (error->message, "cahce-size"));
  g_clear_error (&error);

  /* A translated key is no key either, not one silently dropped. */
  g_assert_false (load (&settings, "[filecached]\nthreads[de] = x\n", &error));
  g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_UNKNOWN_KEY);
  g_assert_nonnull (strstr (error->message, "threads[de]"));
}

/* What only the command line says is no setting. */
static void
test_file_meta_options_are_not_keys (void)
{
  static const char *const keys[] = { "config", "check-config", "version", "help", "dir" };

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *text = g_strdup_printf ("[filecached]\n%s = 1\n", keys[i]);
      g_auto(FcSettings) settings = { NULL };
      g_autoptr(GError) error = NULL;

      fc_settings_init (&settings);
      g_assert_false (load (&settings, text, &error));
      g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_UNKNOWN_KEY);
    }
}

static void
test_file_unknown_group (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  g_assert_false (load (&settings, "[filecached]\nport = 1\n[daemon]\nport = 2\n", &error));
  g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_UNKNOWN_GROUP);
  g_assert_true (g_str_has_prefix (error->message, "/etc/x.conf:3: "));
  g_assert_nonnull (strstr (error->message, "[daemon]"));
}

static void
test_file_syntax (void)
{
  static const char *const bad[] = {
    "port = 1\n",                          /* before any group */
    "[filecached]\njust some words\n",
    "[filecached\nport = 1\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto(FcSettings) settings = { NULL };
      g_autoptr(GError) error = NULL;

      fc_settings_init (&settings);
      g_assert_false (load (&settings, bad[i], &error));
      g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_SYNTAX);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, "/etc/x.conf: "));
    }
}

/* GKeyFile keeps the last of two lines giving one key: so does the line
 * number reported for it. */
static void
test_file_duplicate_key_last_wins (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&settings);
  g_assert_true (load (&settings, "[filecached]\nport = 1\nport = 2\n", &error));
  g_assert_cmpuint (settings.port, ==, 2);
  g_assert_false (load (&settings, "[filecached]\nport = 1\nport = x\n", &error));
  g_assert_true (g_str_has_prefix (error->message, "/etc/x.conf:3: port "));
}

static void
test_file_missing (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-settings-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "none.conf", NULL);

  fc_settings_init (&settings);
  g_assert_false (fc_settings_load_file (&settings, path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, path));
  g_rmdir (dir);
}

static void
test_file_read_from_disk (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-settings-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "f.conf", NULL);

  g_assert_true (g_file_set_contents (path, "[filecached]\nport = 7\nthreads = many\n", -1, NULL));
  fc_settings_init (&settings);
  g_assert_false (fc_settings_load_file (&settings, path, &error));
  g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, ":3: threads"));
  g_unlink (path);
  g_rmdir (dir);
}

/* Options as main.c gives them: the label is the option as typed. */
static void
test_command_line_values (void)
{
  g_auto(FcSettings) given = { NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (fc_settings_set (&given, FC_SETTING_NO_DBUS, "--no-dbus", NULL, &error));
  g_assert_true (given.no_dbus);
  g_assert_true (fc_settings_set (&given, FC_SETTING_CACHE_SIZE, "--cache-size", "1G", &error));
  g_assert_cmpuint (given.cache_size, ==, 1 << 30);
  g_assert_cmpuint (given.given, ==, (1u << FC_SETTING_NO_DBUS) | (1u << FC_SETTING_CACHE_SIZE));

  g_assert_false (fc_settings_set (&given, FC_SETTING_PORT, "--port", "010x", &error));
  g_assert_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "--port takes a whole number from 0 to 65535"));
  g_assert_false (given.given & (1u << FC_SETTING_PORT));
}

/* Defaults, then the file, then the command line: what the command line
 * gives wins, what it does not give comes from the file. */
static void
test_merge_command_line_wins (void)
{
  g_auto(FcSettings) settings = { NULL };
  g_auto(FcSettings) given = { NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (fc_settings_set (&given, FC_SETTING_PORT, "--port", "9000", &error));
  g_assert_true (fc_settings_set (&given, FC_SETTING_ROOT, "DIR", "/cli", &error));

  fc_settings_init (&settings);
  g_assert_true (load (&settings, "[filecached]\nport = 8000\nroot = /file\nthreads = 7\n", &error));
  fc_settings_merge (&settings, &given);

  g_assert_cmpuint (settings.port, ==, 9000);
  g_assert_cmpstr (settings.root, ==, "/cli");
  g_assert_cmpuint (settings.threads, ==, 7);
  g_assert_cmpuint (settings.idle_timeout, ==, 60);
}

static void
test_diff (void)
{
  g_auto(FcSettings) a = { NULL };
  g_auto(FcSettings) b = { NULL };
  g_autoptr(GError) error = NULL;

  fc_settings_init (&a);
  fc_settings_init (&b);
  /* Given with the default value: no change. */
  g_assert_true (load (&b, "[filecached]\nport = 3030\nhost = ::1\ncache-size = 1M\nverbose = true\n", &error));
  g_assert_cmpuint (fc_settings_diff (&a, &b), ==,
                    (1u << FC_SETTING_HOST) | (1u << FC_SETTING_CACHE_SIZE) | (1u << FC_SETTING_VERBOSE));
}

/* What a reload applies: the cache, the limits, the timeouts and the
 * logging (the access log too), its threads; not where it listens (the
 * metrics port neither), what it serves or its bus. */
static void
test_live (void)
{
  static const FcSetting live[] = {
    FC_SETTING_CACHE_SIZE, FC_SETTING_MAX_ENTRY_SIZE, FC_SETTING_MAX_CLIENTS,
    FC_SETTING_THREADS, FC_SETTING_REQUEST_TIMEOUT, FC_SETTING_IDLE_TIMEOUT,
    FC_SETTING_SEND_TIMEOUT, FC_SETTING_DRAIN_TIMEOUT, FC_SETTING_VERBOSE, FC_SETTING_HTTP,
    FC_SETTING_INDEX, FC_SETTING_ACCESS_LOG,
  };
  guint expected = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (live); i++)
    expected |= 1u << live[i];
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    g_assert_cmpint (fc_settings_is_live ((FcSetting) i), ==, (expected & (1u << i)) != 0);
}

/* Each key is its long option's name, and names one setting. */
static void
test_keys (void)
{
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    {
      FcSetting setting;

      g_assert_true (fc_settings_lookup (fc_settings_key ((FcSetting) i), &setting));
      g_assert_cmpint (setting, ==, i);
    }
  g_assert_cmpstr (fc_settings_key (FC_SETTING_SYSTEM), ==, "system");
  g_assert_cmpstr (fc_settings_key (FC_SETTING_MAX_ENTRY_SIZE), ==, "max-entry-size");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/settings/file/every-key", test_file_every_key);
  g_test_add_func ("/settings/file/empty-keeps-defaults", test_file_empty_keeps_defaults);
  g_test_add_func ("/settings/file/string-escapes", test_file_string_escapes);
  g_test_add_func ("/settings/drain-timeout", test_drain_timeout);
  g_test_add_func ("/settings/file/bad-value-names-line-and-key", test_file_bad_value);
  g_test_add_func ("/settings/file/unknown-key", test_file_unknown_key);
  g_test_add_func ("/settings/file/meta-options-are-not-keys", test_file_meta_options_are_not_keys);
  g_test_add_func ("/settings/file/unknown-group", test_file_unknown_group);
  g_test_add_func ("/settings/file/syntax", test_file_syntax);
  g_test_add_func ("/settings/file/duplicate-key-last-wins", test_file_duplicate_key_last_wins);
  g_test_add_func ("/settings/file/missing", test_file_missing);
  g_test_add_func ("/settings/file/read-from-disk", test_file_read_from_disk);
  g_test_add_func ("/settings/command-line/values", test_command_line_values);
  g_test_add_func ("/settings/merge/command-line-wins", test_merge_command_line_wins);
  g_test_add_func ("/settings/diff", test_diff);
  g_test_add_func ("/settings/live", test_live);
  g_test_add_func ("/settings/keys", test_keys);
  return g_test_run ();
}
