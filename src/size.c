#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "size.h"

/**
 * fc_size_parse:
 * @text: a byte count, optionally followed by K, M or G (powers of 1024)
 * @size: (out): the parsed size in bytes
 * @error: set with %G_OPTION_ERROR_BAD_VALUE on failure
 *
 * Returns: %TRUE if @text is a valid size that fits in 64 bits
 */
gboolean
fc_size_parse (const char  *text,
               guint64     *size,
               GError     **error)
{
  guint64 value = 0;
  guint shift = 0;
  const char *p = text;

  if (!g_ascii_isdigit (*p))
    goto bad;

  for (; g_ascii_isdigit (*p); p++)
    {
      guint digit = (guint) (*p - '0');

      if (value > (G_MAXUINT64 - digit) / 10)
        goto bad;
      value = value * 10 + digit;
    }

  switch (g_ascii_toupper (*p))
    {
    case '\0': break;
    case 'K': shift = 10; p++; break;
    case 'M': shift = 20; p++; break;
    case 'G': shift = 30; p++; break;
    default: goto bad;
    }

  if (*p != '\0' || (shift > 0 && value > (G_MAXUINT64 >> shift)))
    goto bad;

  *size = value << shift;
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("Invalid size “%s”: expected a byte count with an optional K, M or G suffix"),
               text);
  return FALSE;
}
