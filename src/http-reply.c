#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include "digest.h"
#include "http-date.h"
#include "http-reply.h"
#include "protocol.h"

/* A bounded writer into a caller's buffer of FC_HTTP_REPLY_MAX bytes:
 * every head is far below that but for a `Location`, whose path the
 * parser bounded to FC_HTTP_LINE_MAX (three times that, encoded). */
typedef struct {
  char *p;
  char *end;
} Out;

static void
put (Out        *out,
     const char *text,
     gsize       len)
{
  g_assert ((gsize) (out->end - out->p) >= len);
  memcpy (out->p, text, len);
  out->p += len;
}

#define PUT(out, literal) put (out, literal, sizeof (literal) - 1)

static void
put_str (Out        *out,
         const char *text)
{
  put (out, text, strlen (text));
}

static void
put_uint (Out     *out,
          guint64  value)
{
  char digits[20];

  put (out, digits, fc_format_uint (digits, value));
}

/* splitmix64's finalizer (Steele, Lea, Flood 2014): a fixed function, so
 * an ETag is the same in every run of the daemon for the same version. */
static guint64
mix (guint64 h,
     guint64 value)
{
  h ^= value + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

/**
 * fc_http_etag:
 * @id: a version of a file
 * @etag: (out caller-allocates): its strong entity tag, quotes included,
 *   NUL-terminated
 *
 * HTTP.md: a function of the version (device, inode, size, mtime and
 * ctime, the identity `STAT`'s digests are kept by), so it changes
 * whenever the content can have and is the same across restarts. Any
 * thread.
 */
void
fc_http_etag (const FcFileId *id,
              char            etag[FC_HTTP_ETAG_LEN + 1])
{
  static const char hex[] = "0123456789abcdef";
  guint64 h = 0;

  h = mix (h, id->dev);
  h = mix (h, id->ino);
  h = mix (h, id->size);
  h = mix (h, (guint64) id->mtime_ns);
  h = mix (h, (guint64) id->ctime_ns);

  etag[0] = '"';
  for (int i = 0; i < 16; i++)
    etag[1 + i] = hex[(h >> (60 - 4 * i)) & 0xf];
  etag[17] = '"';
  etag[18] = '\0';
}

static gboolean
is_ows (char c)
{
  return c == ' ' || c == '\t';
}

typedef enum {
  TAGS_ABSENT,                  /* no field, or one that is not valid: ignored */
  TAGS_MATCH,
  TAGS_NO_MATCH,
} TagsVerdict;

/* RFC 9110 8.8.3 and 13.1.1-2: If-Match / If-None-Match = "*" /
 * #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc =
 * %x21 / %x23-7E / obs-text; the list rule (5.6.1) allows empty
 * members. A field that is neither (`"a"x`, `"a" "b"`, `*, "a"`) is
 * invalid as a whole, and ignored as if absent: no member of it is
 * trusted to match. Otherwise, whether it names @etag (%NULL: the
 * representation has none, which only `*` names): strongly (both
 * strong, same opaque tag) or weakly (same opaque tag). */
static TagsVerdict
etag_list_compare (const FcHttpList *lines,
                   const char       *etag,
                   gboolean          strong)
{
  guint members = 0;
  gboolean star = FALSE;
  gboolean matched = FALSE;

  if (lines->n == 0)
    return TAGS_ABSENT;
  for (guint i = 0; i < lines->n; i++)
    {
      const char *p = lines->lines[i].data;
      const char *end = p + lines->lines[i].len;

      for (;;)
        {
          while (p < end && is_ows (*p))
            p++;
          if (p < end && *p != ',')
            {
              members++;
              if (*p == '*')
                star = TRUE, p++;
              else
                {
                  gboolean weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
                  const char *open;

                  if (weak)
                    p += 2;
                  if (p == end || *p != '"')
                    return TAGS_ABSENT;
                  open = p++;
                  while (p < end && *p != '"')
                    if ((guchar) *p++ < 0x21)
                      return TAGS_ABSENT;
                  if (p++ == end)
                    return TAGS_ABSENT;
                  if (etag != NULL && (!strong || !weak) && p - open == FC_HTTP_ETAG_LEN &&
                      memcmp (open, etag, FC_HTTP_ETAG_LEN) == 0)
                    matched = TRUE;
                }
              while (p < end && is_ows (*p))
                p++;
            }
          if (p == end)
            break;
          if (*p++ != ',')
            return TAGS_ABSENT;
        }
    }
  if (star && members != 1)
    return TAGS_ABSENT;
  return star || matched ? TAGS_MATCH : TAGS_NO_MATCH;
}

/* An HTTP-date field: an invalid date is ignored (HTTP.md), as absent. */
static gboolean
slice_date (const FcHttpSlice *slice,
            gint64            *when)
{
  return slice->data != NULL && fc_http_date_parse (slice->data, slice->len, when);
}

/* Digits with no sign, saturating at G_MAXUINT64: a position past any
 * file is past this one. Returns the end of the digits, or NULL for none. */
static const char *
parse_pos (const char *p,
           const char *end,
           guint64    *value)
{
  const char *start = p;

  *value = 0;
  for (; p < end && g_ascii_isdigit (*p); p++)
    {
      guint d = (guint) (*p - '0');

      *value = *value > (G_MAXUINT64 - d) / 10 ? G_MAXUINT64 : *value * 10 + d;
    }
  return p == start ? NULL : p;
}

typedef enum {
  RANGE_IGNORED,                /* absent, several, another unit, malformed: send it all */
  RANGE_SATISFIABLE,
  RANGE_UNSATISFIABLE,
} RangeKind;

/* RFC 9110 14.1.2: one range-spec, `a-b`, `a-` or `-n`, from @p to
 * @end, OWS trimmed. */
static RangeKind
parse_range_spec (const char *p,
                  const char *end,
                  guint64     size,
                  guint64    *first,
                  guint64    *last)
{
  guint64 a, b;

  if (p < end && *p == '-')
    {
      p = parse_pos (p + 1, end, &b);
      while (p != NULL && p < end && is_ows (*p))
        p++;
      if (p != end)
        return RANGE_IGNORED;
      /* A suffix starts at the end of an empty file, or with -0. */
      if (b == 0 || size == 0)
        return RANGE_UNSATISFIABLE;
      *first = b >= size ? 0 : size - b;
      *last = size - 1;
      return RANGE_SATISFIABLE;
    }

  p = parse_pos (p, end, &a);
  if (p == NULL || p == end || *p != '-')
    return RANGE_IGNORED;
  p++;
  b = G_MAXUINT64;
  if (p < end && g_ascii_isdigit (*p))
    {
      p = parse_pos (p, end, &b);
      if (b < a)
        return RANGE_IGNORED;
    }
  while (p < end && is_ows (*p))
    p++;
  if (p != end)
    return RANGE_IGNORED;
  if (a >= size)
    return RANGE_UNSATISFIABLE;
  *first = a;
  *last = MIN (b, size - 1);
  return RANGE_SATISFIABLE;
}

/* RFC 9110 14.1.1: `bytes=` and a range-set, a list whose empty members
 * count for nothing (5.6.1.2: `bytes=0-1,` is one range). One range-spec
 * only (HTTP.md); none, several, or another unit: ignored. */
static RangeKind
parse_range (const FcHttpSlice *slice,
             guint64            size,
             guint64           *first,
             guint64           *last)
{
  const char *p = slice->data;
  const char *end = p + slice->len;
  const char *spec = NULL;
  const char *spec_end = NULL;

  if (end - p < 6 || g_ascii_strncasecmp (p, "bytes=", 6) != 0)
    return RANGE_IGNORED;
  for (p += 6;; p++)
    {
      const char *comma = memchr (p, ',', (gsize) (end - p));
      const char *stop = comma != NULL ? comma : end;

      while (p < stop && is_ows (*p))
        p++;
      if (p < stop)
        {
          if (spec != NULL)
            return RANGE_IGNORED;
          spec = p;
          spec_end = stop;
        }
      if (comma == NULL)
        break;
      p = comma;
    }
  if (spec == NULL)
    return RANGE_IGNORED;
  return parse_range_spec (spec, spec_end, size, first, last);
}

/* RFC 9110 13.1.5: If-Range holds a strong entity tag, or a date that
 * must equal Last-Modified exactly and be a strong validator (8.8.2.2);
 * a weak tag never matches. */
static gboolean
if_range_holds (const FcHttpSlice *if_range,
                const char        *etag,
                gint64             mtime,
                gboolean           date_strong)
{
  gint64 when;

  if (if_range->data == NULL)
    return TRUE;
  if (if_range->len > 0 && if_range->data[0] == '"')
    return if_range->len == FC_HTTP_ETAG_LEN && memcmp (if_range->data, etag, FC_HTTP_ETAG_LEN) == 0;
  return date_strong && fc_http_date_parse (if_range->data, if_range->len, &when) && when == mtime;
}

/* RFC 9110 13.2.2's order: If-Match (strong, `*` = it exists) else
 * If-Unmodified-Since, failing: 412; then If-None-Match (weak) else
 * If-Modified-Since, matching: 304; 200 to go on. @etag, @mtime
 * (nullable): the representation's validators; without a
 * modification date the date fields have nothing to compare and are
 * ignored (13.1.3, 13.1.4). */
static guint
preconditions (const FcHttpRequest *request,
               const char          *etag,
               const gint64        *mtime)
{
  TagsVerdict tags = etag_list_compare (&request->if_match, etag, TRUE);
  gint64 when;

  if (tags != TAGS_ABSENT)
    {
      if (tags == TAGS_NO_MATCH)
        return 412;
    }
  else if (mtime != NULL && slice_date (&request->if_unmodified_since, &when) && *mtime > when)
    return 412;

  tags = etag_list_compare (&request->if_none_match, etag, FALSE);
  if (tags != TAGS_ABSENT)
    {
      if (tags == TAGS_MATCH)
        return 304;
    }
  else if (mtime != NULL && slice_date (&request->if_modified_since, &when) && *mtime <= when)
    return 304;
  return 200;
}

/**
 * fc_http_evaluate:
 * @request: a parsed GET or HEAD
 * @etag: the version's entity tag (fc_http_etag())
 * @mtime: its modification time, in whole seconds (Last-Modified)
 * @date_strong: whether Last-Modified may stand for this version in an
 *   If-Range (RFC 9110 8.8.2.2: only if another version cannot share that
 *   second; the caller knows what it can deduce)
 * @size: its size in bytes
 * @verdict: (out caller-allocates): the status, and for 200 and 206 the
 *   bytes to send
 *
 * RFC 9110 13.2.2's order: If-Match (strong, `*` = the file exists) else
 * If-Unmodified-Since, failing: 412; then If-None-Match (weak) else
 * If-Modified-Since, matching: 304; then a single `bytes` Range of a GET
 * (HTTP.md: several ranges, another unit or bad syntax send the whole
 * file; one that starts at or past the end, or `-0`, is 416), unless
 * If-Range names another version. Any thread; pure.
 */
void
fc_http_evaluate (const FcHttpRequest *request,
                  const char          *etag,
                  gint64               mtime,
                  gboolean             date_strong,
                  guint64              size,
                  FcHttpVerdict       *verdict)
{
  guint64 first, last;

  *verdict = (FcHttpVerdict) { .status = preconditions (request, etag, &mtime), .start = 0, .len = size };
  if (verdict->status != 200)
    return;

  if (request->method != FC_HTTP_GET || request->range.data == NULL || request->range_repeated ||
      !if_range_holds (&request->if_range, etag, mtime, date_strong))
    return;

  switch (parse_range (&request->range, size, &first, &last))
    {
    case RANGE_IGNORED:
      return;
    case RANGE_UNSATISFIABLE:
      verdict->status = 416;
      verdict->len = 0;
      return;
    case RANGE_SATISFIABLE:
      verdict->status = 206;
      verdict->start = first;
      verdict->len = last - first + 1;
      return;
    }
}

/**
 * fc_http_evaluate_listing:
 * @request: a parsed GET or HEAD of a directory listing
 *
 * RFC 9110 13.2.1 evaluates preconditions before any 2xx, a listing's
 * too; a listing has no entity tag and no Last-Modified (HTTP.md
 * "Directories"), so If-Match holds only as `*` (else 412),
 * If-None-Match matches only as `*` (304), and the dates, with no date
 * to compare, are ignored (RFC 9110 13.1.3, 13.1.4). Any thread; pure.
 *
 * Returns: 412, 304, or 200 to send the listing
 */
guint
fc_http_evaluate_listing (const FcHttpRequest *request)
{
  return preconditions (request, NULL, NULL);
}

/**
 * fc_http_reason_phrase:
 * @status: a status code the daemon sends
 *
 * Returns: (transfer none): its reason phrase (RFC 9110 15)
 */
const char *
fc_http_reason_phrase (guint status)
{
  switch (status)
    {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void
put_status_line (Out   *out,
                 guint  status)
{
  PUT (out, "HTTP/1.1 ");
  put_uint (out, status);
  PUT (out, " ");
  put_str (out, fc_http_reason_phrase (status));
  PUT (out, "\r\n");
}

/* The fields every response carries, and the empty line. */
static void
put_tail (Out              *out,
          const char       *date,
          FcHttpConnection  connection)
{
  PUT (out, "Date: ");
  put (out, date, FC_HTTP_DATE_LEN);
  PUT (out, "\r\n");
  if (connection == FC_HTTP_CLOSE)
    PUT (out, "Connection: close\r\n");
  else if (connection == FC_HTTP_KEEP_ALIVE)
    PUT (out, "Connection: keep-alive\r\n");
  PUT (out, "\r\n");
}

/* RFC 4648 base64 with padding, as RFC 9530's byte sequences (RFC 8941
 * 3.3.5) carry it. */
static void
put_base64 (Out          *out,
            const guint8 *data,
            gsize         len)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  for (gsize i = 0; i < len; i += 3)
    {
      guint32 v = (guint32) data[i] << 16;
      char quad[4];

      if (i + 1 < len)
        v |= (guint32) data[i + 1] << 8;
      if (i + 2 < len)
        v |= data[i + 2];
      quad[0] = alphabet[(v >> 18) & 63];
      quad[1] = alphabet[(v >> 12) & 63];
      quad[2] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
      quad[3] = i + 2 < len ? alphabet[v & 63] : '=';
      put (out, quad, 4);
    }
}

/**
 * fc_http_format_file:
 * @buf: (out caller-allocates): room for %FC_HTTP_REPLY_MAX bytes
 * @head: what the response says
 *
 * Writes the head of a 200, 206 or 304 about a file (HTTP.md "Responses
 * to GET and HEAD of a file"): a 304 carries only the validators and
 * `Date` (RFC 9110 15.4.5). A 416 is an error: fc_http_format_error().
 *
 * Returns: the head's length in bytes
 */
gsize
fc_http_format_file (char                 *buf,
                     const FcHttpFileHead *head)
{
  Out out = { buf, buf + FC_HTTP_REPLY_MAX };
  char date[FC_HTTP_DATE_LEN + 1];
  guint status = head->verdict->status;

  put_status_line (&out, status);
  if (status != 304)
    {
      PUT (&out, "Content-Length: ");
      put_uint (&out, head->verdict->len);
      PUT (&out, "\r\nContent-Type: ");
      put_str (&out, head->content_type);
      PUT (&out, "\r\nAccept-Ranges: bytes\r\nX-Content-Type-Options: nosniff\r\n");
    }
  if (status == 206)
    {
      PUT (&out, "Content-Range: bytes ");
      put_uint (&out, head->verdict->start);
      PUT (&out, "-");
      put_uint (&out, head->verdict->start + head->verdict->len - 1);
      PUT (&out, "/");
      put_uint (&out, head->size);
      PUT (&out, "\r\n");
    }
  if (head->digest != NULL && status != 304)
    {
      PUT (&out, "Repr-Digest: sha-256=:");
      put_base64 (&out, head->digest, FC_DIGEST_LEN);
      PUT (&out, ":\r\n");
    }
  PUT (&out, "ETag: ");
  put (&out, head->etag, FC_HTTP_ETAG_LEN);
  PUT (&out, "\r\nLast-Modified: ");
  fc_http_date_format (head->mtime, date);
  put (&out, date, FC_HTTP_DATE_LEN);
  PUT (&out, "\r\n");
  put_tail (&out, head->date, head->connection);
  return (gsize) (out.p - buf);
}

/**
 * fc_http_format_listing:
 * @buf: (out caller-allocates): room for %FC_HTTP_REPLY_MAX bytes
 * @content_type: the listing's type
 * @len: its length in bytes
 * @date: IMF-fixdate of now
 * @connection: how the exchange ends
 * @vary_accept: the same path answers other types by `Accept` (a
 *   listing: HTML or JSON), which caches must be told (RFC 9110 12.5.5)
 * @not_modified: a 304 instead (fc_http_evaluate_listing()): no type, no
 *   length, the caching fields a 200 would have had (RFC 9110 15.4.5)
 *
 * Writes the head of a directory listing's 200: HTTP.md "Directories",
 * `Cache-Control: no-cache` and no validators; the metrics port's 200
 * too, which is made fresh for each request as well.
 *
 * Returns: the head's length in bytes
 */
gsize
fc_http_format_listing (char             *buf,
                        const char       *content_type,
                        gsize             len,
                        const char       *date,
                        FcHttpConnection  connection,
                        gboolean          vary_accept,
                        gboolean          not_modified)
{
  Out out = { buf, buf + FC_HTTP_REPLY_MAX };

  put_status_line (&out, not_modified ? 304 : 200);
  if (!not_modified)
    {
      PUT (&out, "Content-Type: ");
      put_str (&out, content_type);
      PUT (&out, "\r\nContent-Length: ");
      put_uint (&out, len);
      PUT (&out, "\r\nX-Content-Type-Options: nosniff\r\n");
    }
  PUT (&out, "Cache-Control: no-cache\r\n");
  if (vary_accept)
    PUT (&out, "Vary: Accept\r\n");
  put_tail (&out, date, connection);
  return (gsize) (out.p - buf);
}

/**
 * fc_http_format_error:
 * @buf: (out caller-allocates): room for %FC_HTTP_REPLY_MAX bytes
 * @status: a status other than 2xx and 304
 * @reason: the body's text, in English (HTTP.md "Errors"), without LF
 * @reason_len: its length, at most 256
 * @head_only: the request was HEAD: the same fields, no body
 * @date: IMF-fixdate of now
 * @connection: how the exchange ends
 * @field: (nullable): one more whole field line, CR LF included
 *   (`Allow`, `Location`, `Content-Range`, `Retry-After`)
 * @field_len: its length, at most FC_HTTP_LINE_MAX + 64
 *
 * Writes a whole error response: head and its short `text/plain` body.
 *
 * Returns: its length in bytes
 */
gsize
fc_http_format_error (char             *buf,
                      guint             status,
                      const char       *reason,
                      gsize             reason_len,
                      gboolean          head_only,
                      const char       *date,
                      FcHttpConnection  connection,
                      const char       *field,
                      gsize             field_len)
{
  Out out = { buf, buf + FC_HTTP_REPLY_MAX };

  put_status_line (&out, status);
  PUT (&out, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  put_uint (&out, FC_HTTP_ERROR_BODY_LEN (reason_len));
  PUT (&out, "\r\nX-Content-Type-Options: nosniff\r\n");
  if (field != NULL)
    put (&out, field, field_len);
  put_tail (&out, date, connection);
  if (!head_only)
    {
      put (&out, reason, reason_len);
      PUT (&out, "\n");
    }
  return (gsize) (out.p - buf);
}
