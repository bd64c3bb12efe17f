/* The progress bar of `filecache get`, as a pure function: what it shows
 * and that it fits the terminal. */
#define G_LOG_DOMAIN "test"

#include <locale.h>
#include <string.h>

#include "progress.h"

#define MIB (1024 * 1024)
#define S(n) ((gint64) (n) * G_USEC_PER_SEC)

/* (transfer full): @line with GLib's no-break spaces ("1.5 MiB") as plain
 * ones, to compare with the text the tests write. */
static char *
plain (const char *line)
{
  g_autoptr(GString) text = g_string_new (line);

  g_string_replace (text, "\u00a0", " ", 0);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
assert_contains (const char *line, const char *part)
{
  g_autofree char *text = plain (line);

  if (strstr (text, part) == NULL)
    g_error ("“%s” not in “%s”", part, text);
}

static void
assert_lacks (const char *line, const char *part)
{
  g_autofree char *text = plain (line);

  if (strstr (text, part) != NULL)
    g_error ("“%s” in “%s”", part, text);
}

/* Whatever the width, the name, the sizes and the time: fewer columns
 * than the terminal has (a character in the last column wraps on some
 * terminals), and never a line break, so that "\r" redraws in place. */
static void
test_fits_width (void)
{
  static const char *const labels[] = {
    "a",
    "docs/readme.txt",
    "a/very/long/path/to/some/file/with/a/long/name/that/goes/on/and/on.tar.gz",
    "資料/とても長いファイル名のファイルです.txt",
    "cafe\xcc\x81/re\xcc\x81sume\xcc\x81.txt",  /* combining accents */
  };
  static const struct { guint64 done, total, resumed; gint64 elapsed; } cases[] = {
    { 0, 5 * MIB, 0, 0 },
    { 3 * MIB / 2, 5 * MIB, 0, S (1) },
    { 5 * MIB, 5 * MIB, MIB, S (3) },
    { G_GUINT64_CONSTANT (1) << 40, G_GUINT64_CONSTANT (3) << 42, 0, S (1) },
    { 2 * MIB, 900ull * 1024 * MIB, 0, S (7200) },  /* an ETA in days */
  };

  for (gsize l = 0; l < G_N_ELEMENTS (labels); l++)
    for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
      for (guint width = 0; width <= 200; width++)
        {
          g_autofree char *line = fcc_progress_format (labels[l], cases[c].done, cases[c].total,
                                                       cases[c].resumed, cases[c].elapsed,
                                                       width);

          g_assert_true (g_utf8_validate (line, -1, NULL));
          g_assert_null (strpbrk (line, "\r\n"));
          if (width > 0)
            g_assert_cmpuint (fcc_progress_text_width (line), <, width);
          else
            g_assert_cmpstr (line, ==, "");
          /* Once there is room for it, the percentage always shows. */
          if (width > 5)
            g_assert_nonnull (strchr (line, '%'));
        }
}

/* On a wide terminal all is told, the bar included; as it narrows the bar
 * goes first, the name is cut, then the rate and the sizes go. */
static void
test_narrowing (void)
{
  const char *label = "some/fairly/long/name/of/a/file.iso";
  g_autofree char *wide = fcc_progress_format (label, 2 * MIB, 4 * MIB, 0, S (1), 120);
  g_autofree char *no_bar = fcc_progress_format (label, 2 * MIB, 4 * MIB, 0, S (1), 85);
  g_autofree char *cut = fcc_progress_format (label, 2 * MIB, 4 * MIB, 0, S (1), 70);
  g_autofree char *narrow = fcc_progress_format (label, 2 * MIB, 4 * MIB, 0, S (1), 30);

  g_test_message ("120: %s\n85: %s\n70: %s\n30: %s", wide, no_bar, cut, narrow);
  assert_contains (wide, label);
  assert_contains (wide, "[##########");
  assert_contains (wide, " 50%");
  assert_contains (wide, "2.0 MiB / 4.0 MiB");
  assert_contains (wide, "2.0 MiB/s");
  assert_contains (wide, "ETA 0:01");

  assert_contains (no_bar, label);
  assert_lacks (no_bar, "[");
  assert_contains (no_bar, "2.0 MiB/s");

  assert_lacks (cut, label);
  assert_contains (cut, "some/fairly");
  assert_contains (cut, "2.0 MiB/s");

  assert_lacks (narrow, "MiB/s");
  assert_contains (narrow, " 50%");
}

/* Sizes in IEC units (KiB, MiB, GiB: powers of 1024), never bare bytes
 * past a KiB. */
static void
test_iec_units (void)
{
  g_autofree char *kib = fcc_progress_format ("f", 1536, 3 * 1024, 0, 0, 200);
  g_autofree char *gib = fcc_progress_format ("f", 3ull << 29, 3ull << 30, 0, 0, 200);

  assert_contains (kib, "1.5 KiB / 3.0 KiB");
  assert_contains (gib, "1.5 GiB / 3.0 GiB");
  assert_lacks (gib, "bytes");
}

/* The rate is this transfer's average; the time left follows from it. */
static void
test_rate_and_eta (void)
{
  g_autofree char *start = fcc_progress_format ("f", 0, 100 * MIB, 0, 0, 200);
  g_autofree char *minutes = fcc_progress_format ("f", 10 * MIB, 100 * MIB, 0, S (4), 200);
  g_autofree char *hours = fcc_progress_format ("f", MIB, 8000ull * MIB, 0, S (1), 200);
  g_autofree char *done = fcc_progress_format ("f", 100 * MIB, 100 * MIB, 0, S (10), 200);

  /* Nothing received yet: no rate, no guess. */
  assert_contains (start, "--/s");
  assert_contains (start, "ETA --:--");
  /* 2.5 MiB/s, 90 MiB to go: 36 s. */
  assert_contains (minutes, "2.5 MiB/s");
  assert_contains (minutes, "ETA 0:36");
  /* 1 MiB/s, 7999 MiB to go: 2 h 13 min 19 s. */
  assert_contains (hours, "1.0 MiB/s");
  assert_contains (hours, "ETA 2:13:19");
  assert_contains (done, "100%");
  assert_contains (done, "ETA 0:00");
}

/* Resumed bytes count as done, but not towards the rate: a resumed
 * transfer does not claim to have received them just now. */
static void
test_resumed (void)
{
  g_autofree char *at_start = fcc_progress_format ("f", 50 * MIB, 100 * MIB, 50 * MIB, 0, 200);
  g_autofree char *later = fcc_progress_format ("f", 60 * MIB, 100 * MIB, 50 * MIB, S (2), 200);

  assert_contains (at_start, " 50%");
  assert_contains (at_start, "50.0 MiB / 100.0 MiB");
  assert_contains (at_start, "--/s");
  assert_contains (later, " 60%");
  /* 10 MiB in 2 s, not 60. */
  assert_contains (later, "5.0 MiB/s");
  assert_contains (later, "ETA 0:08");
}

/* A wide character takes two columns, a combining one none. */
static void
test_text_width (void)
{
  g_assert_cmpuint (fcc_progress_text_width ("abc"), ==, 3);
  g_assert_cmpuint (fcc_progress_text_width ("資料"), ==, 4);
  g_assert_cmpuint (fcc_progress_text_width ("e\xcc\x81"), ==, 1);
  g_assert_cmpuint (fcc_progress_text_width (""), ==, 0);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/progress/format/fits-width", test_fits_width);
  g_test_add_func ("/progress/format/narrowing-order", test_narrowing);
  g_test_add_func ("/progress/format/iec-units", test_iec_units);
  g_test_add_func ("/progress/format/rate-and-eta", test_rate_and_eta);
  g_test_add_func ("/progress/format/resumed-counts-as-done", test_resumed);
  g_test_add_func ("/progress/text-width", test_text_width);

  return g_test_run ();
}
