#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "json.h"

/**
 * fc_json_append_string:
 * @out: where the JSON goes
 * @text: valid UTF-8, NUL-terminated
 *
 * Appends @text as a JSON string (RFC 8259 7): in quotes, with the quote,
 * the backslash and the control characters (DEL too) escaped, the rest
 * as is, since @text is valid UTF-8 already. For `filecache stats --json`
 * and the HTTP directory index. Any thread.
 */
void
fc_json_append_string (GString    *out,
                       const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}
