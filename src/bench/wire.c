/* What filecache-bench sends and how it checks what comes back, for the
 * filecached protocol (PROTOCOL.md) and for HTTP/1.1 keep-alive `GET`. No
 * sockets here: the load engine and the probe feed it bytes. */

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "wire.h"

/* Longer than any status or error line PROTOCOL.md allows a server. */
#define STATUS_LINE_MAX 256
/* nginx's own default limit for a head is 8 KiB as well. */
#define HTTP_HEAD_MAX 8192

G_DEFINE_QUARK (fcb-wire-error-quark, fcb_wire_error)

/* As PROTOCOL.md spells them. */
static const char *const command_words[] = {
  [FCB_COMMAND_GET] = "GET", [FCB_COMMAND_STAT] = "STAT", [FCB_COMMAND_PING] = "PING",
};

/**
 * fcb_command_name:
 * @command: a command
 *
 * Returns: (transfer none): its word as PROTOCOL.md spells it
 */
const char *
fcb_command_name (FcbCommand command)
{
  return command_words[command];
}

/**
 * fcb_command_parse:
 * @word: a command word as PROTOCOL.md spells it: `GET`, `STAT` or `PING`
 * @command: (out): the command, when %TRUE
 *
 * Returns: whether @word is one of the three
 */
gboolean
fcb_command_parse (const char *word,
                   FcbCommand *command)
{
  for (guint i = 0; i < G_N_ELEMENTS (command_words); i++)
    if (strcmp (word, command_words[i]) == 0)
      {
        *command = (FcbCommand) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * fcb_wire_request:
 * @command: what to ask; only %FCB_COMMAND_GET with @http
 * @name: (nullable): a file name as PROTOCOL.md defines it; unused (and
 *   may be %NULL) for %FCB_COMMAND_PING
 * @http: %TRUE for an HTTP/1.1 request for `/name` (percent-encoded),
 *   %FALSE for `GET name` LF (or `STAT name` LF, or `PING` LF)
 * @host: the Host header's value (an IPv6 address is bracketed); unused
 *   without @http
 * @len: (out): the request's length in bytes
 *
 * Returns: (transfer full): one request, ready to send
 */
char *
fcb_wire_request (FcbCommand  command,
                  const char *name,
                  gboolean    http,
                  const char *host,
                  gsize      *len)
{
  char *request;

  g_return_val_if_fail (!http || command == FCB_COMMAND_GET, NULL);

  if (http)
    {
      g_autofree char *path = g_uri_escape_string (name, G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
      gboolean bracket = strchr (host, ':') != NULL;

      request = g_strdup_printf ("GET /%s HTTP/1.1\r\nHost: %s%s%s\r\n\r\n", path,
                                 bracket ? "[" : "", host, bracket ? "]" : "");
    }
  else if (command == FCB_COMMAND_PING)
    request = g_strdup ("PING\n");
  else
    request = g_strconcat (command == FCB_COMMAND_STAT ? "STAT " : "GET ", name, "\n", NULL);
  *len = strlen (request);
  return request;
}

/**
 * fcb_reply_init:
 * @reply: storage for a reader
 * @http: which protocol the replies speak
 * @command: what the requests ask, which decides the replies' shape;
 *   only %FCB_COMMAND_GET with @http
 *
 * Makes @reply ready for a connection's first reply. Free with
 * fcb_reply_clear().
 */
void
fcb_reply_init (FcbReply   *reply,
                gboolean    http,
                FcbCommand  command)
{
  memset (reply, 0, sizeof *reply);
  reply->http = http;
  reply->command = command;
  reply->head_max = http ? HTTP_HEAD_MAX : STATUS_LINE_MAX;
  reply->head = g_malloc (reply->head_max);
}

void
fcb_reply_clear (FcbReply *reply)
{
  g_clear_pointer (&reply->head, g_free);
}

/**
 * fcb_reply_reset:
 * @reply: a reader
 *
 * Forgets a reply in progress, for a new connection.
 */
void
fcb_reply_reset (FcbReply *reply)
{
  reply->head_len = 0;
  reply->in_body = FALSE;
  reply->body_left = 0;
  reply->closing = FALSE;
}

/**
 * fcb_reply_in_progress:
 * @reply: a reader
 *
 * Returns: whether part of a reply has arrived and the rest is owed
 */
gboolean
fcb_reply_in_progress (const FcbReply *reply)
{
  return reply->head_len > 0 || reply->in_body;
}

/* Unsigned decimal digits only, at most G_MAXUINT64. PROTOCOL.md forbids
 * leading zeros; HTTP allows them. */
static gboolean
parse_decimal (const char *p,
               gsize       len,
               gboolean    leading_zeros,
               guint64    *value)
{
  guint64 v = 0;

  if (len == 0 || (!leading_zeros && p[0] == '0' && len > 1))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (p[i]) || v > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      v = v * 10 + (guint64) (p[i] - '0');
    }
  *value = v;
  return TRUE;
}

/* 64 lowercase hex digits, as STAT's reply spells a SHA-256 (PROTOCOL.md 1.1). */
static gboolean
is_sha256_hex (const char *p,
               gsize       len)
{
  if (len != 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* The success line of each command: `OK <size>` (GET, a body follows),
 * `OK <size> <sha256>` (STAT), `OK PONG` (PING). Only GET's size is a
 * body to read. */
static gboolean
parse_ok (FcbReply   *reply,
          const char *text,
          gsize       len)
{
  const char *space;
  guint64 size;

  switch (reply->command)
    {
    case FCB_COMMAND_GET:
      return parse_decimal (text, len, FALSE, &reply->body_size);
    case FCB_COMMAND_STAT:
      space = memchr (text, ' ', len);
      reply->body_size = 0;
      return space != NULL && parse_decimal (text, (gsize) (space - text), FALSE, &size) &&
             is_sha256_hex (space + 1, len - (gsize) (space + 1 - text));
    case FCB_COMMAND_PING:
      reply->body_size = 0;
      return len == 4 && memcmp (text, "PONG", 4) == 0;
    }
  g_assert_not_reached ();
}

/* @line ends with LF, which is not part of the text shown in errors. */
static gboolean
parse_status_line (FcbReply    *reply,
                   const char  *line,
                   gsize        len,
                   GError     **error)
{
  g_autofree char *text = NULL;
  gsize end = len - 1;

  /* A CR before the LF is tolerated, as the server tolerates it from us. */
  if (end > 0 && line[end - 1] == '\r')
    end--;
  if (end > 3 && memcmp (line, "OK ", 3) == 0 && parse_ok (reply, line + 3, end - 3))
    return TRUE;

  text = g_strndup (line, end);
  if (g_str_has_prefix (text, "ERR "))
    g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_REFUSED, _("error reply: %s"), text);
  else
    g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("malformed status line: %s"), text);
  return FALSE;
}

static gboolean
has_token (const char *list,
           const char *token)
{
  g_auto(GStrv) items = g_strsplit (list, ",", -1);

  for (char **item = items; *item != NULL; item++)
    if (g_ascii_strcasecmp (g_strstrip (*item), token) == 0)
      return TRUE;
  return FALSE;
}

/* @head is every line up to and including the empty one. */
static gboolean
parse_http_head (FcbReply    *reply,
                 const char  *head,
                 gsize        len,
                 GError     **error)
{
  g_autofree char *text = g_strndup (head, len);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean have_length = FALSE;
  guint64 length = 0;
  const char *status;

  for (char **line = lines; *line != NULL; line++)
    {
      gsize n = strlen (*line);

      if (n > 0 && (*line)[n - 1] == '\r')
        (*line)[n - 1] = '\0';
    }

  status = lines[0];
  if (!g_str_has_prefix (status, "HTTP/1.1 ") || strlen (status) < 12 ||
      !g_ascii_isdigit (status[9]) || !g_ascii_isdigit (status[10]) ||
      !g_ascii_isdigit (status[11]) || (status[12] != ' ' && status[12] != '\0'))
    {
      g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("malformed HTTP status line: %s"), status);
      return FALSE;
    }
  if (strncmp (status + 9, "200", 3) != 0)
    {
      g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("HTTP status is not 200: %s"), status);
      return FALSE;
    }

  reply->closing = FALSE;
  for (char **line = lines + 1; *line != NULL && **line != '\0'; line++)
    {
      char *colon = strchr (*line, ':');
      char *value;

      if (colon == NULL || colon == *line)
        {
          g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("malformed HTTP header: %s"), *line);
          return FALSE;
        }
      *colon = '\0';
      value = g_strstrip (colon + 1);
      if (g_ascii_strcasecmp (*line, "Content-Length") == 0)
        {
          guint64 v;

          if (!parse_decimal (value, strlen (value), TRUE, &v) || (have_length && v != length))
            {
              g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("bad Content-Length: %s"), value);
              return FALSE;
            }
          have_length = TRUE;
          length = v;
        }
      else if (g_ascii_strcasecmp (*line, "Transfer-Encoding") == 0)
        {
          /* Chunks would make the body's length unknowable in advance. */
          g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("Transfer-Encoding %s instead of a Content-Length"), value);
          return FALSE;
        }
      else if (g_ascii_strcasecmp (*line, "Connection") == 0 && has_token (value, "close"))
        reply->closing = TRUE;
    }

  if (!have_length)
    {
      g_set_error_literal (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY, _("HTTP reply without Content-Length"));
      return FALSE;
    }
  reply->body_size = length;
  return TRUE;
}

/* The head is whole once its last line is empty; filecached's is one line. */
static gboolean
head_complete (const FcbReply *reply)
{
  const char *h = reply->head;
  gsize n = reply->head_len;

  if (!reply->http)
    return TRUE;
  return (n == 1) || (n == 2 && h[0] == '\r') ||
         (n >= 2 && h[n - 2] == '\n') ||
         (n >= 3 && h[n - 2] == '\r' && h[n - 3] == '\n');
}

/**
 * fcb_reply_feed:
 * @reply: a reader
 * @data: bytes received on the connection
 * @len: their count
 * @consumed: (out): how many of them belong to the reply that ended;
 *   all of them with %FCB_REPLY_MORE
 * @error: on %FCB_REPLY_FAILED: %FCB_WIRE_ERROR_REFUSED for an `ERR` line
 *   (the connection may carry the next reply), %FCB_WIRE_ERROR_BAD_REPLY
 *   for anything else (the stream cannot be trusted any further)
 *
 * Checks a reply as it arrives: filecached's `OK <size>` LF by the
 * protocol's number rules then exactly <size> bytes (STAT: `OK <size>
 * <sha256>` LF; PING: `OK PONG` LF; no body), or HTTP/1.1's status
 * 200 and a Content-Length then exactly that many bytes. A reply's body
 * is counted, not kept. After %FCB_REPLY_DONE or %FCB_REPLY_FAILED, feed
 * the bytes past @consumed again for the next reply.
 *
 * Returns: whether a reply ended, well or not
 */
FcbReplyStatus
fcb_reply_feed (FcbReply    *reply,
                const char  *data,
                gsize        len,
                gsize       *consumed,
                GError     **error)
{
  const char *p = data;

  while (len > 0)
    {
      const char *lf;
      gsize take;

      if (reply->in_body)
        {
          take = (gsize) MIN ((guint64) len, reply->body_left);
          reply->body_left -= take;
          p += take;
          len -= take;
          if (reply->body_left == 0)
            {
              reply->in_body = FALSE;
              *consumed = (gsize) (p - data);
              return FCB_REPLY_DONE;
            }
          continue;
        }

      lf = memchr (p, '\n', len);
      take = lf != NULL ? (gsize) (lf - p) + 1 : len;
      if (reply->head_len + take > reply->head_max)
        {
          *consumed = (gsize) (p - data);
          reply->head_len = 0;
          g_set_error (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_BAD_REPLY,
                       _("reply head longer than %zu bytes"), reply->head_max);
          return FCB_REPLY_FAILED;
        }
      memcpy (reply->head + reply->head_len, p, take);
      reply->head_len += take;
      p += take;
      len -= take;

      if (lf != NULL && head_complete (reply))
        {
          gboolean ok = reply->http
            ? parse_http_head (reply, reply->head, reply->head_len, error)
            : parse_status_line (reply, reply->head, reply->head_len, error);

          reply->head_len = 0;
          if (!ok)
            {
              *consumed = (gsize) (p - data);
              return FCB_REPLY_FAILED;
            }
          if (reply->body_size == 0)
            {
              *consumed = (gsize) (p - data);
              return FCB_REPLY_DONE;
            }
          reply->in_body = TRUE;
          reply->body_left = reply->body_size;
        }
    }

  *consumed = (gsize) (p - data);
  return FCB_REPLY_MORE;
}
