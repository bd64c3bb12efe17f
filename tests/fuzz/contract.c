#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fz_fail (const char *file,
         int         line,
         const char *cond,
         const char *format,
         ...)
{
  va_list args;

  fprintf (stderr, "%s:%d: contract broken: %s: ", file, line, cond);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

/* RFC 3629, table 3-7 of Unicode: the well-formed byte sequences.
 * Returns the length of the one at @s, or 0. */
static gsize
utf8_sequence (const guint8 *s,
               gsize         len)
{
  guint8 lo = 0x80, hi = 0xbf;
  gsize n;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4;
  else
    return 0;

  if (s[0] == 0xe0)
    lo = 0xa0;
  else if (s[0] == 0xed)
    hi = 0x9f;
  else if (s[0] == 0xf0)
    lo = 0x90;
  else if (s[0] == 0xf4)
    hi = 0x8f;

  if (len < n || s[1] < lo || s[1] > hi)
    return 0;
  for (gsize i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

/* "valid UTF-8, 1 to 4000 bytes, components separated by single `/`; no
 * leading or trailing `/`, no empty component, no component `.` or `..`;
 * no byte below 0x20, and no 0x7F." */
gboolean
fz_name_ok (const guint8 *name,
            gsize         len)
{
  gsize start = 0;

  if (len < 1 || len > 4000)
    return FALSE;

  for (gsize i = 0; i < len;)
    {
      gsize n = utf8_sequence (name + i, len - i);

      if (n == 0 || name[i] < 0x20 || name[i] == 0x7f)
        return FALSE;
      i += n;
    }

  for (gsize i = 0; i <= len; i++)
    if (i == len || name[i] == '/')
      {
        gsize clen = i - start;

        if (clen == 0 ||
            (clen == 1 && name[start] == '.') ||
            (clen == 2 && name[start] == '.' && name[start + 1] == '.'))
          return FALSE;
        start = i + 1;
      }
  return TRUE;
}

static gboolean
line_is (const guint8 *line,
         gsize         len,
         const char   *text)
{
  return len == strlen (text) && memcmp (line, text, len) == 0;
}

static gboolean
line_starts (const guint8 *line,
             gsize         len,
             const char   *prefix)
{
  return len >= strlen (prefix) && memcmp (line, prefix, strlen (prefix)) == 0;
}

/* @line: without its LF. Sets @name for FZ_EXPECT_GET. */
FzExpect
fz_expect_line (const guint8  *line,
                gsize          len,
                const guint8 **name,
                gsize         *name_len)
{
  /* "A CR right before the LF is ignored": one, not two. */
  if (len > 0 && line[len - 1] == '\r')
    len--;

  if (line_is (line, len, "LIST"))
    return FZ_EXPECT_LIST;
  if (line_is (line, len, "PING"))
    return FZ_EXPECT_PING;
  if (line_is (line, len, "QUIT"))
    return FZ_EXPECT_QUIT;
  if (line_starts (line, len, "STAT ") || line_starts (line, len, "GETFROM "))
    return FZ_EXPECT_V1_1;
  if (!line_starts (line, len, "GET "))
    return FZ_EXPECT_BAD;

  /* "everything after `GET ` up to the line end, spaces included" */
  *name = line + 4;
  *name_len = len - 4;
  return fz_name_ok (*name, *name_len) ? FZ_EXPECT_GET : FZ_EXPECT_BAD;
}

/* "unsigned decimal ASCII with no sign and no leading zeros" */
gboolean
fz_number_ok (const char *text,
              gsize       len,
              guint64    *value)
{
  guint64 v = 0;

  if (len == 0 || (len > 1 && text[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] < '0' || text[i] > '9' || v > (G_MAXUINT64 - (guint64) (text[i] - '0')) / 10)
        return FALSE;
      v = v * 10 + (guint64) (text[i] - '0');
    }
  *value = v;
  return TRUE;
}
