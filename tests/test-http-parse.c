/* fc_http_parse(): the fields the access log takes from a head. */
#include <string.h>

#include <glib.h>

#include "http-parse.h"

static gboolean
slice_is (FcHttpSlice  slice,
          const char  *text)
{
  if (text == NULL)
    return slice.data == NULL;
  return slice.data != NULL && slice.len == strlen (text) && memcmp (slice.data, text, slice.len) == 0;
}

static FcHttpParse
parse (const char    *head,
       FcHttpRequest *request)
{
  FcHttpRefusal refusal;
  gsize consumed;

  return fc_http_parse (head, strlen (head), request, &consumed, &refusal);
}

static void
test_referer_user_agent (void)
{
  g_autofree FcHttpRequest *request = g_new0 (FcHttpRequest, 1);

  g_assert_cmpint (parse ("\r\nGET /a.txt?q=1 HTTP/1.1\r\nHost: h\r\n"
                          "referer:  http://x/ \r\nUser-Agent: curl/7.88 \"q\"\r\n"
                          "Referer: http://second/\r\n\r\n", request), ==, FC_HTTP_DONE);
  g_assert_true (slice_is (request->line, "GET /a.txt?q=1 HTTP/1.1"));
  g_assert_true (slice_is (request->referer, "http://x/"));
  g_assert_true (slice_is (request->user_agent, "curl/7.88 \"q\""));
}

static void
test_absent (void)
{
  g_autofree FcHttpRequest *request = g_new0 (FcHttpRequest, 1);

  g_assert_cmpint (parse ("HEAD / HTTP/1.0\n\n", request), ==, FC_HTTP_DONE);
  g_assert_true (slice_is (request->line, "HEAD / HTTP/1.0"));
  g_assert_true (slice_is (request->referer, NULL));
  g_assert_true (slice_is (request->user_agent, NULL));
}

static void
test_refused_keeps_line (void)
{
  g_autofree FcHttpRequest *request = g_new0 (FcHttpRequest, 1);

  g_assert_cmpint (parse ("POST /x HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n", request),
                   ==, FC_HTTP_REFUSED);
  g_assert_true (slice_is (request->line, "POST /x HTTP/1.1"));
  g_assert_true (slice_is (request->user_agent, "u"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-parse/fields/referer-user-agent", test_referer_user_agent);
  g_test_add_func ("/http-parse/fields/absent", test_absent);
  g_test_add_func ("/http-parse/fields/refused-keeps-line", test_refused_keeps_line);
  return g_test_run ();
}
