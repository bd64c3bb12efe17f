#include <string.h>

#include <glib.h>

#include "wire.h"

static void
test_request_protocol (void)
{
  gsize len;
  g_autofree char *request = fcb_wire_request (FCB_COMMAND_GET, "dir/a file", FALSE, "127.0.0.1", &len);

  g_assert_cmpstr (request, ==, "GET dir/a file\n");
  g_assert_cmpuint (len, ==, strlen (request));
}

static void
test_request_http (void)
{
  gsize len;
  g_autofree char *request = fcb_wire_request (FCB_COMMAND_GET, "dir/a file%", TRUE, "127.0.0.1", &len);
  g_autofree char *v6 = fcb_wire_request (FCB_COMMAND_GET, "x", TRUE, "::1", &len);

  g_assert_cmpstr (request, ==, "GET /dir/a%20file%25 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  g_assert_cmpstr (v6, ==, "GET /x HTTP/1.1\r\nHost: [::1]\r\n\r\n");
  g_assert_cmpuint (len, ==, strlen (v6));
}

/* Feeds @stream in pieces of @piece bytes; returns the statuses of the
 * replies that ended, as a string: D for done, R refused, B bad. */
static char *
feed_all (gboolean    http,
          FcbCommand  command,
          const char *stream,
          gsize       piece,
          guint64    *last_size)
{
  GString *out = g_string_new (NULL);
  FcbReply reply;
  gsize len = strlen (stream), at = 0;

  fcb_reply_init (&reply, http, command);
  while (at < len)
    {
      gsize chunk = MIN (piece, len - at), used = 0;
      g_autoptr(GError) error = NULL;
      FcbReplyStatus status = fcb_reply_feed (&reply, stream + at, chunk, &used, &error);

      g_assert_cmpuint (used, <=, chunk);
      switch (status)
        {
        case FCB_REPLY_MORE:
          g_assert_cmpuint (used, ==, chunk);
          g_assert_no_error (error);
          break;
        case FCB_REPLY_DONE:
          g_assert_no_error (error);
          g_string_append_c (out, 'D');
          *last_size = reply.body_size;
          break;
        case FCB_REPLY_FAILED:
          g_assert_nonnull (error);
          g_string_append_c (out, g_error_matches (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_REFUSED) ? 'R' : 'B');
          break;
        }
      at += used;
      if (status == FCB_REPLY_FAILED && !g_error_matches (error, FCB_WIRE_ERROR, FCB_WIRE_ERROR_REFUSED))
        break;
    }
  fcb_reply_clear (&reply);
  return g_string_free (out, FALSE);
}

static void
check_command_stream (gboolean    http,
                      FcbCommand  command,
                      const char *stream,
                      const char *expected,
                      guint64     expected_last_size)
{
  /* Every split of the stream must give the same verdicts. */
  for (gsize piece = 1; piece <= strlen (stream); piece++)
    {
      guint64 last_size = G_MAXUINT64;
      g_autofree char *got = feed_all (http, command, stream, piece, &last_size);

      g_assert_cmpstr (got, ==, expected);
      if (expected_last_size != G_MAXUINT64)
        g_assert_cmpuint (last_size, ==, expected_last_size);
    }
}

static void
check_stream (gboolean    http,
              const char *stream,
              const char *expected,
              guint64     expected_last_size)
{
  check_command_stream (http, FCB_COMMAND_GET, stream, expected, expected_last_size);
}

static void
test_request_commands (void)
{
  gsize len;
  g_autofree char *stat = fcb_wire_request (FCB_COMMAND_STAT, "dir/a file", FALSE, "127.0.0.1", &len);
  g_autofree char *ping = fcb_wire_request (FCB_COMMAND_PING, NULL, FALSE, "127.0.0.1", &len);
  FcbCommand command = FCB_COMMAND_GET;

  g_assert_cmpstr (stat, ==, "STAT dir/a file\n");
  g_assert_cmpstr (ping, ==, "PING\n");
  g_assert_cmpuint (len, ==, 5);
  g_assert_true (fcb_command_parse ("PING", &command));
  g_assert_cmpint (command, ==, FCB_COMMAND_PING);
  g_assert_true (fcb_command_parse ("STAT", &command));
  g_assert_cmpint (command, ==, FCB_COMMAND_STAT);
  g_assert_true (fcb_command_parse ("GET", &command));
  g_assert_cmpint (command, ==, FCB_COMMAND_GET);
  g_assert_false (fcb_command_parse ("ping", &command));
  g_assert_false (fcb_command_parse ("GETFROM", &command));
  g_assert_cmpstr (fcb_command_name (FCB_COMMAND_STAT), ==, "STAT");
}

#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* STAT's and PING's replies have no body: the next reply follows at once,
 * and a size in a STAT line is never read as one. */
static void
test_protocol_stat_ping (void)
{
  static const char *bad_stat[] = {
    "OK 5\n", "OK 5 \n", "OK 05 " SHA_EMPTY "\n", "OK 5 " SHA_EMPTY "0\n",
    "OK 5 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n",
    "OK PONG\n",
  };
  static const char *bad_ping[] = { "OK 5\nhello", "OK PONG \n", "OK pong\n", "OK PONGS\n" };

  check_command_stream (FALSE, FCB_COMMAND_STAT,
                        "OK 0 " SHA_EMPTY "\nOK 123 " SHA_EMPTY "\r\nERR 404 no such file\nOK 1 " SHA_EMPTY "\n",
                        "DDRD", 0);
  check_command_stream (FALSE, FCB_COMMAND_PING, "OK PONG\nOK PONG\r\nERR 400 bad request\nOK PONG\n", "DDRD", 0);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_stat); i++)
    check_command_stream (FALSE, FCB_COMMAND_STAT, bad_stat[i], "B", G_MAXUINT64);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_ping); i++)
    check_command_stream (FALSE, FCB_COMMAND_PING, bad_ping[i], "B", G_MAXUINT64);
}

static void
test_protocol_replies (void)
{
  check_stream (FALSE, "OK 5\nhelloOK 0\nOK 3\r\nabc", "DDD", 3);
  check_stream (FALSE, "ERR 404 no such file\nOK 2\nhi", "RD", 2);
}

static void
test_protocol_bad_status (void)
{
  static const char *bad[] = {
    "OK\n", "OK \n", "OK 01\nx", "OK -1\n", "OK 1x\n", "ok 1\nx", "HELLO\n",
    "OK 18446744073709551616\n", "OK 5 \nhello",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_stream (FALSE, bad[i], "B", G_MAXUINT64);
}

static void
test_protocol_line_too_long (void)
{
  g_autofree char *line = g_strnfill (300, 'O');

  check_stream (FALSE, line, "B", G_MAXUINT64);
}

/* A body is exactly its size: the bytes after it begin the next reply. */
static void
test_protocol_body_length (void)
{
  check_stream (FALSE, "OK 4\nabcdefg\n", "DB", 4);
}

static void
test_http_good (void)
{
  check_stream (TRUE,
                "HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-length:  3 \r\nConnection: keep-alive\r\n\r\nabc"
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                "HTTP/1.1 200 OK\nContent-Length: 2\n\nxy",
                "DDD", 2);
}

static void
test_http_bad (void)
{
  static const char *bad[] = {
    "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc",
    "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 20 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    check_stream (TRUE, bad[i], "B", G_MAXUINT64);
}

static void
test_http_closing (void)
{
  const char *stream = "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx";
  FcbReply reply;
  gsize used;

  fcb_reply_init (&reply, TRUE, FCB_COMMAND_GET);
  g_assert_cmpint (fcb_reply_feed (&reply, stream, strlen (stream), &used, NULL), ==, FCB_REPLY_DONE);
  g_assert_true (reply.closing);
  g_assert_cmpuint (used, ==, strlen (stream));
  fcb_reply_clear (&reply);
}

static void
test_http_head_too_long (void)
{
  g_autofree char *header = g_strnfill (9000, 'a');
  g_autofree char *stream = g_strdup_printf ("HTTP/1.1 200 OK\r\nX-Long: %s\r\nContent-Length: 0\r\n\r\n", header);
  guint64 size;
  g_autofree char *got = feed_all (TRUE, FCB_COMMAND_GET, stream, 4096, &size);

  g_assert_cmpstr (got, ==, "B");
}

static void
test_in_progress (void)
{
  FcbReply reply;
  gsize used;

  fcb_reply_init (&reply, FALSE, FCB_COMMAND_GET);
  g_assert_false (fcb_reply_in_progress (&reply));
  g_assert_cmpint (fcb_reply_feed (&reply, "OK", 2, &used, NULL), ==, FCB_REPLY_MORE);
  g_assert_true (fcb_reply_in_progress (&reply));
  g_assert_cmpint (fcb_reply_feed (&reply, " 3\nab", 5, &used, NULL), ==, FCB_REPLY_MORE);
  g_assert_true (fcb_reply_in_progress (&reply));
  fcb_reply_reset (&reply);
  g_assert_false (fcb_reply_in_progress (&reply));
  fcb_reply_clear (&reply);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire/request/protocol", test_request_protocol);
  g_test_add_func ("/wire/request/http", test_request_http);
  g_test_add_func ("/wire/request/commands", test_request_commands);
  g_test_add_func ("/wire/reply/protocol/split-anywhere", test_protocol_replies);
  g_test_add_func ("/wire/reply/protocol/bad-status", test_protocol_bad_status);
  g_test_add_func ("/wire/reply/protocol/line-too-long", test_protocol_line_too_long);
  g_test_add_func ("/wire/reply/protocol/body-exact", test_protocol_body_length);
  g_test_add_func ("/wire/reply/protocol/stat-and-ping", test_protocol_stat_ping);
  g_test_add_func ("/wire/reply/http/split-anywhere", test_http_good);
  g_test_add_func ("/wire/reply/http/bad", test_http_bad);
  g_test_add_func ("/wire/reply/http/connection-close", test_http_closing);
  g_test_add_func ("/wire/reply/http/head-too-long", test_http_head_too_long);
  g_test_add_func ("/wire/reply/in-progress", test_in_progress);
  return g_test_run ();
}
