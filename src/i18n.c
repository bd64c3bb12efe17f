#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "i18n.h"

/* The typographic characters our messages (and GLib's) use, and what
 * stands for each in plain ASCII. */
static const struct {
  const char *typographic;
  const char *plain;
} punctuation[] = {
  { "\u201c", "\"" },  /* “ */
  { "\u201d", "\"" },  /* ” */
  { "\u2018", "'" },   /* ‘ */
  { "\u2019", "'" },   /* ’ */
  { "\u2026", "..." }, /* … */
  { "\u2014", "-" },   /* — */
  { "\u2013", "-" },   /* – */
  /* g_format_size() puts one between a number and its unit. */
  { "\u00a0", " " },   /* no-break space */
  { "\u202f", " " },   /* narrow no-break space */
};

/**
 * fc_i18n_plain_punctuation:
 * @text: UTF-8 text (or any bytes: only the sequences below are touched)
 * @length: bytes of @text, or -1 if it is NUL-terminated
 *
 * Replaces curly quotes, the ellipsis, dashes and no-break spaces with
 * their ASCII stand-ins (“ ” → ", ‘ ’ → ', … → ..., — – → -, U+00A0 and
 * U+202F → a space), leaving every other byte as it is.
 *
 * Returns: (transfer full): the plain text
 */
char *
fc_i18n_plain_punctuation (const char *text,
                           gssize      length)
{
  gsize size = length < 0 ? strlen (text) : (gsize) length;
  GString *plain = g_string_sized_new (size);
  const char *end = text + size;

  while (text < end)
    {
      gsize i;

      gsize len = 0;

      /* Every replaced character is two or three bytes, the first 0xC2
       * or 0xE2: a plain byte is passed over at once. */
      for (i = 0; (guchar) *text >= 0xc2 && i < G_N_ELEMENTS (punctuation); i++)
        {
          len = strlen (punctuation[i].typographic);
          if ((gsize) (end - text) >= len && memcmp (text, punctuation[i].typographic, len) == 0)
            break;
        }
      if ((guchar) *text >= 0xc2 && i < G_N_ELEMENTS (punctuation))
        {
          g_string_append (plain, punctuation[i].plain);
          text += len;
        }
      else
        g_string_append_c (plain, *text++);
    }
  return g_string_free (plain, FALSE);
}

/* What GLib's own output does, after the punctuation is made plain:
 * convert to the locale's charset, with "?" for what it cannot show.
 * Bytes that are not UTF-8 (a file name) are written unconverted. */
static void
write_plain (FILE       *stream,
             const char *text)
{
  g_autofree char *plain = fc_i18n_plain_punctuation (text, -1);
  g_autofree char *converted = NULL;
  const char *charset;

  g_get_charset (&charset);
  converted = g_convert_with_fallback (plain, -1, charset, "UTF-8", "?", NULL, NULL, NULL);
  fputs (converted != NULL ? converted : plain, stream);
  fflush (stream);
}

static void
print_plain (const char *text)
{
  write_plain (stdout, text);
}

static void
printerr_plain (const char *text)
{
  write_plain (stderr, text);
}

static GLogWriterOutput
log_plain (GLogLevelFlags   log_level,
           const GLogField *fields,
           gsize            n_fields,
           gpointer         user_data)
{
  g_autofree GLogField *copy = g_memdup2 (fields, n_fields * sizeof *fields);
  g_autofree char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (copy[i].key, "MESSAGE") == 0)
      {
        message = fc_i18n_plain_punctuation (copy[i].value, copy[i].length);
        copy[i].value = message;
        copy[i].length = -1;
        break;
      }
  return g_log_writer_default (log_level, copy, n_fields, user_data);
}

/**
 * fc_i18n_init:
 *
 * Sets the locale from the environment and binds the message catalog:
 * from `$FILECACHED_LOCALEDIR` if set (a build tree's `po/`, for the
 * tests), otherwise from the configured locale directory. Where the
 * locale's charset is not UTF-8 (the C locale, the default on a minimal
 * install and under systemd), g_print(), g_printerr() and the log writer
 * turn typographic quotes and the ellipsis into ASCII, which GLib would
 * otherwise print as "?".
 *
 * Call it first thing in main(), before any output, from the main thread:
 * it sets process-wide handlers, once.
 */
void
fc_i18n_init (void)
{
  const char *localedir = g_getenv ("FILECACHED_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  /* GLib takes every string as UTF-8 and converts on output itself. */
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (g_get_charset (NULL))
    return;
  g_set_print_handler (print_plain);
  g_set_printerr_handler (printerr_plain);
  g_log_set_writer_func (log_plain, NULL, NULL);
}

/**
 * fc_i18n_format_size:
 * @size: a number of bytes
 *
 * Formats @size in IEC units ("16.0 MiB"), as g_format_size_full() does,
 * for a user to read: every size shown goes through here. Where the
 * locale's charset is not UTF-8, the no-break space that GLib puts
 * between the number and the unit becomes a plain space, as output that
 * bypasses g_print() (the stats table, the progress bar's width) would
 * otherwise carry it raw or as "?".
 *
 * Returns: (transfer full): the size, as text
 */
char *
fc_i18n_format_size (guint64 size)
{
  g_autofree char *text = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);

  if (g_get_charset (NULL))
    return g_steal_pointer (&text);
  return fc_i18n_plain_punctuation (text, -1);
}
