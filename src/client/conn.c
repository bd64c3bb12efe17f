#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <glib/gi18n.h>

#include "conn.h"

/* PROTOCOL.md: a request line, LF included, is at most this long. */
#define REQUEST_LINE_MAX 4096

/* Also the longest reply line accepted: a LIST entry for the longest
 * valid name (4000 bytes) fits many times over. */
#define READ_BUFFER_SIZE (64 * 1024)

/* Enough of a bad reply to recognise it, not enough to flood the terminal. */
#define MALFORMED_SHOWN_MAX 80

struct _FccConn {
  char *host;                     /* (owned): as given to fcc_conn_open(), to connect again */
  guint16 port;
  GSocketConnection *connection;  /* (owned) */
  GBufferedInputStream *in;       /* (owned): wraps the connection's input */
  GOutputStream *out;             /* (unowned): belongs to connection */
  guint64 body_size;              /* of the last GET reply */
  guint64 body_left;              /* bytes of it not yet read */
  guint timeout_s;                /* of every read and write, for the messages */
  gboolean broken;                /* the byte stream is closed or out of step */
};

G_DEFINE_QUARK (fcc-error-quark, fcc_error)

/**
 * fcc_parse_uint:
 * @text: (array length=len): the digits, not necessarily NUL-terminated
 * @value: (out) (optional): where the number goes
 *
 * Parses a number as PROTOCOL.md writes it: unsigned decimal ASCII, no
 * sign, no leading zeros, at most G_MAXUINT64.
 *
 * Returns: whether all of @text is such a number
 */
gboolean
fcc_parse_uint (const char *text,
                gsize       len,
                guint64    *value)
{
  guint64 result = 0;

  if (len == 0 || (text[0] == '0' && len > 1))
    return FALSE;

  for (gsize i = 0; i < len; i++)
    {
      guint digit;

      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      digit = text[i] - '0';
      if (result > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      result = result * 10 + digit;
    }

  if (value != NULL)
    *value = result;
  return TRUE;
}

/**
 * fcc_is_digest:
 * @text: (array length=len): the characters, not necessarily NUL-terminated
 *
 * Returns: whether @text is a SHA-256 as PROTOCOL.md 1.1 writes it:
 *   exactly %FCC_DIGEST_HEX_LEN lowercase hex digits
 */
gboolean
fcc_is_digest (const char *text,
               gsize       len)
{
  if (len != FCC_DIGEST_HEX_LEN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (text[i]) && !(text[i] >= 'a' && text[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* GIO names the host but not the port ("Could not connect to localhost:
 * Connection refused"), and the port is as often what is wrong: the
 * message names both, and keeps GIO's reason without its own "… to
 * HOST: " in front, in whatever language that is. */
static void
set_connect_error (GError     **error,
                   GError      *cause,
                   const char  *host,
                   guint16      port)
{
  g_autofree char *host_colon = g_strconcat (host, ": ", NULL);
  const char *reason = strstr (cause->message, host_colon);

  reason = reason != NULL && reason[strlen (host_colon)] != '\0'
           ? reason + strlen (host_colon) : cause->message;
  g_set_error (error, cause->domain, cause->code,
               _("cannot connect to %s port %u: %s"), host, port, reason);
}

/**
 * fcc_conn_open:
 * @host: a host name or address, optionally with ":PORT"
 * @port: the port used when @host names none
 * @timeout_s: seconds any one connect, read or write may take
 *
 * Connects to a filecached server.
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 */
FccConn *
fcc_conn_open (const char  *host,
               guint16      port,
               guint        timeout_s,
               GError     **error)
{
  g_autoptr(FccConn) conn = g_new0 (FccConn, 1);

  conn->host = g_strdup (host);
  conn->port = port;
  conn->timeout_s = timeout_s;
  if (!fcc_conn_reopen (conn, error))
    return NULL;
  return g_steal_pointer (&conn);
}

/**
 * fcc_conn_reopen:
 *
 * Closes the connection, if open, and connects again to the same server,
 * with a fresh state: usable, no body pending.
 *
 * Returns: %FALSE with @error set if the server cannot be reached; @conn
 *   is then unusable
 */
gboolean
fcc_conn_reopen (FccConn  *conn,
                 GError  **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) local_error = NULL;

  g_clear_object (&conn->in);
  g_clear_object (&conn->connection);
  conn->out = NULL;
  conn->body_size = conn->body_left = 0;
  conn->broken = TRUE;

  /* Also bounds every read and write on the connected socket, so a
   * server that stops sending mid-reply cannot hang the client. */
  g_socket_client_set_timeout (client, conn->timeout_s);

  conn->connection = g_socket_client_connect_to_host (client, conn->host, conn->port, NULL,
                                                      &local_error);
  if (conn->connection == NULL)
    {
      set_connect_error (error, local_error, conn->host, conn->port);
      return FALSE;
    }

  conn->in = G_BUFFERED_INPUT_STREAM (
    g_buffered_input_stream_new_sized (g_io_stream_get_input_stream (G_IO_STREAM (conn->connection)),
                                       READ_BUFFER_SIZE));
  conn->out = g_io_stream_get_output_stream (G_IO_STREAM (conn->connection));
  conn->broken = FALSE;
  return TRUE;
}

/**
 * fcc_conn_free:
 *
 * Closes the connection, without QUIT: the server takes a close between
 * requests as the end of the session.
 */
void
fcc_conn_free (FccConn *conn)
{
  g_clear_object (&conn->in);
  g_clear_object (&conn->connection);
  g_free (conn->host);
  g_free (conn);
}

/**
 * fcc_conn_usable:
 *
 * Returns: whether another request may be sent: %FALSE once the server
 *   closed, the reply broke the protocol, or a GET body was not read to
 *   its end, since the next bytes would not be the next reply.
 */
gboolean
fcc_conn_usable (FccConn *conn)
{
  return !conn->broken && conn->body_left == 0;
}

/**
 * fcc_conn_owes_body:
 *
 * Returns: whether the server is still sending a body that the caller
 *   stopped reading (for a local reason, such as a full disk): the
 *   connection is fine but out of step, and a new one, from
 *   fcc_conn_reopen(), can go on with other requests.
 */
gboolean
fcc_conn_owes_body (FccConn *conn)
{
  return !conn->broken && conn->body_left > 0;
}

/**
 * fcc_conn_set_malformed:
 * @line: the reply line that broke the protocol
 *
 * Marks @conn unusable and sets @error to show (the start of) @line.
 */
void
fcc_conn_set_malformed (FccConn     *conn,
                        const char  *line,
                        GError     **error)
{
  g_autofree char *start = g_strndup (line, MALFORMED_SHOWN_MAX);
  /* The line may hold control bytes that would garble the terminal. */
  g_autofree char *shown = g_strescape (start, NULL);

  conn->broken = TRUE;
  g_set_error (error, FCC_ERROR, FCC_ERROR_PROTOCOL,
               _("malformed reply from the server: “%s”"), shown);
}

static gboolean
has_control_byte (const char *text,
                  gsize       len)
{
  for (gsize i = 0; i < len; i++)
    {
      guchar c = text[i];

      if (c < 0x20 || c == 0x7f)
        return TRUE;
    }
  return FALSE;
}

/* GIO's own message, "Socket I/O timed out", tells neither what was
 * awaited nor for how long: a timeout gets the message @format makes
 * instead. Other errors are passed on as they are. */
static void G_GNUC_PRINTF (3, 4)
propagate_io_error (GError      **error,
                    GError       *local_error,
                    const char   *format,
                    ...)
{
  va_list args;
  g_autofree char *message = NULL;

  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_propagate_error (error, local_error);
      return;
    }

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_error_free (local_error);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, message);
}

/* @starts_reply: the line is a reply's first, so that a close before any
 * byte of it is told apart (%FCC_ERROR_UNANSWERED). */
static char *
read_line (FccConn   *conn,
           gboolean   starts_reply,
           GError   **error)
{
  gsize scanned = 0;
  g_autoptr(GError) local_error = NULL;

  for (;;)
    {
      gsize available;
      const char *buffer = g_buffered_input_stream_peek_buffer (conn->in, &available);
      const char *lf = memchr (buffer + scanned, '\n', available - scanned);
      gssize filled;

      if (lf != NULL)
        {
          gsize len = lf - buffer;
          g_autofree char *line = g_strndup (buffer, len);
          /* g_strndup() stops at a NUL byte: test the bytes as sent. */
          gboolean malformed = has_control_byte (buffer, len);

          /* Cannot fail: the bytes are already in the buffer. */
          g_input_stream_skip (G_INPUT_STREAM (conn->in), len + 1, NULL, NULL);
          if (malformed)
            {
              fcc_conn_set_malformed (conn, line, error);
              return NULL;
            }
          return g_steal_pointer (&line);
        }

      scanned = available;
      if (available == g_buffered_input_stream_get_buffer_size (conn->in))
        {
          g_set_error (error, FCC_ERROR, FCC_ERROR_PROTOCOL,
                       _("reply line longer than %d bytes"), READ_BUFFER_SIZE);
          return NULL;
        }

      filled = g_buffered_input_stream_fill (conn->in, -1, NULL, &local_error);
      if (filled < 0)
        {
          propagate_io_error (error, g_steal_pointer (&local_error),
                              _("no reply from the server for %u s"), conn->timeout_s);
          return NULL;
        }
      if (filled == 0)
        {
          g_set_error_literal (error, FCC_ERROR,
                               starts_reply && available == 0 ? FCC_ERROR_UNANSWERED : FCC_ERROR_CLOSED,
                               _("connection closed by the server"));
          return NULL;
        }
    }
}

/**
 * fcc_conn_read_line:
 *
 * Reads one reply line, such as a LIST entry.
 *
 * Returns: (transfer full): the line without its LF, or %NULL with @error set
 */
char *
fcc_conn_read_line (FccConn  *conn,
                    GError  **error)
{
  char *line = read_line (conn, FALSE, error);

  if (line == NULL)
    conn->broken = TRUE;
  return line;
}

static gboolean
send_request (FccConn     *conn,
              const char  *command,
              const char  *argument,
              GError     **error)
{
  g_autofree char *line = NULL;
  g_autoptr(GError) local_error = NULL;

  if (argument != NULL)
    {
      /* Either would end the line early, or be stripped, and the rest
       * of the argument would be taken as another request. */
      if (strpbrk (argument, "\r\n") != NULL)
        {
          g_set_error_literal (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                               _("names cannot contain line breaks"));
          return FALSE;
        }
      /* The server would answer ERR 414 and hang up on the other names. */
      if (strlen (command) + 1 + strlen (argument) + 1 > REQUEST_LINE_MAX)
        {
          g_set_error_literal (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                               _("name too long"));
          return FALSE;
        }
    }

  if (argument != NULL)
    line = g_strconcat (command, " ", argument, "\n", NULL);
  else
    line = g_strconcat (command, "\n", NULL);
  if (!g_output_stream_write_all (conn->out, line, strlen (line), NULL, NULL, &local_error))
    {
      conn->broken = TRUE;
      propagate_io_error (error, g_steal_pointer (&local_error),
                          _("sending the request timed out after %u s"), conn->timeout_s);
      return FALSE;
    }
  return TRUE;
}

static void
set_refused (FccConn     *conn,
             const char  *line,
             GError     **error)
{
  const char *code = line + strlen ("ERR ");
  const char *text = strchr (code, ' ');
  guint64 status;

  if (text == NULL || text[1] == '\0' || !fcc_parse_uint (code, text - code, &status))
    {
      fcc_conn_set_malformed (conn, line, error);
      return;
    }

  /* PROTOCOL.md: the server closes the connection after these two. */
  if (status == 414 || status == 503)
    conn->broken = TRUE;

  /* The text is the server's own English, shown as is. */
  g_set_error (error, FCC_ERROR,
               status == 400 ? FCC_ERROR_BAD_REQUEST
               : status == 412 ? FCC_ERROR_CHANGED
               : FCC_ERROR_REFUSED,
               "%s (ERR %.*s)", text + 1, (int) (text - code), code);
}

/**
 * fcc_conn_call:
 * @command: the request's command word
 * @argument: (nullable): its argument
 * @answer: (out) (transfer none): set to what follows "OK " in the result
 *
 * Sends one request and reads its status line. An ERR reply is an error
 * in the %FCC_ERROR_REFUSED code (%FCC_ERROR_BAD_REQUEST for ERR 400,
 * %FCC_ERROR_CHANGED for ERR 412); anything but "OK " or "ERR " is a
 * protocol error.
 *
 * Returns: (transfer full): the whole status line, or %NULL with @error set
 */
char *
fcc_conn_call (FccConn      *conn,
               const char   *command,
               const char   *argument,
               const char  **answer,
               GError      **error)
{
  g_autofree char *line = NULL;

  g_return_val_if_fail (fcc_conn_usable (conn), NULL);

  if (!send_request (conn, command, argument, error))
    return NULL;

  line = read_line (conn, TRUE, error);
  if (line == NULL)
    {
      conn->broken = TRUE;
      return NULL;
    }

  if (g_str_has_prefix (line, "OK "))
    {
      *answer = line + strlen ("OK ");
      return g_steal_pointer (&line);
    }

  if (g_str_has_prefix (line, "ERR "))
    set_refused (conn, line, error);
  else
    fcc_conn_set_malformed (conn, line, error);
  return NULL;
}

/**
 * fcc_conn_call_count:
 * @count: (out): the number in the "OK <n>" reply
 *
 * Like fcc_conn_call(), for the requests whose reply announces a count.
 *
 * Returns: whether the reply was "OK <n>"; %FALSE with @error set otherwise
 */
gboolean
fcc_conn_call_count (FccConn     *conn,
                     const char  *command,
                     const char  *argument,
                     guint64     *count,
                     GError     **error)
{
  const char *answer;
  g_autofree char *line = fcc_conn_call (conn, command, argument, &answer, error);

  if (line == NULL)
    return FALSE;

  if (!fcc_parse_uint (answer, strlen (answer), count))
    {
      fcc_conn_set_malformed (conn, line, error);
      return FALSE;
    }
  return TRUE;
}

/* A request whose "OK <n>" reply is followed by an n-byte body. */
static gboolean
call_for_body (FccConn     *conn,
               const char  *command,
               const char  *argument,
               guint64     *size,
               GError     **error)
{
  if (!fcc_conn_call_count (conn, command, argument, size, error))
    return FALSE;

  conn->body_size = *size;
  conn->body_left = *size;
  return TRUE;
}

/**
 * fcc_conn_get:
 * @size: (out): the size of the body that follows
 *
 * Sends "GET @name" and reads the status line. On success the caller
 * reads the body with fcc_conn_read_body() until @size bytes arrived;
 * the connection is not usable for another request before then.
 *
 * Returns: %FALSE with @error set if the server refused or failed
 */
gboolean
fcc_conn_get (FccConn     *conn,
              const char  *name,
              guint64     *size,
              GError     **error)
{
  return call_for_body (conn, "GET", name, size, error);
}

/**
 * fcc_conn_stat:
 * @size: (out): the size of the file's current version
 * @digest: (out caller-allocates): its SHA-256 in hex, NUL-terminated
 *
 * Sends "STAT @name" (PROTOCOL.md 1.1). A server of protocol 1.0 answers
 * ERR 400, an error in the %FCC_ERROR_BAD_REQUEST code, as it does for an
 * invalid name.
 *
 * Returns: %FALSE with @error set if the server refused or failed
 */
gboolean
fcc_conn_stat (FccConn     *conn,
               const char  *name,
               guint64     *size,
               char         digest[FCC_DIGEST_HEX_LEN + 1],
               GError     **error)
{
  const char *answer;
  g_autofree char *line = fcc_conn_call (conn, "STAT", name, &answer, error);
  const char *space;

  if (line == NULL)
    return FALSE;

  /* "OK <size> <sha256>" */
  space = strchr (answer, ' ');
  if (space == NULL || !fcc_parse_uint (answer, space - answer, size) ||
      !fcc_is_digest (space + 1, strlen (space + 1)))
    {
      fcc_conn_set_malformed (conn, line, error);
      return FALSE;
    }
  memcpy (digest, space + 1, FCC_DIGEST_HEX_LEN + 1);
  return TRUE;
}

/**
 * fcc_conn_get_from:
 * @offset: the first byte wanted
 * @digest: the SHA-256 (in hex) of the version wanted
 * @size: (out): the size of the body that follows: the bytes from @offset on
 *
 * Sends "GETFROM @offset @digest @name" (PROTOCOL.md 1.1) and reads the
 * status line; the body is read as after fcc_conn_get(). If the file no
 * longer has @digest, the error is in the %FCC_ERROR_CHANGED code.
 *
 * Returns: %FALSE with @error set if the server refused or failed
 */
gboolean
fcc_conn_get_from (FccConn     *conn,
                   const char  *name,
                   guint64      offset,
                   const char  *digest,
                   guint64     *size,
                   GError     **error)
{
  g_autofree char *argument = g_strdup_printf ("%" G_GUINT64_FORMAT " %s %s",
                                               offset, digest, name);

  return call_for_body (conn, "GETFROM", argument, size, error);
}

/**
 * fcc_conn_read_body:
 * @buffer: (out caller-allocates) (array length=len): where the bytes go
 *
 * Reads the next bytes of the body announced by fcc_conn_get(), never
 * past its end. A connection closed before the end is an error in the
 * %FCC_ERROR_CLOSED code.
 *
 * Returns: the count of bytes read (more than zero), or -1 with @error set
 */
gssize
fcc_conn_read_body (FccConn  *conn,
                    void     *buffer,
                    gsize     len,
                    GError  **error)
{
  gsize available = g_buffered_input_stream_get_available (conn->in);
  unsigned long long done = conn->body_size - conn->body_left;
  unsigned long long size = conn->body_size;
  g_autoptr(GError) local_error = NULL;
  gssize n;

  g_return_val_if_fail (!conn->broken && conn->body_left > 0, -1);

  /* A read for more than is buffered waits for the rest before it returns
   * any of it: a server stalling mid-body would cost two timeouts. */
  if (available > 0)
    len = MIN (len, available);

  n = g_input_stream_read (G_INPUT_STREAM (conn->in), buffer, MIN (len, conn->body_left),
                           NULL, &local_error);
  if (n == 0)
    g_set_error (error, FCC_ERROR, FCC_ERROR_CLOSED,
                 _("connection closed after %llu of %llu bytes"), done, size);
  if (n < 0)
    propagate_io_error (error, g_steal_pointer (&local_error),
                        _("timed out after %llu of %llu bytes: nothing received for %u s"),
                        done, size, conn->timeout_s);
  if (n <= 0)
    {
      conn->broken = TRUE;
      return -1;
    }

  conn->body_left -= n;
  return n;
}
