#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include "errors.h"
#include "digest.h"
#include "names.h"
#include "protocol.h"

/**
 * fc_request_scan:
 * @buf: bytes received and not yet consumed
 * @len: how many
 * @line_len: (out): with %FC_SCAN_LINE, the first line's length, LF included
 *
 * Finds the end of the first request line in @buf. Only the first
 * %FC_REQUEST_LINE_MAX bytes are searched, so a peer that never sends LF
 * costs a bounded buffer.
 */
FcScan
fc_request_scan (const char *buf,
                 gsize       len,
                 gsize      *line_len)
{
  const char *lf = memchr (buf, '\n', MIN (len, FC_REQUEST_LINE_MAX));

  if (lf != NULL)
    {
      *line_len = (gsize) (lf - buf) + 1;
      return FC_SCAN_LINE;
    }

  return len >= FC_REQUEST_LINE_MAX ? FC_SCAN_TOO_LONG : FC_SCAN_NEED_MORE;
}

static gboolean
word_is (const char *line,
         gsize       len,
         const char *word,
         gsize       word_len)
{
  return len >= word_len && memcmp (line, word, word_len) == 0 &&
         (len == word_len || line[word_len] == ' ');
}

#define WORD_IS(line, len, word) word_is (line, len, word, sizeof (word) - 1)

/* `<offset> <sha256> ` before the name: the number rules of PROTOCOL.md
 * (decimal, no sign, no leading zero), 64 lowercase hex digits. A number
 * too large for 64 bits is still a number, beyond any file's end. */
static gboolean
parse_getfrom (FcRequest  *request,
               GError    **error)
{
  const char *p = request->name;
  const char *end = p + request->name_len;
  guint64 offset = 0;

  if (p == end || !g_ascii_isdigit (*p) || (*p == '0' && p + 1 < end && g_ascii_isdigit (p[1])))
    goto malformed;
  for (; p < end && g_ascii_isdigit (*p); p++)
    {
      guint digit = (guint) (*p - '0');

      offset = offset > (G_MAXUINT64 - digit) / 10 ? G_MAXUINT64 : offset * 10 + digit;
    }
  if (p == end || *p != ' ' || end - (p + 1) < FC_DIGEST_HEX_LEN + 2 ||
      !fc_digest_from_hex (p + 1, request->digest) || p[1 + FC_DIGEST_HEX_LEN] != ' ')
    goto malformed;

  request->offset = offset;
  request->name = p + 1 + FC_DIGEST_HEX_LEN + 1;
  request->name_len = (gsize) (end - request->name);
  return TRUE;

malformed:
  g_set_error_literal (error, FC_ERROR, FC_ERROR_MALFORMED,
                       "GETFROM needs an offset, a SHA-256 and a name");
  return FALSE;
}

/**
 * fc_request_parse:
 * @line: one line as found by fc_request_scan(); modified in place
 * @line_len: its length, LF included
 * @request: (out): the parsed request; its name points into @line. On
 *   failure its command is still set when the command word was known.
 * @error: an %FC_ERROR naming why the line is refused
 *
 * Returns: %TRUE if @line is a well-formed request
 */
gboolean
fc_request_parse (char       *line,
                  gsize       line_len,
                  FcRequest  *request,
                  GError    **error)
{
  gsize len;
  gsize word_len;

  g_return_val_if_fail (line_len > 0 && line[line_len - 1] == '\n', FALSE);

  len = line_len - 1;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  /* The name is handed on as a C string; the LF (or CR) makes room. */
  line[len] = '\0';

  request->command = FC_COMMAND_NONE;
  request->name = NULL;
  request->name_len = 0;
  request->uncounted = FALSE;
  request->http = NULL;

  if (WORD_IS (line, len, "GET"))
    request->command = FC_COMMAND_GET, word_len = 3;
  else if (WORD_IS (line, len, "LIST"))
    request->command = FC_COMMAND_LIST, word_len = 4;
  else if (WORD_IS (line, len, "PING"))
    request->command = FC_COMMAND_PING, word_len = 4;
  else if (WORD_IS (line, len, "QUIT"))
    request->command = FC_COMMAND_QUIT, word_len = 4;
  else if (WORD_IS (line, len, "STAT"))
    request->command = FC_COMMAND_STAT, word_len = 4;
  else if (WORD_IS (line, len, "GETFROM"))
    request->command = FC_COMMAND_GETFROM, word_len = 7;
  else
    {
      if (len == 0)
        g_set_error_literal (error, FC_ERROR, FC_ERROR_MALFORMED,
                             "empty request line");
      else
        g_set_error_literal (error, FC_ERROR, FC_ERROR_UNKNOWN_COMMAND,
                             "unknown command");
      return FALSE;
    }

  switch (request->command)
    {
    case FC_COMMAND_GET:
    case FC_COMMAND_STAT:
    case FC_COMMAND_GETFROM:
      break;
    default:
      if (len == word_len)
        return TRUE;
      g_set_error_literal (error, FC_ERROR, FC_ERROR_UNEXPECTED_ARGUMENT,
                           "command takes no argument");
      return FALSE;
    }

  if (len == word_len)
    {
      g_set_error_literal (error, FC_ERROR, FC_ERROR_MISSING_NAME,
                           "request without a name");
      return FALSE;
    }

  request->name = line + word_len + 1;
  request->name_len = len - word_len - 1;
  if (request->command == FC_COMMAND_GETFROM &&
      !parse_getfrom (request, error))
    return FALSE;
  return fc_name_validate (request->name, request->name_len, error);
}

/**
 * fc_format_uint:
 * @buf: room for at least 20 bytes
 * @value: the number
 *
 * Writes @value in decimal without a terminating NUL; the hot path's
 * replacement for g_snprintf().
 *
 * Returns: the number of bytes written
 */
gsize
fc_format_uint (char    *buf,
                guint64  value)
{
  char digits[20];
  gsize n = 0;

  do
    {
      digits[n++] = (char) ('0' + value % 10);
      value /= 10;
    }
  while (value != 0);

  for (gsize i = 0; i < n; i++)
    buf[i] = digits[n - 1 - i];
  return n;
}

/**
 * fc_format_status:
 * @buf: room for %FC_STATUS_MAX bytes
 * @size: the body size
 *
 * Writes the status line `OK <size>` LF.
 *
 * Returns: the number of bytes written
 */
gsize
fc_format_status (char    *buf,
                  guint64  size)
{
  gsize n;

  memcpy (buf, "OK ", 3);
  n = 3 + fc_format_uint (buf + 3, size);
  buf[n++] = '\n';
  return n;
}

/**
 * fc_format_stat:
 * @buf: room for %FC_STAT_MAX bytes
 * @size: the file's size
 * @digest: its SHA-256
 *
 * Writes the reply to STAT, `OK <size> <sha256>` LF (PROTOCOL.md 1.1).
 *
 * Returns: the number of bytes written
 */
gsize
fc_format_stat (char         *buf,
                guint64       size,
                const guint8  digest[32])
{
  gsize n = fc_format_status (buf, size) - 1;

  buf[n++] = ' ';
  fc_digest_to_hex (digest, buf + n);
  n += FC_DIGEST_HEX_LEN;
  buf[n++] = '\n';
  return n;
}

/**
 * fc_format_list:
 * @entries: (element-type FcCacheInfo): as from fc_cache_list()
 * @buf: (out caller-allocates) (nullable): room for the length a first
 *   call with %NULL returned; %NULL to measure only
 *
 * The whole reply to `LIST` (PROTOCOL.md), measured first so that its
 * memory is charged before it is taken (listing-budget.c).
 *
 * Returns: its length in bytes
 */
gsize
fc_format_list (GArray *entries,
                char   *buf)
{
  char num[20];
  gsize n = 0;

#define PUT(data, len) \
  G_STMT_START { gsize put_len = (len); if (buf != NULL) memcpy (buf + n, (data), put_len); n += put_len; } G_STMT_END

  PUT ("OK ", 3);
  PUT (num, fc_format_uint (num, entries->len));
  PUT ("\n", 1);
  for (guint i = 0; i < entries->len; i++)
    {
      const FcCacheInfo *info = &g_array_index (entries, FcCacheInfo, i);

      PUT (num, fc_format_uint (num, info->size));
      PUT (" ", 1);
      PUT (num, fc_format_uint (num, info->hits));
      PUT (" ", 1);
      PUT (info->name, strlen (info->name));
      PUT ("\n", 1);
    }
#undef PUT
  return n;
}
