/* A whole HTTP connection: the input is sent to a real server (in this
 * process, over loopback, HTTP and directory listings on) as a client's
 * bytes, then the write side is closed, and the reply stream is held
 * against HTTP.md. fc_http_sniff() and fc_http_parse(), fuzzed on their
 * own by fuzz-http-parse, say which requests the input holds; every one
 * must get exactly one well-formed response, in order, up to the first
 * that says `Connection: close`, and each response must be the right
 * one for its name, method, range and conditions, with the file's exact
 * bytes. */
#include <string.h>

#include "contract.h"
#include "http-parse.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* More fields than any response of the daemon has. */
#define FIELDS_MAX 24
/* `Sun, 06 Nov 1994 08:49:37 GMT` */
#define IMF_FIXDATE_LEN 29
/* `"` 16 lowercase hex digits `"` */
#define ETAG_LEN 18

/* (element-type utf8 utf8): the ETag each name was first answered with;
 * no file changes while the process lives, so neither may its ETag. */
static GHashTable *etags;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fz_serve ("fuzz-http-connection", TRUE, TRUE);
  etags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return 0;
}

typedef struct {
  const char *name;
  gsize name_len;
  const char *value;
  gsize value_len;
} Field;

typedef struct {
  guint status;
  Field fields[FIELDS_MAX];
  guint n_fields;
  guint64 content_length;
  const guint8 *body;           /* (nullable): NULL for HEAD and 304 */
} Response;

typedef struct {
  const guint8 *data;
  gsize len;
  gsize pos;
} Reader;

static gboolean
is_tchar (guint8 c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean
is_control (guint8 c)
{
  return c < 0x20 || c == 0x7f;
}

/* The next line of the response, which must end in CR LF: returns its
 * start and sets @len to its length without the CR LF. */
static const char *
next_line (Reader     *r,
           gsize      *len,
           const char *what)
{
  const guint8 *start = r->data + r->pos;
  const guint8 *lf;

  FZ_CHECK (r->pos < r->len, "no response to %s", what);
  lf = memchr (start, '\n', r->len - r->pos);
  FZ_CHECK (lf != NULL, "no whole response head to %s", what);
  FZ_CHECK (lf > start && lf[-1] == '\r', "a line of the response to %s ends in LF alone", what);
  *len = (gsize) (lf - 1 - start);
  for (gsize i = 0; i < *len; i++)
    FZ_CHECK (!is_control (start[i]), "control byte 0x%02x in \"%.*s\", the response to %s",
              start[i], (int) *len, (const char *) start, what);
  r->pos = (gsize) (lf + 1 - r->data);
  return (const char *) start;
}

static const Field *
find_field (const Response *resp,
            const char     *name)
{
  for (guint i = 0; i < resp->n_fields; i++)
    if (resp->fields[i].name_len == strlen (name) &&
        g_ascii_strncasecmp (resp->fields[i].name, name, resp->fields[i].name_len) == 0)
      return &resp->fields[i];
  return NULL;
}

static gboolean
field_is (const Response *resp,
          const char     *name,
          const char     *value)
{
  const Field *f = find_field (resp, name);

  return f != NULL && f->value_len == strlen (value) && memcmp (f->value, value, f->value_len) == 0;
}

/* `HTTP/1.1 NNN Reason` CR LF, field lines `token: value` CR LF, each
 * name once, an empty line, then exactly Content-Length bytes of body
 * unless @head or the status is 304. */
static void
read_response (Reader     *r,
               gboolean    head,
               Response   *resp,
               const char *what)
{
  gsize len;
  const char *line = next_line (r, &len, what);
  const Field *f;

  *resp = (Response) { 0 };
  FZ_CHECK (len > 13 && memcmp (line, "HTTP/1.1 ", 9) == 0 && line[9] >= '1' && line[9] <= '5' &&
            g_ascii_isdigit (line[10]) && g_ascii_isdigit (line[11]) && line[12] == ' ',
            "status line \"%.*s\" for %s", (int) len, line, what);
  resp->status = (guint) ((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));

  while ((line = next_line (r, &len, what)), len > 0)
    {
      const char *colon = memchr (line, ':', len);
      Field *field = &resp->fields[resp->n_fields];

      FZ_CHECK (resp->n_fields < FIELDS_MAX, "more than %d fields in the response to %s", FIELDS_MAX, what);
      FZ_CHECK (colon != NULL && colon > line, "field line \"%.*s\" for %s", (int) len, line, what);
      for (const char *c = line; c < colon; c++)
        FZ_CHECK (is_tchar ((guint8) *c), "field line \"%.*s\" for %s", (int) len, line, what);
      field->name = line;
      field->name_len = (gsize) (colon - line);
      field->value = colon + 1;
      field->value_len = len - field->name_len - 1;
      while (field->value_len > 0 && field->value[0] == ' ')
        field->value++, field->value_len--;
      FZ_CHECK (field->value_len == 0 || field->value[field->value_len - 1] != ' ',
                "trailing space in \"%.*s\" for %s", (int) len, line, what);
      for (guint i = 0; i < resp->n_fields; i++)
        FZ_CHECK (resp->fields[i].name_len != field->name_len ||
                  g_ascii_strncasecmp (resp->fields[i].name, field->name, field->name_len) != 0,
                  "field \"%.*s\" twice for %s", (int) field->name_len, field->name, what);
      resp->n_fields++;
    }

  f = find_field (resp, "Date");
  FZ_CHECK (f != NULL && f->value_len == IMF_FIXDATE_LEN &&
            memcmp (f->value + IMF_FIXDATE_LEN - 4, " GMT", 4) == 0,
            "no IMF-fixdate Date in the %u for %s", resp->status, what);

  f = find_field (resp, "Content-Length");
  if (resp->status == 304)
    {
      FZ_CHECK (f == NULL, "a 304 with a Content-Length for %s", what);
      return;
    }
  FZ_CHECK (f != NULL && fz_number_ok (f->value, f->value_len, &resp->content_length),
            "no Content-Length in the %u for %s", resp->status, what);
  if (head)
    return;
  FZ_CHECK (resp->content_length <= r->len - r->pos, "a body of %" G_GUINT64_FORMAT
            " cut short in the %u for %s", resp->content_length, resp->status, what);
  resp->body = r->data + r->pos;
  r->pos += resp->content_length;
}

/* HTTP.md "Errors": a short text/plain body, the reason in English. */
static void
check_error (const Response *resp,
             gboolean        head,
             const char     *what)
{
  FZ_CHECK (field_is (resp, "Content-Type", "text/plain; charset=utf-8") && resp->content_length > 0,
            "the %u for %s is not a short text/plain", resp->status, what);
  FZ_CHECK (head || resp->body[resp->content_length - 1] == '\n',
            "the %u for %s: its body does not end in LF", resp->status, what);
  FZ_CHECK (find_field (resp, "ETag") == NULL, "an ETag on the %u for %s", resp->status, what);
}

/* `Connection: close` exactly when the server closes after the response;
 * `Connection: keep-alive` echoed to HTTP/1.0 that asked for it. The
 * response to the last whole request before the client's half-close
 * may say `Connection: close` either way (@may_close): the server says
 * it when it has heard of the half-close by then. */
static void
check_connection (const Response *resp,
                  gboolean        close,
                  gboolean        echo,
                  gboolean        may_close,
                  const char     *what)
{
  const Field *f = find_field (resp, "Connection");

  if (may_close && field_is (resp, "Connection", "close"))
    return;
  if (close)
    FZ_CHECK (field_is (resp, "Connection", "close"), "no Connection: close for %s", what);
  else if (echo)
    FZ_CHECK (field_is (resp, "Connection", "keep-alive"), "no Connection: keep-alive for %s", what);
  else
    FZ_CHECK (f == NULL, "Connection: %.*s for %s", (int) f->value_len, f->value, what);
}

static gboolean
slice_is (FcHttpSlice  slice,
          const char  *text)
{
  return slice.len == strlen (text) && memcmp (slice.data, text, slice.len) == 0;
}

/* Up to 15 decimal digits at *@p, before @end. */
static gboolean
take_digits (const char **p,
             const char  *end,
             guint64     *value)
{
  const char *start = *p;

  *value = 0;
  while (*p < end && g_ascii_isdigit (**p) && *p - start < 15)
    *value = *value * 10 + (guint64) (*(*p)++ - '0');
  return *p > start && (*p == end || !g_ascii_isdigit (**p));
}

/* HTTP.md "Range" written again for its plainest shapes: `bytes=a-b`,
 * `bytes=a-` and `bytes=-n`, digits only. Returns the status a GET with
 * this Range (and no condition) must get, with the bytes of a 206 in
 * @first and @last; 0 for any other shape, which is not judged here. */
static guint
expect_range (FcHttpSlice  range,
              guint64      size,
              guint64     *first,
              guint64     *last)
{
  const char *p = range.data + 6;
  const char *end = range.data + range.len;
  guint64 a = 0, b = 0;
  gboolean has_a, has_b;

  if (range.len < 7 || memcmp (range.data, "bytes=", 6) != 0)
    return 0;
  has_a = take_digits (&p, end, &a);
  if (p == end || *p != '-')
    return 0;
  p++;
  has_b = take_digits (&p, end, &b);
  if (p != end)
    return 0;

  if (!has_a && !has_b)
    return 200;                 /* `bytes=-`: a syntax error, ignored */
  if (!has_a)
    {
      if (b == 0)
        return 416;
      if (size == 0)
        return 0;               /* a suffix of nothing: RFC 9110 leaves it open */
      *first = size - MIN (b, size);
      *last = size - 1;
      return 206;
    }
  if (has_b && b < a)
    return 200;                 /* invalid, so ignored (RFC 9110 14.1.1) */
  if (a >= size)
    return 416;
  *first = a;
  *last = has_b ? MIN (b, size - 1) : size - 1;
  return 206;
}

/* `bytes a-b/size` */
static void
parse_content_range (const Response *resp,
                     guint64         size,
                     guint64        *first,
                     guint64        *last,
                     const char     *what)
{
  const Field *f = find_field (resp, "Content-Range");
  g_autofree char *value = f != NULL ? g_strndup (f->value, f->value_len) : NULL;
  g_autofree char *expected = NULL;
  const char *dash = NULL, *slash = NULL;

  FZ_CHECK (value != NULL && g_str_has_prefix (value, "bytes ") &&
            (dash = strchr (value, '-')) != NULL && (slash = strchr (dash, '/')) != NULL &&
            fz_number_ok (value + 6, (gsize) (dash - value - 6), first) &&
            fz_number_ok (dash + 1, (gsize) (slash - dash - 1), last) &&
            *first <= *last && *last < size,
            "Content-Range \"%s\" of a file of %" G_GUINT64_FORMAT " for %s",
            value != NULL ? value : "", size, what);
  expected = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  FZ_CHECK (g_str_equal (slash + 1, expected), "Content-Range \"%s\" of a file of %s for %s",
            value, expected, what);
}

/* `sha-256=:<base64>:` of the whole file, RFC 9530. */
static void
check_repr_digest (const Response      *resp,
                   const FcHttpRequest *req,
                   GBytes              *content,
                   const char          *what)
{
  const Field *f = find_field (resp, "Repr-Digest");
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *b64 = NULL;
  g_autofree char *expected = NULL;

  if (f == NULL)
    {
      FZ_CHECK (!req->want_sha256, "no Repr-Digest in the %u for %s, which wants it",
                resp->status, what);
      return;
    }
  g_checksum_update (sum, g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  g_checksum_get_digest (sum, digest, &digest_len);
  b64 = g_base64_encode (digest, digest_len);
  expected = g_strconcat ("sha-256=:", b64, ":", NULL);
  FZ_CHECK (field_is (resp, "Repr-Digest", expected), "Repr-Digest \"%.*s\" for %s, not \"%s\"",
            (int) f->value_len, f->value, what, expected);
}

/* Whether the @len bytes at @s are all lowercase hex digits: a field's
 * value is no C string (strspn() would read past it). */
static gboolean
all_hex (const char *s,
         gsize       len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* ETag, Last-Modified; the ETag one name has always had. */
static void
check_validators (const Response *resp,
                  const char     *name,
                  const char     *what)
{
  const Field *f = find_field (resp, "ETag");
  const char *known;

  FZ_CHECK (f != NULL && f->value_len == ETAG_LEN && f->value[0] == '"' && f->value[ETAG_LEN - 1] == '"' &&
            all_hex (f->value + 1, ETAG_LEN - 2),
            "no ETag of 16 lowercase hex digits in the %u for %s", resp->status, what);
  known = g_hash_table_lookup (etags, name);
  if (known == NULL)
    g_hash_table_insert (etags, g_strdup (name), g_strndup (f->value, f->value_len));
  else
    FZ_CHECK (memcmp (known, f->value, ETAG_LEN) == 0, "ETag %.*s for %s, %s before",
              ETAG_LEN, f->value, what, known);
  f = find_field (resp, "Last-Modified");
  FZ_CHECK (f != NULL && f->value_len == IMF_FIXDATE_LEN, "no Last-Modified in the %u for %s",
            resp->status, what);
}

/* The status a request's conditions must get, where the harness knows
 * the file's ETag and the conditions are plain: 304 for `If-None-Match`
 * naming it or `*` (and no If-Match or If-Unmodified-Since), 0 where
 * not judged. */
static guint
expect_conditions (const FcHttpRequest *req,
                   const char          *name)
{
  const char *etag = g_hash_table_lookup (etags, name);

  if (etag == NULL || req->if_match.n > 0 || req->if_unmodified_since.data != NULL ||
      req->if_none_match.n != 1)
    return 0;
  return slice_is (req->if_none_match.lines[0], etag) ||
         slice_is (req->if_none_match.lines[0], "*") ? 304 : 0;
}

/* A GET or HEAD of a served regular file. */
static void
check_file (const FcHttpRequest *req,
            const Response      *resp,
            const char          *name,
            GBytes              *content,
            const char          *what)
{
  gsize size = g_bytes_get_size (content);
  const guint8 *bytes = g_bytes_get_data (content, NULL);
  gboolean get = req->method == FC_HTTP_GET;
  gboolean ranged = get && req->range.data != NULL;
  gboolean if_none = req->if_none_match.n > 0 || req->if_modified_since.data != NULL;
  gboolean if_match = req->if_match.n > 0 || req->if_unmodified_since.data != NULL;
  guint64 first = 0, last = 0, want_first = 0, want_last = 0;
  guint want = 0;
  guint conditional = expect_conditions (req, name);

  if (!if_none && !if_match)
    {
      if (!ranged || req->range_repeated)
        want = 200;
      else if (req->if_range.data == NULL)
        want = expect_range (req->range, size, &want_first, &want_last);
    }
  FZ_CHECK (want == 0 || resp->status == want, "%u for %s, not %u", resp->status, what, want);
  FZ_CHECK (conditional == 0 || resp->status == conditional, "%u for %s, not %u",
            resp->status, what, conditional);

  switch (resp->status)
    {
    case 200:
      FZ_CHECK (resp->content_length == size, "a 200 of %" G_GUINT64_FORMAT " bytes for %s, of a file of %"
                G_GSIZE_FORMAT, resp->content_length, what, size);
      FZ_CHECK (!get || size == 0 || memcmp (resp->body, bytes, size) == 0,
                "the body of the 200 for %s is not the file's content", what);
      break;
    case 206:
      FZ_CHECK (ranged, "a 206 for %s, which has no Range", what);
      parse_content_range (resp, size, &first, &last, what);
      FZ_CHECK (want == 0 || (first == want_first && last == want_last),
                "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " for %s, not %" G_GUINT64_FORMAT
                "-%" G_GUINT64_FORMAT, first, last, what, want_first, want_last);
      FZ_CHECK (resp->content_length == last - first + 1 &&
                memcmp (resp->body, bytes + first, last - first + 1) == 0,
                "the body of the 206 for %s is not bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                " of the file", what, first, last);
      break;
    case 304:
      FZ_CHECK (if_none, "a 304 for %s, which has no If-None-Match or If-Modified-Since", what);
      break;
    case 412:
      FZ_CHECK (if_match, "a 412 for %s, which has no If-Match or If-Unmodified-Since", what);
      return;
    case 416:
      {
        g_autofree char *expected = g_strdup_printf ("bytes */%" G_GSIZE_FORMAT, size);

        FZ_CHECK (ranged, "a 416 for %s, which has no Range", what);
        FZ_CHECK (field_is (resp, "Content-Range", expected), "no Content-Range: %s in the 416 for %s",
                  expected, what);
        return;
      }
    default:
      FZ_CHECK (FALSE, "%u for %s, a file served", resp->status, what);
    }

  check_validators (resp, name, what);
  if (resp->status == 304)
    return;
  FZ_CHECK (field_is (resp, "Accept-Ranges", "bytes") && find_field (resp, "Content-Type") != NULL &&
            field_is (resp, "X-Content-Type-Options", "nosniff"),
            "the %u for %s lacks Accept-Ranges, Content-Type or X-Content-Type-Options",
            resp->status, what);
  check_repr_digest (resp, req, content, what);
}

/* The listing of `/` or `/sub/` (HTTP.md "Directories"), which names
 * @entry; or, where If-Match or If-None-Match was sent (RFC 9110
 * 13.2.1), a 412 or a 304 instead. */
static void
check_listing (const FcHttpRequest *req,
               const Response      *resp,
               const char          *entry,
               const char          *what)
{
  if (req->if_match.n > 0 && resp->status == 412)
    return;
  if (req->if_none_match.n > 0 && resp->status == 304)
    {
      FZ_CHECK (field_is (resp, "Cache-Control", "no-cache") && find_field (resp, "ETag") == NULL,
                "the 304 for %s has an ETag or no Cache-Control: no-cache", what);
      return;
    }
  FZ_CHECK (resp->status == 200, "%u for %s, a directory listed", resp->status, what);
  FZ_CHECK (field_is (resp, "Content-Type", "text/html; charset=utf-8") ||
            field_is (resp, "Content-Type", "application/json"),
            "the listing for %s is neither HTML nor JSON", what);
  FZ_CHECK (field_is (resp, "Cache-Control", "no-cache") && find_field (resp, "ETag") == NULL,
            "the listing for %s has an ETag or no Cache-Control: no-cache", what);
  FZ_CHECK (req->method == FC_HTTP_HEAD ||
            memmem (resp->body, resp->content_length, entry, strlen (entry)) != NULL,
            "the listing for %s does not name \"%s\"", what, entry);
}

/* One request fc_http_parse() accepted; @last: no whole request follows
 * it before the client's half-close. */
static void
check_request (const FcHttpRequest *req,
               const Response      *resp,
               gboolean             last,
               const char          *what)
{
  g_autofree char *name = g_strndup (req->name, req->name_len);
  GBytes *content = fz_served (name);
  gboolean head = req->method == FC_HTTP_HEAD;

  check_connection (resp, !req->keep_alive, req->echo_keep_alive, last, what);
  if (resp->status >= 300 && resp->status != 304)
    check_error (resp, head, what);

  if (req->name_len == 0)
    check_listing (req, resp, "small", what);
  else if (g_str_equal (name, "sub") && req->trailing_slash)
    check_listing (req, resp, "inner", what);
  else if (g_str_equal (name, "sub"))
    {
      g_autofree char *location = g_strdup_printf ("%.*s/", (int) req->path.len, req->path.data);

      FZ_CHECK (resp->status == 301 && field_is (resp, "Location", location),
                "%u for %s, not 301 to %s", resp->status, what, location);
    }
  else if (content != NULL && !req->trailing_slash)
    check_file (req, resp, name, content, what);
  else if (content != NULL)
    FZ_CHECK (resp->status == 404, "%u for %s, a file with a trailing slash", resp->status, what);
  else if (fz_forbidden (name) && !req->trailing_slash)
    FZ_CHECK (resp->status == 403, "%u for %s, not served", resp->status, what);
  else
    FZ_CHECK (resp->status == 403 || resp->status == 404, "%u for %s, not served", resp->status, what);
}

/* The line protocol's replies begin `OK` or `ERR `; fuzz-connection
 * checks the rest. */
static void
check_line_protocol (const GByteArray *replies)
{
  FZ_CHECK (replies->len == 0 ||
            (replies->len >= 2 && memcmp (replies->data, "OK", 2) == 0) ||
            (replies->len >= 4 && memcmp (replies->data, "ERR ", 4) == 0),
            "a line-protocol connection answered \"%.*s\"", (int) MIN (replies->len, 40),
            (const char *) replies->data);
}

/* The requests of @data, walked as the daemon parses them, each against
 * its response in @replies. */
static void
check_responses (const guint8     *data,
                 gsize             size,
                 const GByteArray *replies)
{
  Reader r = { replies->data, replies->len, 0 };
  gsize offset = 0;

  for (;;)
    {
      const char *head = (const char *) data + offset;
      const char *lf = memchr (head, '\n', MIN (size - offset, 64));
      g_autofree char *what = NULL;
      g_autofree char *line = NULL;
      g_autofree char *escaped = NULL;
      FcHttpRequest req;
      FcHttpRefusal refusal;
      Response resp;
      gsize consumed = 0;
      FcHttpParse result = fc_http_parse (head, size - offset, &req, &consumed, &refusal);

      if (result == FC_HTTP_NEED_MORE)
        break;                  /* a request left unfinished gets no response */

      line = g_strndup (head, lf != NULL ? (gsize) (lf - head) : MIN (size - offset, 64));
      g_strchomp (line);
      escaped = g_strescape (line, NULL);
      what = g_strdup_printf ("the request at byte %" G_GSIZE_FORMAT " (\"%s\")", offset, escaped);
      if (result == FC_HTTP_REFUSED)
        {
          read_response (&r, refusal.head, &resp, what);
          FZ_CHECK (resp.status == refusal.status, "%u for %s, refused with %u", resp.status, what,
                    refusal.status);
          check_error (&resp, refusal.head, what);
          check_connection (&resp, refusal.close, refusal.echo_keep_alive, FALSE, what);
          FZ_CHECK (resp.status != 405 || field_is (&resp, "Allow", "GET, HEAD"),
                    "no Allow: GET, HEAD in the 405 for %s", what);
          if (refusal.close)
            break;
        }
      else
        {
          FcHttpRequest next;
          FcHttpRefusal next_refusal;
          gsize next_consumed;
          gboolean last = offset + consumed == size ||
                          fc_http_parse (head + consumed, size - offset - consumed, &next,
                                         &next_consumed, &next_refusal) == FC_HTTP_NEED_MORE;

          read_response (&r, req.method == FC_HTTP_HEAD, &resp, what);
          check_request (&req, &resp, last, what);
          if (!req.keep_alive || field_is (&resp, "Connection", "close"))
            break;
        }
      offset += consumed;
    }

  FZ_CHECK (r.pos == r.len, "%" G_GSIZE_FORMAT " bytes after the last response", r.len - r.pos);
}


int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GByteArray) replies = fz_exchange (&data, size);

  switch (fc_http_sniff ((const char *) data, size))
    {
    case FC_SNIFF_NEED_MORE:
      FZ_CHECK (replies->len == 0, "%u bytes for an unfinished first line", replies->len);
      break;
    case FC_SNIFF_LINE:
      check_line_protocol (replies);
      break;
    case FC_SNIFF_HTTP:
    default:
      check_responses (data, size, replies);
      break;
    }
  return 0;
}
