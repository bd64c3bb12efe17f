#include <glib.h>
#include <string.h>

#include "http-parse.h"
#include "names.h"

/* The daemon's buffer, and nothing past it: an over-read is ASan's.
 * Never NULL, as the daemon's is not even when empty. */
static char *
copy (const char *text,
      gsize       len)
{
  char *buf = g_malloc (MAX (len, 1));

  memcpy (buf, text, len);
  return buf;
}

typedef struct {
  char *buf;
  gsize consumed;
  FcHttpRequest request;
  FcHttpRefusal refusal;
} Parsed;

static void
parsed_free (Parsed *parsed)
{
  g_free (parsed->buf);
  g_free (parsed);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Parsed, parsed_free)

static FcHttpParse
parse_len (const char  *text,
           gsize        len,
           Parsed     **out)
{
  Parsed *parsed = g_new0 (Parsed, 1);

  parsed->buf = copy (text, len);
  *out = parsed;
  return fc_http_parse (parsed->buf, len, &parsed->request, &parsed->consumed, &parsed->refusal);
}

static FcHttpParse
parse (const char  *text,
       Parsed     **out)
{
  return parse_len (text, strlen (text), out);
}

static FcSniff
sniff_len (const char *text,
           gsize       len)
{
  g_autofree char *buf = copy (text, len);

  return fc_http_sniff (buf, len);
}

static FcSniff
sniff (const char *text)
{
  return sniff_len (text, strlen (text));
}

static void
assert_done (const char *text,
             const char *name,
             gboolean    trailing_slash)
{
  g_autoptr(Parsed) p = NULL;

  if (parse (text, &p) != FC_HTTP_DONE)
    g_error ("%s: refused %u (%s)", text, p->refusal.status, p->refusal.reason);
  g_assert_cmpuint (p->consumed, ==, strlen (text));
  g_assert_cmpstr (p->request.name, ==, name);
  g_assert_cmpuint (p->request.name_len, ==, strlen (name));
  g_assert_cmpint (p->request.trailing_slash, ==, trailing_slash);
}

/* A whole head refused: @close says whether the connection ends, and a
 * refusal that keeps it must have consumed the whole head. */
static void
assert_refused (const char *text,
                guint       status,
                gboolean    close)
{
  g_autoptr(Parsed) p = NULL;

  if (parse (text, &p) != FC_HTTP_REFUSED)
    g_error ("%s: not refused", text);
  g_assert_cmpuint (p->refusal.status, ==, status);
  g_assert_cmpint (p->refusal.close, ==, close);
  g_assert_nonnull (p->refusal.reason);
  if (!close)
    g_assert_cmpuint (p->consumed, ==, strlen (text));
}

#define H11 "Host: h\r\n"

/* ---- One port, two dialects ---- */

static void
test_sniff_http (void)
{
  static const char *const lines[] = {
    "GET / HTTP/1.1\r\n",
    "GET /x HTTP/1.0\n",
    "HEAD /a?b HTTP/1.1\r\nHost: h\r\n",
    "OPTIONS * HTTP/1.1\r\n",
    "GET http://h/x HTTP/1.1\r\n",
    "GET HTTP://h/x HTTP/1.1\r\n",
    "GET hTTp://h HTTP/1.1\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "FOO /x HTTP/9.9\r\n",
    "get /x HTTP/1.1\n",
    "GET /\x01\xff HTTP/1.1\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    g_assert_cmpint (sniff (lines[i]), ==, FC_SNIFF_HTTP);
}

static void
test_sniff_line (void)
{
  static const char *const lines[] = {
    "GET name\n", "GET name HTTP/1.1\n", "PING\n", "PING\r\n", "LIST\n", "QUIT\n",
    "STAT a/b\n", "GETFROM 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 a\n",
    "GET /x\n", "GET /x\r\n", "GET  /x HTTP/1.1\n", "GET /x  HTTP/1.1\n",
    "GET /x HTTP/1.1 \n", "GET /x HTTP/1.10\n", "GET /x http/1.1\n", "GET /x HTTP/1\n",
    "GET /x HTTP/1.x\n", "GET *x HTTP/1.1\n", "GET https://h/ HTTP/1.1\n", "GET h/ HTTP/1.1\n",
    "GET http:/h HTTP/1.1\n", "\n", "\r\n", "G(T /x HTTP/1.1\n", "GET /x HTTP/1.1\r\r\n",
    " GET /x HTTP/1.1\n", "GET\t/x HTTP/1.1\n", "/x HTTP/1.1\n", "GET /x\tHTTP/1.1\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    if (sniff (lines[i]) != FC_SNIFF_LINE)
      g_error ("%s: not the line protocol", lines[i]);
}

/* Without an LF: wait while the bytes may still become a request line,
 * and answer at once for a line-protocol command. */
static void
test_sniff_partial (void)
{
  static const char *const more[] = {
    "", "G", "GET", "GET ", "GET /", "GET /x HTTP/1.", "GET /x HTTP/1.1", "GET /x HTTP/1.1\r",
    "GET h", "GET http:/", "PING", "GET *", "GET * ", "GET /x ", "GET /x H",
  };
  static const char *const line[] = {
    "GET n", "STAT a", "GET  ", "GET /x X", "GETFROM 0", "PING\r", "GET /x HTTP/1.1\r\r",
    "GET *x", "GET hx", "\r", "GET /x HTTP/1.12",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (more); i++)
    if (sniff (more[i]) != FC_SNIFF_NEED_MORE)
      g_error ("\"%s\": not NEED_MORE", more[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (line); i++)
    if (sniff (line[i]) != FC_SNIFF_LINE)
      g_error ("\"%s\": not LINE", line[i]);
}

/* 4096 bytes and no LF: only `token SP` and a target's start may go on. */
static void
test_sniff_long (void)
{
  g_autofree char *buf = g_malloc (FC_HTTP_LINE_MAX + 16);

  memset (buf, 'A', FC_HTTP_LINE_MAX + 16);
  g_assert_cmpint (sniff_len (buf, 4095), ==, FC_SNIFF_NEED_MORE);
  g_assert_cmpint (sniff_len (buf, 4096), ==, FC_SNIFF_LINE);
  buf[4094] = ' ';
  buf[4095] = 'h';
  g_assert_cmpint (sniff_len (buf, 4096), ==, FC_SNIFF_LINE);
  buf[4095] = '/';
  g_assert_cmpint (sniff_len (buf, 4096), ==, FC_SNIFF_NEED_MORE);
  buf[4095] = '*';
  g_assert_cmpint (sniff_len (buf, 4096), ==, FC_SNIFF_NEED_MORE);

  /* Up to FC_HTTP_LINE_MAX bytes before the line's CR LF, as
   * fc_http_parse() counts a request line. */
  memcpy (buf, "GET /", 5);
  memset (buf + 5, 'a', FC_HTTP_LINE_MAX + 8);
  g_assert_cmpint (sniff_len (buf, 4096), ==, FC_SNIFF_NEED_MORE);
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX), ==, FC_SNIFF_NEED_MORE);
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 1), ==, FC_SNIFF_LINE);
  buf[FC_HTTP_LINE_MAX] = '\r';
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 1), ==, FC_SNIFF_NEED_MORE);
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 2), ==, FC_SNIFF_LINE);
  memcpy (buf, "GET ", 4);
  memcpy (buf + 4, "http://", 7);
  g_assert_cmpint (sniff_len (buf, 5000), ==, FC_SNIFF_NEED_MORE);

  /* A request line of exactly FC_HTTP_LINE_MAX bytes, with CR LF or LF. */
  memcpy (buf, "GET /", 5);
  memcpy (buf + FC_HTTP_LINE_MAX - 9, " HTTP/1.1\r\n", 11);
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 2), ==, FC_SNIFF_HTTP);
  buf[FC_HTTP_LINE_MAX] = '\n';
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 1), ==, FC_SNIFF_HTTP);
  /* One byte more. */
  buf[FC_HTTP_LINE_MAX - 9] = 'a';
  memcpy (buf + FC_HTTP_LINE_MAX - 8, " HTTP/1.1\r\n", 11);
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 3), ==, FC_SNIFF_LINE);
  buf[FC_HTTP_LINE_MAX + 1] = '\n';
  g_assert_cmpint (sniff_len (buf, FC_HTTP_LINE_MAX + 2), ==, FC_SNIFF_LINE);
}

/* RFC 9110 5.6.2's tchar, byte by byte, in the method. */
static void
test_sniff_tchar (void)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";

  for (guint c = 0; c < 256; c++)
    {
      char line[] = "G?T / HTTP/1.1\n";
      gboolean token = g_ascii_isalnum (c) || (c != 0 && strchr (extra, (int) c) != NULL);

      line[1] = (char) c;
      if ((sniff_len (line, sizeof line - 1) == FC_SNIFF_HTTP) != token)
        g_error ("byte 0x%02x", c);
    }
}

/* ---- Requests: versions, methods, the request line ---- */

static void
test_versions (void)
{
  g_autoptr(Parsed) p10 = NULL;
  g_autoptr(Parsed) p11 = NULL;
  g_autoptr(Parsed) p19 = NULL;
  g_autoptr(Parsed) p20 = NULL;
  g_autoptr(Parsed) pri = NULL;

  g_assert_cmpint (parse ("GET /a HTTP/1.0\r\n\r\n", &p10), ==, FC_HTTP_DONE);
  g_assert_cmpuint (p10->request.minor, ==, 0);
  g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "\r\n", &p11), ==, FC_HTTP_DONE);
  g_assert_cmpuint (p11->request.minor, ==, 1);
  g_assert_cmpint (parse ("GET /a HTTP/1.9\r\n" H11 "\r\n", &p19), ==, FC_HTTP_DONE);
  g_assert_cmpuint (p19->request.minor, ==, 1);
  assert_refused ("GET /a HTTP/1.2\r\n\r\n", 400, TRUE);   /* 1.1 rules: Host */

  g_assert_cmpint (parse ("GET /a HTTP/2.0\r\n" H11 "\r\n", &p20), ==, FC_HTTP_REFUSED);
  g_assert_cmpuint (p20->refusal.status, ==, 505);
  g_assert_true (p20->refusal.close);
  g_assert_cmpuint (p20->refusal.minor, ==, 1);
  g_assert_false (p20->refusal.head);
  {
    g_autoptr(Parsed) head20 = NULL;

    /* A HEAD's 505 has no content (RFC 9110 9.3.2). */
    g_assert_cmpint (parse ("HEAD /a HTTP/2.0\r\n" H11 "\r\n", &head20), ==, FC_HTTP_REFUSED);
    g_assert_cmpuint (head20->refusal.status, ==, 505);
    g_assert_true (head20->refusal.head);
  }
  /* The preface is refused from its request line alone. */
  g_assert_cmpint (parse ("PRI * HTTP/2.0\r\n", &pri), ==, FC_HTTP_REFUSED);
  g_assert_cmpuint (pri->refusal.status, ==, 505);
  g_assert_true (pri->refusal.close);
  assert_refused ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, TRUE);
  assert_refused ("GET /a HTTP/0.9\r\n\r\n", 505, TRUE);
  assert_refused ("GET /a HTTP/3.0\r\n\r\n", 505, TRUE);
}

static void
test_methods (void)
{
  static const char *const not_allowed[] = {
    "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
  };
  static const char *const unknown[] = { "get", "Get", "FOO", "BREW", "PROPFIND", "head", "GETX" };
  g_autoptr(Parsed) get = NULL;
  g_autoptr(Parsed) head = NULL;

  g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "\r\n", &get), ==, FC_HTTP_DONE);
  g_assert_cmpint (get->request.method, ==, FC_HTTP_GET);
  g_assert_cmpint (parse ("HEAD /a HTTP/1.1\r\n" H11 "\r\n", &head), ==, FC_HTTP_DONE);
  g_assert_cmpint (head->request.method, ==, FC_HTTP_HEAD);

  for (gsize i = 0; i < G_N_ELEMENTS (not_allowed); i++)
    {
      g_autofree char *text = g_strdup_printf ("%s /a HTTP/1.1\r\n" H11 "\r\n", not_allowed[i]);

      assert_refused (text, 405, FALSE);
    }
  /* CONNECT's authority-form and OPTIONS's `*` are the method's refusal. */
  assert_refused ("CONNECT h:443 HTTP/1.1\r\n" H11 "\r\n", 405, FALSE);
  assert_refused ("OPTIONS * HTTP/1.1\r\n" H11 "\r\n", 405, FALSE);
  for (gsize i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_autofree char *text = g_strdup_printf ("%s /a HTTP/1.1\r\n" H11 "\r\n", unknown[i]);

      assert_refused (text, 501, FALSE);
    }
}

static void
test_request_line (void)
{
  g_autoptr(Parsed) head = NULL;

  assert_refused ("GET  /a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a  HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a b HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("G(T /a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused (" GET /a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  /* No version: HTTP.md "Errors" keeps the connection after a 400 not
   * marked close, HTTP/1.1's rules deciding (Connection: close ends it). */
  assert_refused ("GET /a\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a HTTP/1.1 \r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a HTTP/1.1\t\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a\tHTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a http/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a HTTP/11\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET /a HTTP/1.1.\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("garbage\r\n\r\n", 400, FALSE);
  assert_refused ("\x16\x03\x01\x02\x05\x01\x06\x01\xfc\x03\x03\r\n\r\n", 400, FALSE);
  assert_refused ("GET /a HTTP/1.1 \r\nConnection: close\r\n\r\n", 400, TRUE);
  /* Its own 400, not a missing Host's (which closes). */
  assert_refused ("GET /a HTTP/1.1 \r\n\r\n", 400, FALSE);
  /* Framing errors in its fields still close. */
  assert_refused ("GET /a HTTP/1.1 \r\n" H11 "Content-Length: 1\r\n\r\n", 413, TRUE);
  assert_refused ("GET /a HTTP/1.1 \r\n" H11 "Transfer-Encoding: chunked\r\n\r\n", 501, TRUE);
  assert_refused ("GET /a HTTP/1.1 \r\n" H11 "X : y\r\n\r\n", 400, TRUE);

  /* RFC 9110 9.3.2: a HEAD's refusal has no content, even one whose line
   * is malformed, too long or of another version. */
  {
    static const char *const heads[] = {
      "HEAD  /a HTTP/1.1\r\n" H11 "\r\n", "HEAD /a HTTP/1.1 \r\n" H11 "\r\n",
      "HEAD /a HTTP/2.0\r\n" H11 "\r\n", "HEAD /%zz HTTP/1.1\r\n" H11 "\r\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (heads); i++)
      {
        g_autoptr(Parsed) p = NULL;

        g_assert_cmpint (parse (heads[i], &p), ==, FC_HTTP_REFUSED);
        g_assert_true (p->refusal.head);
      }
  }
  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse ("GET  /a HTTP/1.1\r\n" H11 "\r\n", &p), ==, FC_HTTP_REFUSED);
    g_assert_false (p->refusal.head);
  }

  /* Version and HEAD known: the refusal is answered in kind. */
  g_assert_cmpint (parse ("HEAD /%zz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &head), ==,
                   FC_HTTP_REFUSED);
  g_assert_cmpuint (head->refusal.status, ==, 400);
  g_assert_true (head->refusal.head);
  g_assert_cmpuint (head->refusal.minor, ==, 0);
  g_assert_false (head->refusal.close);
  g_assert_true (head->request.echo_keep_alive);
  g_assert_true (head->refusal.echo_keep_alive);

  /* Each refusal that keeps an HTTP/1.0 connection says so back. */
  {
    static const char *const kept[] = {
      "POST /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "FOO /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "G(T /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      /* No version: it may be an HTTP/1.0 client's. */
      "garbage\r\n\r\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (kept); i++)
      {
        g_autoptr(Parsed) p = NULL;

        g_assert_cmpint (parse (kept[i], &p), ==, FC_HTTP_REFUSED);
        g_assert_false (p->refusal.close);
        g_assert_true (p->refusal.echo_keep_alive);
      }
  }
}

/* ---- Targets ---- */

/* `GET <target> HTTP/1.1` for each: a 400 that keeps the connection. */
static void
assert_targets_refused (const char *const *targets,
                        gsize               n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("GET %s HTTP/1.1\r\n" H11 "\r\n", targets[i]);

      assert_refused (text, 400, FALSE);
    }
}

static void
test_target_forms (void)
{
  g_autoptr(Parsed) abs = NULL;
  g_autoptr(Parsed) bare = NULL;
  g_autoptr(Parsed) query = NULL;

  assert_done ("GET /a?b=c HTTP/1.1\r\n" H11 "\r\n", "a", FALSE);
  assert_done ("GET /?x HTTP/1.1\r\n" H11 "\r\n", "", TRUE);
  assert_done ("GET /a?b/../c HTTP/1.1\r\n" H11 "\r\n", "a", FALSE);
  assert_done ("GET /a? HTTP/1.1\r\n" H11 "\r\n", "a", FALSE);
  assert_done ("GET http://other.example/a/b HTTP/1.1\r\n" H11 "\r\n", "a/b", FALSE);
  assert_done ("GET HTTP://h:80/a/ HTTP/1.1\r\n" H11 "\r\n", "a", TRUE);
  assert_done ("GET http:///a HTTP/1.1\r\n" H11 "\r\n", "a", FALSE);

  g_assert_cmpint (parse ("GET http://h HTTP/1.1\r\n" H11 "\r\n", &abs), ==, FC_HTTP_DONE);
  g_assert_cmpstr (abs->request.name, ==, "");
  g_assert_true (abs->request.trailing_slash);
  g_assert_cmpmem (abs->request.path.data, abs->request.path.len, "/", 1);
  g_assert_cmpint (parse ("GET http://h?q HTTP/1.1\r\n" H11 "\r\n", &bare), ==, FC_HTTP_DONE);
  g_assert_cmpmem (bare->request.path.data, bare->request.path.len, "/", 1);
  g_assert_cmpint (parse ("GET /dir/./?q=1 HTTP/1.1\r\n" H11 "\r\n", &query), ==, FC_HTTP_DONE);
  g_assert_cmpmem (query->request.path.data, query->request.path.len, "/dir/./", 7);
  g_assert_cmpstr (query->request.name, ==, "dir");
  g_assert_true (query->request.trailing_slash);

  assert_refused ("GET * HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET h:80 HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET https://h/a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
  assert_refused ("GET http:/a HTTP/1.1\r\n" H11 "\r\n", 400, FALSE);
}

static void
test_target_bytes (void)
{
  static const char *const bad[] = {
    "/a\x01", "/a\x1f", "/a\x7f", "/\xc3\xa9", "/a#b", "/a#", "/\x80", "/a?\x01", "/a?#",
    "http://h\x01/a",
  };

  assert_targets_refused (bad, G_N_ELEMENTS (bad));
  assert_done ("GET /%C3%A9 HTTP/1.1\r\n" H11 "\r\n", "é", FALSE);
  assert_done ("GET /a!$&'()*+,;=:@-._~ HTTP/1.1\r\n" H11 "\r\n", "a!$&'()*+,;=:@-._~", FALSE);
}

static void
test_target_dots (void)
{
  static const char *const bad[] = {
    "/..", "/../a", "/a/..", "/a/../b", "//", "//a", "/a//b", "/a//", "/.//a", "/%2E", "/%2e",
    "/%2e%2E", "/a/%2e/b", "/.%2E", "/%2E.", "/a/%2E%2E", "/a/..%2F", "/...%2F", "/a%2F",
    "/%2Fa", "/a%2F%2Fb", "/a/.%2F",
  };

  assert_done ("GET /./Packages HTTP/1.1\r\n" H11 "\r\n", "Packages", FALSE);
  assert_done ("GET /a/. HTTP/1.1\r\n" H11 "\r\n", "a", TRUE);
  assert_done ("GET /a/./ HTTP/1.1\r\n" H11 "\r\n", "a", TRUE);
  assert_done ("GET /a/./b HTTP/1.1\r\n" H11 "\r\n", "a/b", FALSE);
  assert_done ("GET /./././a HTTP/1.1\r\n" H11 "\r\n", "a", FALSE);
  assert_done ("GET /. HTTP/1.1\r\n" H11 "\r\n", "", TRUE);
  assert_done ("GET /./ HTTP/1.1\r\n" H11 "\r\n", "", TRUE);
  assert_done ("GET / HTTP/1.1\r\n" H11 "\r\n", "", TRUE);
  assert_done ("GET /... HTTP/1.1\r\n" H11 "\r\n", "...", FALSE);
  assert_done ("GET /.a/b. HTTP/1.1\r\n" H11 "\r\n", ".a/b.", FALSE);
  assert_targets_refused (bad, G_N_ELEMENTS (bad));
}

static void
test_target_decoding (void)
{
  static const char *const bad[] = {
    "/%", "/%4", "/a%", "/%zz", "/%4g", "/%g4", "/%00", "/a%00b", "/%FF", "/%C3", "/%C3%28",
    "/%ED%A0%80", "/%C0%AF", "/%0A", "/%7F", "/%1F",
  };
  g_autofree char *a_max = g_strnfill (FC_NAME_MAX, 'a');
  g_autofree char *longest = g_strdup_printf ("GET /%s HTTP/1.1\r\n" H11 "\r\n", a_max);
  g_autofree char *too_long = g_strdup_printf ("GET /%sa HTTP/1.1\r\n" H11 "\r\n", a_max);
  g_autofree char *encoded = g_strdup_printf ("GET /%s%%41 HTTP/1.1\r\n" H11 "\r\n", a_max + 1);
  g_autofree char *encoded_long = g_strdup_printf ("GET /%s%%41 HTTP/1.1\r\n" H11 "\r\n", a_max);

  assert_done ("GET /%41%62 HTTP/1.1\r\n" H11 "\r\n", "Ab", FALSE);
  assert_done ("GET /a%20b HTTP/1.1\r\n" H11 "\r\n", "a b", FALSE);
  assert_done ("GET /a%2Fb HTTP/1.1\r\n" H11 "\r\n", "a/b", FALSE);
  assert_done ("GET /%2541 HTTP/1.1\r\n" H11 "\r\n", "%41", FALSE);
  assert_done ("GET /%F0%9F%98%80 HTTP/1.1\r\n" H11 "\r\n", "😀", FALSE);
  assert_targets_refused (bad, G_N_ELEMENTS (bad));

  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse (longest, &p), ==, FC_HTTP_DONE);
    g_assert_cmpuint (p->request.name_len, ==, FC_NAME_MAX);
    g_assert_true (fc_name_validate (p->request.name, p->request.name_len, NULL));
  }
  assert_refused (too_long, 400, FALSE);
  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse (encoded, &p), ==, FC_HTTP_DONE);
    g_assert_cmpuint (p->request.name_len, ==, FC_NAME_MAX);
    g_assert_cmpint (p->request.name[FC_NAME_MAX - 1], ==, 'A');
  }
  assert_refused (encoded_long, 400, FALSE);
}

/* ---- Bounds ---- */

/* The first @bound bytes of @text, whose end has not come by then, are
 * refused with @status; one byte fewer is still worth waiting for. */
static void
assert_bound (const char *text,
              gsize       bound,
              guint       status)
{
  g_autoptr(Parsed) before = NULL;
  g_autoptr(Parsed) at = NULL;

  g_assert_cmpint (parse_len (text, bound - 1, &before), ==, FC_HTTP_NEED_MORE);
  g_assert_cmpint (parse_len (text, bound, &at), ==, FC_HTTP_REFUSED);
  g_assert_cmpuint (at->refusal.status, ==, status);
  g_assert_true (at->refusal.close);
}

/* A request line of @line_len bytes, the query padded, then @ending. */
static char *
long_line (gsize       line_len,
           const char *ending)
{
  static const char start[] = "GET /a?";
  static const char end[] = " HTTP/1.1";
  char *line = g_malloc (line_len + strlen (ending) + 1);

  memcpy (line, start, sizeof start - 1);
  memset (line + sizeof start - 1, 'q', line_len - (sizeof start - 1));
  memcpy (line + line_len - (sizeof end - 1), end, sizeof end - 1);
  strcpy (line + line_len, ending);
  return line;
}

static void
test_bounds_line (void)
{
  /* RFC 9112 3: the request-line is counted without its CR LF. */
  g_autofree char *at = long_line (FC_HTTP_LINE_MAX, "\r\n");
  g_autofree char *at_lf = long_line (FC_HTTP_LINE_MAX, "\n");
  g_autofree char *past = long_line (FC_HTTP_LINE_MAX + 1, "\r\n");
  g_autofree char *past_lf = long_line (FC_HTTP_LINE_MAX + 1, "\n");
  g_autofree char *at_head = g_strconcat (at, H11 "\r\n", NULL);
  g_autofree char *at_lf_head = g_strconcat (at_lf, H11 "\r\n", NULL);
  g_autofree char *past_head = g_strconcat (past, H11 "\r\n", NULL);
  g_autofree char *past_lf_head = g_strconcat (past_lf, H11 "\r\n", NULL);
  g_autoptr(Parsed) r = NULL;

  assert_done (at_head, "a", FALSE);
  assert_done (at_lf_head, "a", FALSE);
  assert_refused (past_head, 414, TRUE);
  assert_refused (past_lf_head, 414, TRUE);
  /* Without its LF: wait up to the bound, no further; the CR of a line
   * of exactly the bound is waited past. */
  assert_bound (past, FC_HTTP_LINE_MAX + 1, 414);
  g_assert_cmpint (parse_len (at, FC_HTTP_LINE_MAX + 1, &r), ==, FC_HTTP_NEED_MORE);
  g_clear_pointer (&r, parsed_free);
  /* The line is counted from its start, after skipped empty lines. */
  {
    g_autofree char *lead = g_strconcat ("\r\n\r\n", at_head, NULL);

    g_assert_cmpint (parse (lead, &r), ==, FC_HTTP_DONE);
    g_assert_cmpuint (r->consumed, ==, strlen (lead));
  }
}

/* A head of exactly @head_len bytes: request line, Host, one padding
 * field and the final CR LF. */
static char *
long_head (gsize head_len)
{
  static const char start[] = "GET /a HTTP/1.1\r\n" H11 "X-Pad: ";
  char *head = g_malloc (head_len + 1);

  memcpy (head, start, sizeof start - 1);
  memset (head + sizeof start - 1, 'p', head_len - (sizeof start - 1));
  memcpy (head + head_len - 4, "\r\n\r\n", 5);
  return head;
}

static void
test_bounds_head (void)
{
  g_autofree char *at = long_head (FC_HTTP_HEAD_MAX);
  g_autofree char *past = long_head (FC_HTTP_HEAD_MAX + 1);

  assert_done (at, "a", FALSE);
  assert_refused (past, 431, TRUE);
  assert_bound (past, FC_HTTP_HEAD_MAX, 431);
}

static void
test_bounds_fields (void)
{
  g_autoptr(GString) at = g_string_new ("GET /a HTTP/1.1\r\n" H11);
  g_autoptr(GString) past = NULL;

  for (guint i = 1; i < FC_HTTP_FIELDS_MAX; i++)
    g_string_append_printf (at, "X-F%u: %u\r\n", i, i);
  past = g_string_new (at->str);
  g_string_append (at, "\r\n");
  g_string_append (past, "X-Last: 1\r\n\r\n");
  assert_done (at->str, "a", FALSE);
  assert_refused (past->str, 431, TRUE);
  /* Refused as soon as the 101st field line is whole. */
  g_string_truncate (past, past->len - 2);
  assert_refused (past->str, 431, TRUE);
}

/* ---- Strict framing ---- */

static void
test_framing_host (void)
{
  static const char *const good[] = {
    "h", "localhost", "localhost:3030", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:8080",
    "[2001:db8::1]", "[::ffff:1.2.3.4]", "[v1.x:y]", "a%41b", "host:", "files.example",
    "xn--bcher-kva.example", "a_b~c!$&'()*+,;=", "999.1.1.1", "Host.Example:65535", "", ":80", ":",
  };
  static const char *const bad[] = {
    "a b", "[::1", "[zz]", "[::1]x", "[]", "[v1]", "[v.x]", "a:b", "a:80x", "a/b",
    "a@b", "a?b", "a#b", "%4", "a%zz", "\xc3\xa9", "[::1]:80:80", "a\"b", "a<b", "h:80 h",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);

      assert_done (text, "a", FALSE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
      g_autofree char *text10 = g_strdup_printf ("GET /a HTTP/1.0\r\nHost: %s\r\n\r\n", bad[i]);

      assert_refused (text, 400, TRUE);
      assert_refused (text10, 400, TRUE);
    }

  assert_done ("GET /a HTTP/1.1\r\nhOsT: \t h \t\r\n\r\n", "a", FALSE);
  assert_refused ("GET /a HTTP/1.1\r\n\r\n", 400, TRUE);
  assert_refused ("GET /a HTTP/1.1\r\nX-Host: h\r\n\r\n", 400, TRUE);
  assert_done ("GET /a HTTP/1.0\r\n\r\n", "a", FALSE);
  assert_refused ("GET /a HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400, TRUE);
  assert_refused ("GET /a HTTP/1.0\r\nHost: h\r\nhost: i\r\n\r\n", 400, TRUE);
  /* Framing beats a refusal that would keep the connection. */
  assert_refused ("POST /a HTTP/1.1\r\n\r\n", 400, TRUE);
  assert_refused ("BREW /a HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400, TRUE);
}

static void
test_framing_lines (void)
{
  static const char *const bad[] = {
    "Host : h\r\n",
    "Host\t: h\r\n",
    "Ho(st: h\r\n",
    "H\xc3\xb6st: h\r\n",
    "X-A: 1\r\n x\r\n",
    "X-A: 1\r\n\tx\r\n",
    " X-A: 1\r\n",
    "X-A\r\n",
    ": x\r\n",
    "X-A: a\rb\r\n",
    "X-A: a\r\r\n",
    "\r\r\n",
    "X-A: a\000b\r\n",
    "X-A: a\x01\r\n",
    "X-A: \x1f\r\n",
    "X-A: a\x7f\r\n",
    "X-A: a\nb\r\n",
  };
  static const char *const good[] = {
    "X-A: a\tb\r\n",
    "X-A: caf\xc3\xa9 \x80\xff\r\n",
    "X-A:\r\n",
    "X-A:x\r\n",
    "X-A:   \r\n",
    "!#$%&'*+-.^_`|~09azAZ: x\r\n",
    "X-A: a:b: c\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      /* Lengths by hand: one of them has a NUL. */
      g_autoptr(GString) text = g_string_new ("GET /a HTTP/1.1\r\n" H11);
      g_autoptr(Parsed) p = NULL;
      gsize n = i == 12 ? sizeof ("X-A: a\x00" "b\r\n") - 1 : strlen (bad[i]);

      g_string_append_len (text, bad[i], (gssize) n);
      g_string_append (text, "\r\n");
      if (parse_len (text->str, text->len, &p) != FC_HTTP_REFUSED)
        g_error ("%s: accepted", bad[i]);
      g_assert_cmpuint (p->refusal.status, ==, 400);
      g_assert_true (p->refusal.close);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = g_strconcat ("GET /a HTTP/1.1\r\n" H11, good[i], "\r\n", NULL);

      assert_done (text, "a", FALSE);
    }

  /* A bare CR in the request line, even in a target it would refuse. */
  assert_refused ("GET /a\rb HTTP/1.1\r\n" H11 "\r\n", 400, TRUE);
  assert_refused ("GET /a HTTP/1.1\r" H11 "\r\n", 400, TRUE);
  /* LF alone ends every line (RFC 9112 2.2), mixed with CR LF too. */
  assert_done ("GET /a HTTP/1.1\n" H11 "\n", "a", FALSE);
  assert_done ("GET /a HTTP/1.1\nHost: h\n\r\n", "a", FALSE);
  assert_done ("GET /a HTTP/1.1\r\nHost: h\n\n", "a", FALSE);
}

static void
test_framing_length (void)
{
  static const char *const good[] = { "0", "00", "0, 0", "0,0", " 0 ", "000,000", "0, 00" };
  static const char *const bad[] = {
    "", "abc", "-1", "+0", "0x0", "1 2", "0,", ",0", "0,,0", "1, 2", "01, 2", "0 0", "0;x",
  };
  static const char *const body[] = { "1", "5", "5, 5", "01", "99999999999999999999999" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\n" H11 "Content-Length: %s\r\n\r\n",
                                               good[i]);

      assert_done (text, "a", FALSE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\n" H11 "Content-Length: %s\r\n\r\n",
                                               bad[i]);

      assert_refused (text, 400, TRUE);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (body); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\n" H11 "Content-Length: %s\r\n\r\n",
                                               body[i]);

      assert_refused (text, 413, TRUE);
    }
  assert_done ("GET /a HTTP/1.1\r\n" H11 "Content-Length: 0\r\ncontent-length: 0\r\n\r\n", "a", FALSE);
  /* Lengths that differ, not their text (HTTP.md "several that differ"). */
  assert_done ("GET /a HTTP/1.1\r\n" H11 "Content-Length: 0\r\nContent-Length: 00\r\n\r\n", "a", FALSE);
  assert_refused ("GET /a HTTP/1.1\r\n" H11 "Content-Length: 1\r\nContent-Length: 01\r\n\r\n", 413, TRUE);
  assert_refused ("GET /a HTTP/1.1\r\n" H11 "Content-Length: 0\r\nContent-Length: 1\r\n\r\n", 400, TRUE);
  assert_refused ("GET /a HTTP/1.1\r\n" H11 "Content-Length : 0\r\n\r\n", 400, TRUE);
  /* A body after a refused method must not become the next request. */
  assert_refused ("POST /a HTTP/1.1\r\n" H11 "Content-Length: 4\r\n\r\n", 413, TRUE);

  assert_refused ("GET /a HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n\r\n", 501, TRUE);
  assert_refused ("GET /a HTTP/1.1\r\n" H11 "transfer-encoding: identity\r\n\r\n", 501, TRUE);
  assert_refused ("GET /a HTTP/1.1\r\n" H11 "Transfer-Encoding:\r\n\r\n", 501, TRUE);
  assert_refused ("POST /a HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n\r\n", 501, TRUE);
}

/* ---- Connections (RFC 9112 9.3) ---- */

static void
test_connection (void)
{
  static const struct { const char *head; gboolean keep; gboolean echo; } cases[] = {
    { "GET /a HTTP/1.1\r\n" H11 "\r\n", TRUE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: close\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: Close\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: keep-alive, CLOSE\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: foo\r\nconnection: ,close,\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: keep-alive\r\n\r\n", TRUE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "Connection: closed\r\n\r\n", TRUE, FALSE },
    { "GET /a HTTP/1.1\r\n" H11 "X-Connection: close\r\n\r\n", TRUE, FALSE },
    { "GET /a HTTP/1.0\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", TRUE, TRUE },
    { "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", TRUE, TRUE },
    { "GET /a HTTP/1.0\r\nConnection: te, keep-alive \r\n\r\n", TRUE, TRUE },
    { "GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", FALSE, FALSE },
    { "GET /a HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", FALSE, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Parsed) p = NULL;

      g_assert_cmpint (parse (cases[i].head, &p), ==, FC_HTTP_DONE);
      if (p->request.keep_alive != cases[i].keep || p->request.echo_keep_alive != cases[i].echo)
        g_error ("%s: keep-alive %d, echo %d", cases[i].head, p->request.keep_alive,
                 p->request.echo_keep_alive);
    }

  /* A refusal that keeps the connection keeps it only if the request does. */
  assert_refused ("POST /a HTTP/1.1\r\n" H11 "\r\n", 405, FALSE);
  assert_refused ("POST /a HTTP/1.1\r\n" H11 "Connection: close\r\n\r\n", 405, TRUE);
  assert_refused ("POST /a HTTP/1.0\r\n\r\n", 405, TRUE);
  assert_refused ("POST /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 405, FALSE);
}

/* ---- Fields kept ---- */

static void
assert_slice (FcHttpSlice  slice,
              const char  *text)
{
  if (text == NULL)
    g_assert_null (slice.data);
  else
    g_assert_cmpmem (slice.data, slice.len, text, strlen (text));
}

static void
test_fields (void)
{
  g_autoptr(Parsed) p = NULL;
  g_autoptr(Parsed) none = NULL;
  g_autoptr(GString) many = g_string_new ("GET /a HTTP/1.1\r\n" H11);

  g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11
                          "RANGE: \t bytes=0-1 \t\r\n"
                          "Range: bytes=5-\r\n"
                          "If-Range: \"x\"\r\n"
                          "If-Range: \"y\"\r\n"
                          "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                          "If-Modified-Since: later\r\n"
                          "if-unmodified-since: Sun, 06 Nov 1994 08:49:37 GMT \r\n"
                          "If-Match: \"a\", \"b\"\r\n"
                          "If-Match: \"c\"\r\n"
                          "If-None-Match: *\r\n"
                          "Accept: application/json\r\n"
                          "Accept: text/html;q=0.5\r\n"
                          "Want-Repr-Digest: sha-512=3, sha-256=10\r\n"
                          "\r\n", &p), ==, FC_HTTP_DONE);
  assert_slice (p->request.range, "bytes=0-1");
  g_assert_true (p->request.range_repeated);
  /* One value each: a second line makes an invalid list, kept empty. */
  assert_slice (p->request.if_range, "");
  assert_slice (p->request.if_modified_since, "");
  assert_slice (p->request.if_unmodified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
  g_assert_cmpuint (p->request.if_match.n, ==, 2);
  assert_slice (p->request.if_match.lines[0], "\"a\", \"b\"");
  assert_slice (p->request.if_match.lines[1], "\"c\"");
  g_assert_cmpuint (p->request.if_none_match.n, ==, 1);
  assert_slice (p->request.if_none_match.lines[0], "*");
  g_assert_cmpuint (p->request.accept.n, ==, 2);
  assert_slice (p->request.accept.lines[1], "text/html;q=0.5");
  g_assert_true (p->request.want_sha256);

  g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "Range: bytes=1-\r\n\r\n", &none), ==, FC_HTTP_DONE);
  assert_slice (none->request.range, "bytes=1-");
  g_assert_false (none->request.range_repeated);
  assert_slice (none->request.if_range, NULL);
  assert_slice (none->request.if_modified_since, NULL);
  assert_slice (none->request.if_unmodified_since, NULL);
  g_assert_cmpuint (none->request.if_match.n + none->request.if_none_match.n + none->request.accept.n, ==, 0);
  g_assert_false (none->request.want_sha256);

  for (guint i = 0; i < FC_HTTP_LIST_MAX + 3; i++)
    g_string_append_printf (many, "If-None-Match: \"%u\"\r\n", i);
  g_string_append (many, "\r\n");
  {
    g_autoptr(Parsed) m = NULL;

    g_assert_cmpint (parse (many->str, &m), ==, FC_HTTP_DONE);
    g_assert_cmpuint (m->request.if_none_match.n, ==, FC_HTTP_LIST_MAX);
    assert_slice (m->request.if_none_match.lines[FC_HTTP_LIST_MAX - 1], "\"7\"");
  }
}

/* What the access log takes from a head: the request line as received,
 * Referer and User-Agent (the first of each). */
static void
test_log_fields (void)
{
  g_autoptr(Parsed) p = NULL;
  g_autoptr(Parsed) none = NULL;
  g_autoptr(Parsed) refused = NULL;

  g_assert_cmpint (parse ("\r\nGET /a.txt?q=1 HTTP/1.1\r\nHost: h\r\n"
                          "referer:  http://x/ \r\nUser-Agent: curl/7.88 \"q\"\r\n"
                          "Referer: http://second/\r\n\r\n", &p), ==, FC_HTTP_DONE);
  assert_slice (p->request.line, "GET /a.txt?q=1 HTTP/1.1");
  assert_slice (p->request.referer, "http://x/");
  assert_slice (p->request.user_agent, "curl/7.88 \"q\"");

  g_assert_cmpint (parse ("HEAD / HTTP/1.0\n\n", &none), ==, FC_HTTP_DONE);
  assert_slice (none->request.line, "HEAD / HTTP/1.0");
  assert_slice (none->request.referer, NULL);
  assert_slice (none->request.user_agent, NULL);

  g_assert_cmpint (parse ("POST /x HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n", &refused),
                   ==, FC_HTTP_REFUSED);
  assert_slice (refused->request.line, "POST /x HTTP/1.1");
  assert_slice (refused->request.user_agent, "u");
}

static void
test_want_repr_digest (void)
{
  static const struct { const char *value; gboolean want; } cases[] = {
    { "sha-256=1", TRUE },
    { "sha-256=10", TRUE },
    { "sha-256=11", FALSE },
    { "sha-256=999", FALSE },
    { "sha-256=0", FALSE },
    { "sha-256=-1", FALSE },
    { "sha-512=3, sha-256=1", TRUE },
    { "sha-256=1, sha-512=3", TRUE },
    { "sha-256=1, sha-256=0", FALSE },
    { "sha-256=0, sha-256=2", TRUE },
    { "sha-256=x, sha-256=2", TRUE },
    /* RFC 8941 4.2.2: the last member of a key wins, a Token here. */
    { "sha-256=2, sha-256=x", FALSE },
    { "SHA-256=1", FALSE },
    { "sha-256", FALSE },
    { "sha-256=", FALSE },
    { "sha-256=1.0", FALSE },
    { "sha-256=1;q=2", TRUE },
    { "sha-256=1x", FALSE },
    { "sha-256=1234567890123456", FALSE },
    { "sha-2560=1", FALSE },
    { "xsha-256=1", FALSE },
    { "sha-256 =1", FALSE },
    { "", FALSE },
    /* RFC 8941 4.2: a field that fails to parse is ignored whole. */
    { ",,sha-256=3,,", FALSE },
    { "sha-256=1,", FALSE },
    { "sha-256=2, ,", FALSE },
    { "sha-256=1,,sha-512=1", FALSE },
    { "sha-256=1, SHA-512=1", FALSE },
    { "X=1, sha-256=1", FALSE },
    { "x==1, sha-256=1", FALSE },
    { "sha-256=1, a=b=c", FALSE },
    { "sha-256=1, x=?2", FALSE },
    { "sha-256=1, x=\"unterminated", FALSE },
    { "sha-256=1, x=\"bad \\e\"", FALSE },
    { "sha-256=1;A=1", FALSE },
    { "sha-256=1 ; q=1", FALSE },
    { "sha-256=1 sha-512=1", FALSE },
    { "sha-256=1, x=(1 2", FALSE },
    { "sha-256=1, x=:AA", FALSE },
    { "sha-256=1, x=1234567890123.5", FALSE },
    { "sha-256=1, x=1.2345", FALSE },
    { "sha-256=1, x=caf\xc3\xa9", FALSE },
    /* Every kind of member RFC 8941 3 has, and OWS around commas. */
    { "a=\"x, y\\\"z\", sha-256=4", TRUE },
    { "sha-512=(1 \"two\" ?0);p=*t, sha-256=3;q", TRUE },
    { "a=:AAEC+/8=:, b=?1, c=-1.5, d=tok/en:x, e, *f=(), sha-256=2", TRUE },
    { "b=?0,\tsha-256=7\t", TRUE },
    { "sha-256=7, e;p=1;q", TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("GET /a HTTP/1.1\r\n" H11 "want-repr-digest: %s\r\n\r\n",
                                               cases[i].value);
      g_autoptr(Parsed) p = NULL;

      g_assert_cmpint (parse (text, &p), ==, FC_HTTP_DONE);
      if (p->request.want_sha256 != cases[i].want)
        g_error ("%s: %d", cases[i].value, p->request.want_sha256);
    }
  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "Want-Repr-Digest: sha-256=0\r\n"
                            "Want-Repr-Digest: sha-256=5\r\n\r\n", &p), ==, FC_HTTP_DONE);
    g_assert_true (p->request.want_sha256);
  }
  /* RFC 9110 5.3: lines join with commas, so an empty one is an empty
   * member and voids the field; alone it is an empty dictionary. */
  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "Want-Repr-Digest: sha-256=5\r\n"
                            "Want-Repr-Digest:\r\n\r\n", &p), ==, FC_HTTP_DONE);
    g_assert_false (p->request.want_sha256);
  }
  {
    g_autoptr(Parsed) p = NULL;

    g_assert_cmpint (parse ("GET /a HTTP/1.1\r\n" H11 "Want-Repr-Digest: sha-256=5\r\n"
                            "Want-Repr-Digest: sha-512=x,\r\n\r\n", &p), ==, FC_HTTP_DONE);
    g_assert_false (p->request.want_sha256);
  }
}

/* ---- Real clients ---- */

static const struct { const char *client; const char *head; const char *name; } clients[] = {
  { "curl",
    "GET /docs/readme.txt HTTP/1.1\r\nHost: localhost:3030\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n\r\n", "docs/readme.txt" },
  { "curl -r",
    "GET /big.iso HTTP/1.1\r\nHost: 127.0.0.1:3030\r\nRange: bytes=100-\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n\r\n", "big.iso" },
  { "wget",
    "GET /pub/file%20name.tar.gz HTTP/1.1\r\nHost: files.example:3030\r\nUser-Agent: Wget/1.21.3\r\n"
    "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: Keep-Alive\r\n\r\n", "pub/file name.tar.gz" },
  { "apt",
    "GET /./Packages HTTP/1.1\r\nHost: deb.example:3030\r\nUser-Agent: Debian APT-HTTP/1.3 (2.6.1)\r\n"
    "Accept: text/*\r\nIf-Modified-Since: Sun, 06 Dec 2026 16:40:00 GMT\r\n"
    "Cache-Control: max-age=0\r\n\r\n", "Packages" },
  { "apt by-hash",
    "GET /dists/bookworm/main/binary-amd64/by-hash/SHA256/0a1b HTTP/1.1\r\nHost: [::1]:3030\r\n"
    "User-Agent: Debian APT-HTTP/1.3 (2.6.1)\r\nRange: bytes=2048-\r\nIf-Range: Sun, 06 Dec 2026 16:40:00 GMT\r\n"
    "\r\n", "dists/bookworm/main/binary-amd64/by-hash/SHA256/0a1b" },
  { "aria2c",
    "GET /big.iso HTTP/1.1\r\nUser-Agent: aria2/1.36.0\r\nAccept: */*\r\nHost: localhost:3030\r\n"
    "Pragma: no-cache\r\nCache-Control: no-cache\r\nRange: bytes=0-1048575\r\n"
    "Want-Digest: SHA-256;q=1, SHA-512;q=1, SHA;q=0.1\r\n\r\n", "big.iso" },
  { "python urllib",
    "GET /data.json HTTP/1.1\r\nAccept-Encoding: identity\r\nHost: localhost:3030\r\n"
    "User-Agent: Python-urllib/3.11\r\nConnection: close\r\n\r\n", "data.json" },
  { "pip",
    "GET /simple/requests/ HTTP/1.1\r\nHost: localhost:3030\r\n"
    "User-Agent: pip/23.0.1 {\"ci\":null,\"cpu\":\"x86_64\",\"installer\":{\"name\":\"pip\",\"version\":\"23.0.1\"}}\r\n"
    "Accept-Encoding: gzip, deflate\r\nAccept: application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01\r\nConnection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n\r\n", "simple/requests" },
  { "chromium",
    "GET /index.html HTTP/1.1\r\nHost: localhost:3030\r\nConnection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"24\"\r\nsec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\nUpgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\nIf-None-Match: \"5f1c0a9e27d4b3c8\"\r\n"
    "If-Modified-Since: Mon, 30 Nov 2026 19:49:30 GMT\r\n\r\n", "index.html" },
  { "HTTP/1.0 tool",
    "GET /a.txt HTTP/1.0\r\nUser-Agent: ab/2.3\r\nAccept: */*\r\n\r\n", "a.txt" },
  { "curl HEAD",
    "HEAD /docs/ HTTP/1.1\r\nHost: localhost:3030\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
    "Want-Repr-Digest: sha-256=1\r\n\r\n", "docs" },
};

static void
test_clients (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autoptr(Parsed) p = NULL;

      g_assert_cmpint (fc_http_sniff (clients[i].head, strlen (clients[i].head)), ==, FC_SNIFF_HTTP);
      if (parse (clients[i].head, &p) != FC_HTTP_DONE)
        g_error ("%s: refused %u (%s)", clients[i].client, p->refusal.status, p->refusal.reason);
      g_assert_cmpuint (p->consumed, ==, strlen (clients[i].head));
      g_assert_cmpstr (p->request.name, ==, clients[i].name);
    }
}

/* Every proper prefix of a valid head asks for more, dropping only the
 * empty lines before it. */
static void
test_prefixes (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree char *text = g_strconcat ("\r\n\n", clients[i].head, NULL);
      gsize len = strlen (text);

      for (gsize k = 0; k < len; k++)
        {
          g_autoptr(Parsed) p = NULL;

          if (parse_len (text, k, &p) != FC_HTTP_NEED_MORE)
            g_error ("%s: prefix of %" G_GSIZE_FORMAT " bytes", clients[i].client, k);
          /* A lone CR may be the start of an empty line's CR LF. */
          g_assert_cmpuint (p->consumed, ==, k == 1 ? 0 : MIN (k, 3));
          g_assert_cmpint (fc_http_sniff (clients[i].head, MIN (k, strlen (clients[i].head))), !=,
                           FC_SNIFF_LINE);
        }
    }
  {
    g_autoptr(Parsed) p = NULL;
    g_autoptr(Parsed) q = NULL;

    g_assert_cmpint (parse ("\r\n\r\n", &p), ==, FC_HTTP_NEED_MORE);
    g_assert_cmpuint (p->consumed, ==, 4);
    g_assert_cmpint (parse ("\r\n\r", &q), ==, FC_HTTP_NEED_MORE);
    g_assert_cmpuint (q->consumed, ==, 2);
  }
}

static void
test_pipelined (void)
{
  g_autoptr(GString) stream = g_string_new (NULL);
  const char *names[] = { "docs/readme.txt", NULL, "Packages", "data.json" };
  gsize offset = 0;

  g_string_append (stream, clients[0].head);
  g_string_append (stream, "POST /a HTTP/1.1\r\n" H11 "\r\n");
  g_string_append (stream, "\r\n");
  g_string_append (stream, clients[3].head);
  g_string_append (stream, clients[6].head);
  g_string_append (stream, "GET /next HTTP/1.1\r\nHo");

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      FcHttpRequest request;
      FcHttpRefusal refusal;
      gsize consumed;
      FcHttpParse result = fc_http_parse (stream->str + offset, stream->len - offset,
                                          &request, &consumed, &refusal);

      if (names[i] == NULL)
        {
          g_assert_cmpint (result, ==, FC_HTTP_REFUSED);
          g_assert_cmpuint (refusal.status, ==, 405);
          g_assert_false (refusal.close);
        }
      else
        {
          g_assert_cmpint (result, ==, FC_HTTP_DONE);
          g_assert_cmpstr (request.name, ==, names[i]);
        }
      offset += consumed;
    }
  g_assert_cmpmem (stream->str + offset, stream->len - offset, "GET /next HTTP/1.1\r\nHo", 22);
  {
    FcHttpRequest request;
    FcHttpRefusal refusal;
    gsize consumed;

    g_assert_cmpint (fc_http_parse (stream->str + offset, stream->len - offset, &request,
                                    &consumed, &refusal), ==, FC_HTTP_NEED_MORE);
    g_assert_cmpuint (consumed, ==, 0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/http/sniff/http", test_sniff_http);
  g_test_add_func ("/http/fields/log", test_log_fields);
  g_test_add_func ("/http/sniff/line", test_sniff_line);
  g_test_add_func ("/http/sniff/partial", test_sniff_partial);
  g_test_add_func ("/http/sniff/long", test_sniff_long);
  g_test_add_func ("/http/sniff/tchar", test_sniff_tchar);
  g_test_add_func ("/http/parse/versions", test_versions);
  g_test_add_func ("/http/parse/methods", test_methods);
  g_test_add_func ("/http/parse/request-line", test_request_line);
  g_test_add_func ("/http/target/forms", test_target_forms);
  g_test_add_func ("/http/target/bytes", test_target_bytes);
  g_test_add_func ("/http/target/dots", test_target_dots);
  g_test_add_func ("/http/target/decoding", test_target_decoding);
  g_test_add_func ("/http/bounds/line", test_bounds_line);
  g_test_add_func ("/http/bounds/head", test_bounds_head);
  g_test_add_func ("/http/bounds/fields", test_bounds_fields);
  g_test_add_func ("/http/framing/host", test_framing_host);
  g_test_add_func ("/http/framing/lines", test_framing_lines);
  g_test_add_func ("/http/framing/length", test_framing_length);
  g_test_add_func ("/http/connection", test_connection);
  g_test_add_func ("/http/fields/kept", test_fields);
  g_test_add_func ("/http/fields/want-repr-digest", test_want_repr_digest);
  g_test_add_func ("/http/clients", test_clients);
  g_test_add_func ("/http/clients/prefixes", test_prefixes);
  g_test_add_func ("/http/pipelined", test_pipelined);

  return g_test_run ();
}
