#include <glib.h>
#include <string.h>

#include "errors.h"
#include "protocol.h"

/* Parses @text (which must end in LF) as the daemon would. */
static gboolean
parse (const char  *text,
       gsize        len,
       FcRequest   *request,
       char       **copy,
       GError     **error)
{
  *copy = g_memdup2 (text, len);
  return fc_request_parse (*copy, len, request, error);
}

static void
test_commands (void)
{
  static const struct { const char *line; FcCommand command; const char *name; } good[] = {
    { "GET a\n", FC_COMMAND_GET, "a" },
    { "GET a\r\n", FC_COMMAND_GET, "a" },
    { "GET docs/readme.txt\n", FC_COMMAND_GET, "docs/readme.txt" },
    { "GET  lead\n", FC_COMMAND_GET, " lead" },
    { "GET trail \n", FC_COMMAND_GET, "trail " },
    { "GET two words\n", FC_COMMAND_GET, "two words" },
    { "LIST\n", FC_COMMAND_LIST, NULL },
    { "PING\n", FC_COMMAND_PING, NULL },
    { "PING\r\n", FC_COMMAND_PING, NULL },
    { "QUIT\n", FC_COMMAND_QUIT, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *copy = NULL;
      FcRequest request;

      g_assert_true (parse (good[i].line, strlen (good[i].line), &request, &copy, &error));
      g_assert_no_error (error);
      g_assert_cmpint (request.command, ==, good[i].command);
      g_assert_cmpstr (request.name, ==, good[i].name);
      if (good[i].name != NULL)
        g_assert_cmpuint (request.name_len, ==, strlen (good[i].name));
    }
}

static void
test_errors (void)
{
  static const struct { const char *line; gsize len; FcError code; FcCommand command; } bad[] = {
    { "\n", 0, FC_ERROR_MALFORMED, FC_COMMAND_NONE },
    { "\r\n", 0, FC_ERROR_MALFORMED, FC_COMMAND_NONE },
    { "get a\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "Get a\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "HELLO\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "GETa\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "PINGPONG\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { " GET a\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "GET\tA\n", 0, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "PING\0\n", 6, FC_ERROR_UNKNOWN_COMMAND, FC_COMMAND_NONE },
    { "GET\n", 0, FC_ERROR_MISSING_NAME, FC_COMMAND_GET },
    { "GET\r\n", 0, FC_ERROR_MISSING_NAME, FC_COMMAND_GET },
    { "GET \n", 0, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "GET /etc/passwd\n", 0, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "GET ../x\n", 0, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "GET a\rb\n", 0, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "GET a\r\r\n", 0, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "GET a\0b\n", 8, FC_ERROR_INVALID_NAME, FC_COMMAND_GET },
    { "LIST x\n", 0, FC_ERROR_UNEXPECTED_ARGUMENT, FC_COMMAND_LIST },
    { "LIST \n", 0, FC_ERROR_UNEXPECTED_ARGUMENT, FC_COMMAND_LIST },
    { "PING x\n", 0, FC_ERROR_UNEXPECTED_ARGUMENT, FC_COMMAND_PING },
    { "QUIT now\n", 0, FC_ERROR_UNEXPECTED_ARGUMENT, FC_COMMAND_QUIT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *copy = NULL;
      gsize len = bad[i].len != 0 ? bad[i].len : strlen (bad[i].line);
      gsize reply_len;
      FcRequest request;

      g_test_message ("line %" G_GSIZE_FORMAT, i);
      g_assert_false (parse (bad[i].line, len, &request, &copy, &error));
      g_assert_error (error, FC_ERROR, (gint) bad[i].code);
      g_assert_cmpint (request.command, ==, bad[i].command);
      g_assert_cmpuint (fc_error_status (bad[i].code), ==, 400);
      g_assert_true (g_str_has_prefix (fc_error_reply (bad[i].code, &reply_len), "ERR 400 "));
    }
}

static void
test_scan (void)
{
  g_autofree char *buf = g_malloc (FC_REQUEST_LINE_MAX + 10);
  gsize line_len = 0;

  memset (buf, 'a', FC_REQUEST_LINE_MAX + 10);
  g_assert_cmpint (fc_request_scan ("", 0, &line_len), ==, FC_SCAN_NEED_MORE);
  g_assert_cmpint (fc_request_scan ("PING", 4, &line_len), ==, FC_SCAN_NEED_MORE);
  g_assert_cmpint (fc_request_scan ("PING\nLIST\n", 10, &line_len), ==, FC_SCAN_LINE);
  g_assert_cmpuint (line_len, ==, 5);

  /* 4095 bytes and the LF are one acceptable line. */
  buf[FC_REQUEST_LINE_MAX - 1] = '\n';
  g_assert_cmpint (fc_request_scan (buf, FC_REQUEST_LINE_MAX + 10, &line_len), ==, FC_SCAN_LINE);
  g_assert_cmpuint (line_len, ==, FC_REQUEST_LINE_MAX);

  /* 4096 bytes with no LF among them are too long, whatever follows. */
  buf[FC_REQUEST_LINE_MAX - 1] = 'a';
  buf[FC_REQUEST_LINE_MAX] = '\n';
  g_assert_cmpint (fc_request_scan (buf, FC_REQUEST_LINE_MAX - 1, &line_len), ==, FC_SCAN_NEED_MORE);
  g_assert_cmpint (fc_request_scan (buf, FC_REQUEST_LINE_MAX, &line_len), ==, FC_SCAN_TOO_LONG);
  g_assert_cmpint (fc_request_scan (buf, FC_REQUEST_LINE_MAX + 10, &line_len), ==, FC_SCAN_TOO_LONG);
  g_assert_cmpuint (fc_error_status (FC_ERROR_LINE_TOO_LONG), ==, 414);
}

static void
test_error_replies (void)
{
  static const guint status[FC_ERROR_N_WIRE_CODES] = {
    [FC_ERROR_MALFORMED] = 400, [FC_ERROR_UNKNOWN_COMMAND] = 400,
    [FC_ERROR_MISSING_NAME] = 400, [FC_ERROR_UNEXPECTED_ARGUMENT] = 400,
    [FC_ERROR_INVALID_NAME] = 400, [FC_ERROR_NOT_REGULAR] = 403,
    [FC_ERROR_PERMISSION_DENIED] = 403, [FC_ERROR_OUTSIDE_ROOT] = 403,
    [FC_ERROR_LINK_LOOP] = 403, [FC_ERROR_SIZE_MISMATCH] = 403,
    [FC_ERROR_NOT_FOUND] = 404, [FC_ERROR_LINE_TOO_LONG] = 414,
    [FC_ERROR_DIGEST_MISMATCH] = 412, [FC_ERROR_OFFSET_BEYOND_END] = 416,
    [FC_ERROR_READ_FAILED] = 500, [FC_ERROR_LISTINGS_BUSY] = 500,
    [FC_ERROR_LISTING_TOO_LARGE] = 500, [FC_ERROR_BUSY] = 503,
  };

  for (guint code = 0; code < FC_ERROR_N_WIRE_CODES; code++)
    {
      gsize len = 0;
      const char *reply = fc_error_reply ((FcError) code, &len);
      g_autofree char *prefix = g_strdup_printf ("ERR %u ", status[code]);

      g_assert_cmpuint (fc_error_status ((FcError) code), ==, status[code]);
      g_assert_cmpuint (len, ==, strlen (reply));
      g_assert_true (g_str_has_prefix (reply, prefix));
      g_assert_cmpuint (len, >, strlen (prefix) + 1);
      g_assert_cmpint (reply[len - 1], ==, '\n');
      g_assert_null (memchr (reply, '\n', len - 1));
      g_assert_null (memchr (reply, '\r', len));
    }
}

static void
test_format (void)
{
  static const struct { guint64 value; const char *text; } numbers[] = {
    { 0, "0" }, { 7, "7" }, { 10, "10" }, { 4096, "4096" },
    { G_MAXUINT64, "18446744073709551615" },
  };
  char buf[FC_STATUS_MAX];

  for (gsize i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      gsize len = fc_format_uint (buf, numbers[i].value);
      g_autofree char *status = g_strdup_printf ("OK %s\n", numbers[i].text);

      g_assert_cmpmem (buf, len, numbers[i].text, strlen (numbers[i].text));
      len = fc_format_status (buf, numbers[i].value);
      g_assert_cmpmem (buf, len, status, strlen (status));
    }
}

static void
test_format_list (void)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (FcCacheInfo));
  FcCacheInfo infos[] = {
    { (char *) "docs/readme.txt", 12, 1, 0 },
    { (char *) "a b", 0, 10, 0 },
  };
  static const char expected[] = "OK 2\n12 1 docs/readme.txt\n0 10 a b\n";
  char buf[sizeof expected];

  g_assert_cmpuint (fc_format_list (entries, NULL), ==, 5);
  g_assert_cmpuint (fc_format_list (entries, buf), ==, 5);
  g_assert_cmpmem (buf, 5, "OK 0\n", 5);
  g_array_append_vals (entries, infos, G_N_ELEMENTS (infos));
  /* Measured, then written: the same length. */
  g_assert_cmpuint (fc_format_list (entries, NULL), ==, sizeof expected - 1);
  g_assert_cmpuint (fc_format_list (entries, buf), ==, sizeof expected - 1);
  g_assert_cmpmem (buf, sizeof expected - 1, expected, sizeof expected - 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/protocol/parse/commands", test_commands);
  g_test_add_func ("/protocol/parse/errors", test_errors);
  g_test_add_func ("/protocol/scan/line-limit", test_scan);
  g_test_add_func ("/protocol/error-replies", test_error_replies);
  g_test_add_func ("/protocol/format/status", test_format);
  g_test_add_func ("/protocol/format/list", test_format_list);
  return g_test_run ();
}
