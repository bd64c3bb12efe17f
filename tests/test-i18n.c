/* Messages in the user's language, and readable without a UTF-8 locale:
 * the ASCII stand-ins of src/i18n.c, then both programs run the way an
 * admin's shell or systemd would run them. */
#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <string.h>

#include "i18n.h"

static void
test_plain_punctuation_replaced (void)
{
  g_autofree char *plain =
    fc_i18n_plain_punctuation ("Cannot serve “/srv”: ‘x’ isn’t there… — try again – later", -1);

  g_assert_cmpstr (plain, ==, "Cannot serve \"/srv\": 'x' isn't there... - try again - later");
}

/* What g_format_size() writes between a number and its unit. */
static void
test_plain_punctuation_sizes (void)
{
  g_autofree char *size = g_format_size_full (16 * 1024 * 1024, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *plain = fc_i18n_plain_punctuation (size, -1);
  g_autofree char *narrow = fc_i18n_plain_punctuation ("1\u202fKiB \u00a0", -1);

  g_assert_cmpstr (plain, ==, "16.0 MiB");
  g_assert_cmpstr (narrow, ==, "1 KiB  ");
}

static void
test_plain_punctuation_other_bytes_kept (void)
{
  /* Accents, a Euro sign (also 0xE2 first), bytes that are not UTF-8,
   * and a quote cut short at the end of the text. */
  static const char text[] = "ação € \xff\xfe \xe2\x80";
  g_autofree char *plain = fc_i18n_plain_punctuation (text, -1);

  g_assert_cmpstr (plain, ==, text);
}

static void
test_plain_punctuation_length (void)
{
  /* Only the first quote lies within the length given. */
  g_autofree char *plain = fc_i18n_plain_punctuation ("“a”", 4);

  g_assert_cmpstr (plain, ==, "\"a");
}

/* g_print(), g_printerr() and the log in a process whose locale is C,
 * as under systemd: GLib alone would print each “ ” … as "?". */
static void
test_fallback_c_locale (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("LC_ALL", "C", TRUE);
      fc_i18n_init ();
      g_assert_false (g_get_charset (NULL));
      g_print ("out “%s”…\n", "a");
      g_printerr ("err ‘%s’ ação\n", "b");
      g_message ("log “%s” — done", "c");
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("out \"a\"...\n");
  /* What ASCII cannot show at all stays "?", as before. */
  g_test_trap_assert_stderr ("*err 'b' a??o\n*log \"c\" - done*");
}

/* In a UTF-8 locale nothing is replaced. */
static void
test_fallback_utf8_locale (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("LC_ALL", "C.UTF-8", TRUE);
      fc_i18n_init ();
      g_print ("out “%s”…\n", "a");
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("out “a”…\n");
}

/* Runs @program (an environment variable naming it) with the environment
 * changes @env (`env` arguments, NULL-terminated) and @args; returns its
 * stderr and asserts it failed (a usage error may have its own status). */
static char *
run_failing (const char         *program,
             const char *const  *env,
             const char *const  *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  char *err = NULL;

  g_ptr_array_add (argv, (gpointer) "env");
  for (gsize i = 0; env[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) env[i]);
  g_ptr_array_add (argv, (gpointer) g_getenv (program));
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_assert_cmpint (tu_run ((const char *const *) argv->pdata, 30, &out, &err), >, 0);
  return err;
}

/* No locale at all, as on a minimal install or under systemd. */
static const char *const c_locale[] = {
  "-u", "LANG", "-u", "LANGUAGE", "-u", "LC_MESSAGES", "LC_ALL=C", NULL
};

/* Portuguese asked for through LANGUAGE, which gettext honours in any
 * locale but C; C.UTF-8 is the one locale every Debian has. */
static const char *const pt_br[] = {
  "-u", "LANG", "-u", "LC_MESSAGES", "LC_ALL=C.UTF-8", "LANGUAGE=pt_BR", NULL
};

/* Runs the daemon under @env on a directory that does not exist; returns
 * its stderr and the directory's path. */
static char *
run_daemon_on_missing_dir (const char *const  *env,
                           char              **out_missing)
{
  g_autofree char *base = g_dir_make_tmp ("filecached-i18n-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (base, "missing", NULL);
  const char *const args[] = { "--no-dbus", "--port", "0", "--max-clients", "100", missing, NULL };
  char *err = run_failing ("FILECACHED", env, args);

  tu_rm_rf (base);
  *out_missing = g_steal_pointer (&missing);
  return err;
}

static void
test_daemon_c_locale (void)
{
  g_autofree char *missing = NULL;
  g_autofree char *err = run_daemon_on_missing_dir (c_locale, &missing);
  g_autofree char *expected = g_strdup_printf ("filecached: Cannot serve \"%s\": ", missing);

  g_assert_nonnull (strstr (err, expected));
  g_assert_null (strchr (err, '?'));
}

static void
test_client_c_locale (void)
{
  const char *const args[] = { "nope", NULL };
  g_autofree char *err = run_failing ("FILECACHE", c_locale, args);

  g_assert_cmpstr (err, ==, "filecache: unknown command \"nope\" (see --help)\n");
}

static void
test_daemon_pt_br (void)
{
  g_autofree char *missing = NULL;
  g_autofree char *err = run_daemon_on_missing_dir (pt_br, &missing);
  g_autofree char *expected = g_strdup_printf ("filecached: Não é possível servir “%s”: ", missing);

  g_assert_nonnull (strstr (err, expected));
}

static void
test_client_pt_br (void)
{
  const char *const args[] = { "nope", NULL };
  g_autofree char *err = run_failing ("FILECACHE", pt_br, args);

  g_assert_cmpstr (err, ==, "filecache: comando desconhecido “nope” (veja --help)\n");
}

/* A message with a 64-bit number in it: xgettext cuts a msgid short at
 * G_GUINT64_FORMAT, so that message was never found in the catalog. */
static void
test_client_pt_br_64_bit_number (void)
{
  const char *const args[] = { "ping", "--port", "0", NULL };
  g_autofree char *err = run_failing ("FILECACHE", pt_br, args);

  g_assert_cmpstr (err, ==, "filecache: valor inválido para port, “0”: "
                            "é necessário um número decimal de 1 a 65535\n");
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/i18n/plain-punctuation/replaced", test_plain_punctuation_replaced);
  g_test_add_func ("/i18n/plain-punctuation/sizes", test_plain_punctuation_sizes);
  g_test_add_func ("/i18n/plain-punctuation/other-bytes-kept", test_plain_punctuation_other_bytes_kept);
  g_test_add_func ("/i18n/plain-punctuation/length", test_plain_punctuation_length);
  g_test_add_func ("/i18n/fallback/c-locale", test_fallback_c_locale);
  g_test_add_func ("/i18n/fallback/utf8-locale-untouched", test_fallback_utf8_locale);
  g_test_add_func ("/i18n/daemon/c-locale-ascii-quotes", test_daemon_c_locale);
  g_test_add_func ("/i18n/client/c-locale-ascii-quotes", test_client_c_locale);
  g_test_add_func ("/i18n/daemon/pt-BR", test_daemon_pt_br);
  g_test_add_func ("/i18n/client/pt-BR", test_client_pt_br);
  g_test_add_func ("/i18n/client/pt-BR/64-bit-number", test_client_pt_br_64_bit_number);
  return g_test_run ();
}
