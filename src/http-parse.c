#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "http-parse.h"
#include "names.h"
#include "protocol.h"

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA, one bit per
 * byte value: a table, because every byte of a method and of each field
 * name goes through it. */
static const guint32 tchar_bits[8] = {
  0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff, 0, 0, 0, 0,
};

static inline gboolean
is_tchar (char c)
{
  guchar u = (guchar) c;

  return (tchar_bits[u >> 5] >> (u & 31)) & 1;
}

static inline gboolean
is_ows (char c)
{
  return c == ' ' || c == '\t';
}

/* The first line of a connection, as far as it has come: how much of
 * `token SP target SP HTTP/d.d` it already is. */
typedef enum {
  SNIFF_NOT,            /* can no longer become a request line */
  SNIFF_BEFORE_TARGET,  /* a prefix that has not yet shown `/`, `*` or `http://` */
  SNIFF_PAST_TARGET,    /* `token SP` and a target's start seen, not whole */
  SNIFF_WHOLE,          /* exactly a request line */
} SniffStage;

static SniffStage
sniff_stage (const char *s,
             gsize       n)
{
  static const char scheme[] = "http://";
  static const char version[] = "HTTP/d.d";
  gsize i = 0;

  while (i < n && is_tchar (s[i]))
    i++;
  if (i == n)
    return SNIFF_BEFORE_TARGET;
  if (i == 0 || s[i] != ' ')
    return SNIFF_NOT;
  if (++i == n)
    return SNIFF_BEFORE_TARGET;

  if (s[i] == '*')
    {
      if (++i < n && s[i] != ' ')
        return SNIFF_NOT;
    }
  else
    {
      if (s[i] != '/')
        for (gsize k = 0; k < sizeof scheme - 1; k++, i++)
          {
            if (i == n)
              return SNIFF_BEFORE_TARGET;
            if (g_ascii_tolower (s[i]) != scheme[k])
              return SNIFF_NOT;
          }
      while (i < n && s[i] != ' ')
        i++;
    }
  if (i == n)
    return SNIFF_PAST_TARGET;

  i++;
  for (gsize k = 0; k < sizeof version - 1; k++, i++)
    {
      if (i == n)
        return SNIFF_PAST_TARGET;
      if (version[k] == 'd' ? !g_ascii_isdigit (s[i]) : s[i] != version[k])
        return SNIFF_NOT;
    }
  if (i == n)
    return SNIFF_WHOLE;
  /* Only while the line is unfinished: the CR of its CR LF. */
  return i + 1 == n && s[i] == '\r' ? SNIFF_PAST_TARGET : SNIFF_NOT;
}

typedef enum {
  LINE_WHOLE,
  LINE_NEED_MORE,
  LINE_TOO_LONG,
} LineEnd;

/* Finds the end of the request line at @s: RFC 9112 3's request-line
 * excludes its CR LF (or LF, RFC 9112 2.2), so a line of
 * FC_HTTP_LINE_MAX bytes is whole with either ending, and one byte more
 * is too long whatever follows. @n: the line's length without its
 * ending; @next: where the next line starts. */
static LineEnd
line_end (const char *s,
          gsize       len,
          gsize      *n,
          gsize      *next)
{
  const char *lf = memchr (s, '\n', MIN (len, FC_HTTP_LINE_BUF));

  if (lf == NULL)
    {
      /* Past the bound unless the byte after it is the CR of a CR LF. */
      if (len > FC_HTTP_LINE_MAX && (len >= FC_HTTP_LINE_BUF || s[FC_HTTP_LINE_MAX] != '\r'))
        return LINE_TOO_LONG;
      return LINE_NEED_MORE;
    }
  *n = (gsize) (lf - s);
  *next = *n + 1;
  if (*n > 0 && s[*n - 1] == '\r')
    (*n)--;
  return *n > FC_HTTP_LINE_MAX ? LINE_TOO_LONG : LINE_WHOLE;
}

/**
 * fc_http_sniff:
 * @buf: the first bytes received on a connection
 * @len: how many
 *
 * Decides a connection's dialect from its first line (HTTP.md, "One port,
 * two dialects"): %FC_SNIFF_HTTP for `token SP target SP HTTP/d.d` ending
 * in LF or CR LF, where token is RFC 9110 5.6.2 tchar+ and target has no
 * SP and is `/...`, `*` or `http://...` (scheme in any case, RFC 3986
 * 3.1); %FC_SNIFF_LINE for any other line. Without an LF,
 * %FC_SNIFF_NEED_MORE while the bytes can still become such a line; past
 * %FC_REQUEST_LINE_MAX bytes only if `token SP` and the target's start
 * have come, and never past %FC_HTTP_LINE_MAX bytes before the line's
 * CR LF (as fc_http_parse() counts a request line), so a line-protocol
 * peer gets its own 414 at the size it was promised. An empty first line
 * is the line protocol's: only an HTTP connection skips empty lines.
 *
 * Pure and allocation-free; may be called from any thread.
 */
FcSniff
fc_http_sniff (const char *buf,
               gsize       len)
{
  SniffStage stage;
  gsize line_len, next;

  switch (line_end (buf, len, &line_len, &next))
    {
    case LINE_TOO_LONG:
      return FC_SNIFF_LINE;
    case LINE_NEED_MORE:
      stage = sniff_stage (buf, len);
      if (stage == SNIFF_NOT ||
          (len >= FC_REQUEST_LINE_MAX && stage == SNIFF_BEFORE_TARGET))
        return FC_SNIFF_LINE;
      return FC_SNIFF_NEED_MORE;
    case LINE_WHOLE:
    default:
      return sniff_stage (buf, line_len) == SNIFF_WHOLE ? FC_SNIFF_HTTP : FC_SNIFF_LINE;
    }
}

/* What the fields seen so far say about framing and the connection. */
typedef struct {
  guint fields;
  guint hosts;
  guint want_digest_lines;
  gboolean want_digest_empty;   /* a Want-Repr-Digest line with no value */
  gboolean want_digest_invalid; /* one that is no Structured Fields dictionary */
  gboolean want_sha256;         /* the last sha-256 member's preference is 1 to 10 */
  FcHttpSlice content_length;   /* the digits of the first value */
  gboolean close;               /* a `Connection: close` option */
  gboolean keep_alive;          /* a `Connection: keep-alive` option */
} Fields;

static FcHttpParse
refuse (FcHttpRefusal *refusal,
        guint          status,
        gboolean       close,
        const char    *reason)
{
  refusal->status = status;
  refusal->close = close;
  refusal->reason = reason;
  return FC_HTTP_REFUSED;
}

static gboolean
name_is (const char *name,
         gsize       len,
         const char *field,
         gsize       field_len)
{
  return len == field_len && g_ascii_strncasecmp (name, field, len) == 0;
}

#define NAME_IS(name, len, field) name_is (name, len, field, sizeof (field) - 1)

static FcHttpSlice
trim (const char *s,
      gsize       n)
{
  while (n > 0 && is_ows (s[0]))
    s++, n--;
  while (n > 0 && is_ows (s[n - 1]))
    n--;
  return (FcHttpSlice) { s, n };
}

/* Calls @each with every element of a comma-separated list (RFC 9110
 * 5.6.1), OWS trimmed, empty ones included; stops when it returns FALSE. */
static gboolean
each_element (FcHttpSlice  value,
              gboolean   (*each) (FcHttpSlice element, gpointer data),
              gpointer     data)
{
  const char *p = value.data;
  const char *end = value.data + value.len;

  for (;;)
    {
      const char *comma = memchr (p, ',', (gsize) (end - p));
      const char *stop = comma != NULL ? comma : end;

      if (!each (trim (p, (gsize) (stop - p)), data))
        return FALSE;
      if (comma == NULL)
        return TRUE;
      p = comma + 1;
    }
}

/* RFC 3986 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]"; the
 * inside, without brackets. */
static gboolean
ip_literal_ok (const char *s,
               gsize       n)
{
  char text[INET6_ADDRSTRLEN];
  struct in6_addr addr;
  gsize i;

  if (n > 0 && (s[0] == 'v' || s[0] == 'V'))
    {
      /* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
      for (i = 1; i < n && g_ascii_isxdigit (s[i]); i++)
        ;
      if (i == 1 || i == n || s[i] != '.' || ++i == n)
        return FALSE;
      for (; i < n; i++)
        if (!g_ascii_isalnum (s[i]) && strchr ("-._~!$&'()*+,;=:", s[i]) == NULL)
          return FALSE;
      return TRUE;
    }

  if (n == 0 || n >= sizeof text)
    return FALSE;
  memcpy (text, s, n);
  text[n] = '\0';
  return inet_pton (AF_INET6, text, &addr) == 1;
}

/* RFC 9110 7.2: Host = uri-host [ ":" port ], uri-host being RFC 3986
 * 3.2.2's host (IP-literal / IPv4address / reg-name: every IPv4address
 * is also a reg-name) and port = *DIGIT. RFC 3986 lets a reg-name be
 * empty, and RFC 9112 3.2 wants an empty Host only when the target URI
 * has no authority; but an "http" URI always has one, with a non-empty
 * host (RFC 9110 4.2.1), and this server speaks nothing else: an empty
 * host is refused. */
static gboolean
host_ok (FcHttpSlice host)
{
  const char *s = host.data;
  gsize n = host.len;
  gsize i;

  /* RFC 9112 3.2 has an empty Host where the target has no authority;
   * it is a valid host by RFC 3986's grammar (reg-name may be empty), and
   * HTTP.md refuses only an invalid one; so is `:80`, an empty reg-name
   * and a port (was refused, though "" was not). */
  if (n == 0)
    return TRUE;
  if (s[0] == '[')
    {
      const char *close = memchr (s, ']', n);

      if (close == NULL || !ip_literal_ok (s + 1, (gsize) (close - s) - 1))
        return FALSE;
      i = (gsize) (close - s) + 1;
    }
  else
    {
      /* reg-name = *( unreserved / pct-encoded / sub-delims ) */
      for (i = 0; i < n && s[i] != ':'; i++)
        if (s[i] == '%')
          {
            if (n - i < 3 || !g_ascii_isxdigit (s[i + 1]) || !g_ascii_isxdigit (s[i + 2]))
              return FALSE;
            i += 2;
          }
        else if (!g_ascii_isalnum (s[i]) && strchr ("-._~!$&'()*+,;=", s[i]) == NULL)
          return FALSE;
    }

  if (i == n)
    return TRUE;
  if (s[i] != ':')
    return FALSE;
  for (i++; i < n; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

/* RFC 9110 8.6: Content-Length = 1*DIGIT. A list of identical values is
 * the same length said twice (RFC 9110 8.6 lets it be taken as one, and
 * HTTP.md refuses "several that differ"); identical as numbers. */
static gboolean
content_length_element (FcHttpSlice element,
                        gpointer    data)
{
  FcHttpSlice *seen = data;

  if (element.len == 0)
    return FALSE;
  for (gsize i = 0; i < element.len; i++)
    if (!g_ascii_isdigit (element.data[i]))
      return FALSE;
  /* Compared as numbers: `0` and `00` say the same length. */
  while (element.len > 1 && element.data[0] == '0')
    element.data++, element.len--;
  if (seen->data == NULL)
    {
      *seen = element;
      return TRUE;
    }
  return seen->len == element.len && memcmp (seen->data, element.data, element.len) == 0;
}

/* RFC 9112 9.3 and RFC 9110 7.6.1: Connection is a list of
 * case-insensitive option tokens; others than these two are not ours. */
static gboolean
connection_element (FcHttpSlice element,
                    gpointer    data)
{
  Fields *fields = data;

  if (NAME_IS (element.data, element.len, "close"))
    fields->close = TRUE;
  else if (NAME_IS (element.data, element.len, "keep-alive"))
    fields->keep_alive = TRUE;
  return TRUE;
}

/* RFC 8941 3.1.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static gboolean
sf_key (const char **p,
        const char  *end)
{
  const char *q = *p;

  if (q == end || !((*q >= 'a' && *q <= 'z') || *q == '*'))
    return FALSE;
  for (q++; q < end && ((*q >= 'a' && *q <= 'z') || g_ascii_isdigit (*q) || strchr ("_-.*", *q) != NULL);
       q++)
    ;
  *p = q;
  return TRUE;
}

/* RFC 8941 3.3 bare-item, parsed as 4.2.3.1 does: an Integer (whose
 * value is stored in @integer, else it is left alone), Decimal, String,
 * Token, Byte Sequence or Boolean. */
static gboolean
sf_bare_item (const char **p,
              const char  *end,
              gint64      *integer,
              gboolean    *is_integer)
{
  const char *q = *p;

  *is_integer = FALSE;
  if (q == end)
    return FALSE;
  if (*q == '-' || g_ascii_isdigit (*q))
    {
      gboolean negative = *q == '-';
      const char *digits = negative ? ++q : q;
      gint64 value = 0;

      for (; q < end && g_ascii_isdigit (*q); q++)
        if (q - digits < 15)
          value = value * 10 + (*q - '0');
      if (q == digits || q - digits > 15)
        return FALSE;
      if (q < end && *q == '.')
        {
          const char *fraction = ++q;

          if (fraction - 1 - digits > 12)
            return FALSE;
          for (; q < end && g_ascii_isdigit (*q); q++)
            ;
          if (q == fraction || q - fraction > 3)
            return FALSE;
        }
      else
        {
          *integer = negative ? -value : value;
          *is_integer = TRUE;
        }
    }
  else if (*q == '"')
    {
      for (q++;; q++)
        {
          if (q == end || (guchar) *q < 0x20 || (guchar) *q > 0x7e)
            return FALSE;
          if (*q == '"')
            break;
          if (*q == '\\' && (++q == end || (*q != '"' && *q != '\\')))
            return FALSE;
        }
      q++;
    }
  else if (g_ascii_isalpha (*q) || *q == '*')
    {
      for (q++; q < end && (is_tchar (*q) || *q == ':' || *q == '/'); q++)
        ;
    }
  else if (*q == ':')
    {
      for (q++; q < end && (g_ascii_isalnum (*q) || strchr ("+/=", *q) != NULL); q++)
        ;
      if (q == end || *q != ':')
        return FALSE;
      q++;
    }
  else if (*q == '?')
    {
      if (end - q < 2 || (q[1] != '0' && q[1] != '1'))
        return FALSE;
      q += 2;
    }
  else
    return FALSE;
  *p = q;
  return TRUE;
}

/* RFC 8941 3.1.2: parameters = *( ";" *SP key [ "=" bare-item ] ) */
static gboolean
sf_parameters (const char **p,
               const char  *end)
{
  gint64 ignored;
  gboolean is_integer;

  while (*p < end && **p == ';')
    {
      for ((*p)++; *p < end && **p == ' '; (*p)++)
        ;
      if (!sf_key (p, end))
        return FALSE;
      if (*p < end && **p == '=' && (++(*p), !sf_bare_item (p, end, &ignored, &is_integer)))
        return FALSE;
    }
  return TRUE;
}

/* RFC 8941 3.1.1 and 3.3: an Item, or an Inner List, and its parameters. */
static gboolean
sf_member_value (const char **p,
                 const char  *end,
                 gint64      *integer,
                 gboolean    *is_integer)
{
  if (*p == end || **p != '(')
    return sf_bare_item (p, end, integer, is_integer) && sf_parameters (p, end);

  *is_integer = FALSE;
  for ((*p)++;;)
    {
      gint64 ignored;
      gboolean item_integer;

      for (; *p < end && **p == ' '; (*p)++)
        ;
      if (*p == end)
        return FALSE;
      if (**p == ')')
        {
          (*p)++;
          return sf_parameters (p, end);
        }
      if (!sf_bare_item (p, end, &ignored, &item_integer) || !sf_parameters (p, end))
        return FALSE;
      if (*p < end && **p != ' ' && **p != ')')
        return FALSE;
    }
}

/* RFC 9530 4: Want-Repr-Digest is a Structured Fields dictionary (RFC
 * 8941 3.2) of algorithm = Integer preference, 0 (not acceptable) to 10;
 * the last member of a key wins (RFC 8941 4.2.2). Parsed strictly, as
 * RFC 8941 4.2 requires: a field that fails to parse, a trailing comma
 * or an empty member included, is ignored whole (was: a malformed
 * member was skipped and the rest kept). The lines of the field are
 * one value joined by commas (RFC 9110 5.3), checked line by line:
 * a line with no value then makes an empty member, unless it is the
 * only line (an empty dictionary). */
static void
want_digest_line (FcHttpSlice  value,
                  Fields      *fields)
{
  const char *p = value.data;
  const char *end = value.data + value.len;

  fields->want_digest_lines++;
  if (value.len == 0)
    {
      fields->want_digest_empty = TRUE;
      return;
    }
  for (;;)
    {
      const char *key = p;
      gsize key_len;
      gint64 preference = 0;
      gboolean is_integer = FALSE;

      if (!sf_key (&p, end))
        goto invalid;
      key_len = (gsize) (p - key);
      if (p < end && *p == '=')
        {
          p++;
          if (!sf_member_value (&p, end, &preference, &is_integer))
            goto invalid;
        }
      else if (!sf_parameters (&p, end))
        goto invalid;
      /* A member with no value is the Boolean true, no preference. */
      if (key_len == 7 && memcmp (key, "sha-256", 7) == 0)
        fields->want_sha256 = is_integer && preference >= 1 && preference <= 10;

      for (; p < end && is_ows (*p); p++)
        ;
      if (p == end)
        return;
      if (*p != ',')
        goto invalid;
      for (p++; p < end && is_ows (*p); p++)
        ;
      if (p == end)
        goto invalid;
    }

invalid:
  fields->want_digest_invalid = TRUE;
}

static void
list_add (FcHttpList  *list,
          FcHttpSlice  value)
{
  if (list->n < FC_HTTP_LIST_MAX)
    list->lines[list->n++] = value;
}

static void
keep_first (FcHttpSlice *slot,
            FcHttpSlice  value)
{
  if (slot->data == NULL)
    *slot = value;
}

/* A field of one value (a date, RFC 9110 13.1.3 and 13.1.4; If-Range's
 * one validator, 13.1.5): a second line makes it a list, which is
 * invalid. It is kept then as an empty value, which no date or validator
 * parses as, so it is ignored (If-Range: does not match). */
static void
keep_single (FcHttpSlice *slot,
             FcHttpSlice  value)
{
  if (slot->data == NULL)
    *slot = value;
  else
    *slot = (FcHttpSlice) { value.data, 0 };
}

/* One field line (RFC 9112 5), without its CR LF; refusals for framing,
 * each of which closes (HTTP.md "Strict framing"). */
static FcHttpParse
field_line (const char    *line,
            gsize          n,
            Fields        *fields,
            FcHttpRequest *request,
            FcHttpRefusal *refusal)
{
  const char *colon;
  gsize name_len;
  FcHttpSlice value;

  /* RFC 9112 5.2: obs-fold is refused, not unfolded; RFC 9112 2.2: so is
   * whitespace before the first field line. */
  if (is_ows (line[0]))
    return refuse (refusal, 400, TRUE, "Folded field line");

  colon = memchr (line, ':', n);
  if (colon == NULL || colon == line)
    return refuse (refusal, 400, TRUE, "Malformed field line");
  name_len = (gsize) (colon - line);
  for (gsize i = 0; i < name_len; i++)
    if (!is_tchar (line[i]))
      return refuse (refusal, 400, TRUE,
                     is_ows (line[i]) ? "Whitespace before a colon" /* RFC 9112 5.1 */
                                      : "Malformed field name");

  /* RFC 9110 5.5: field-vchar is VCHAR or obs-text; a CR here is a bare
   * CR (RFC 9112 2.2). */
  for (const char *p = colon + 1; p < line + n; p++)
    if (((guchar) *p < 0x20 && *p != '\t') || *p == 0x7f)
      return refuse (refusal, 400, TRUE,
                     *p == '\r' ? "Bare CR" : "Control character in a field value");
  value = trim (colon + 1, (gsize) (line + n - colon - 1));

  if (NAME_IS (line, name_len, "host"))
    {
      /* RFC 9112 3.2: exactly one Host. */
      if (++fields->hosts > 1)
        return refuse (refusal, 400, TRUE, "More than one Host");
      if (!host_ok (value))
        return refuse (refusal, 400, TRUE, "Invalid Host");
    }
  else if (NAME_IS (line, name_len, "content-length"))
    {
      /* RFC 9112 6.3 (5): an invalid length cannot frame the message. */
      if (!each_element (value, content_length_element, &fields->content_length))
        return refuse (refusal, 400, TRUE, "Invalid Content-Length");
    }
  else if (NAME_IS (line, name_len, "transfer-encoding"))
    /* RFC 9112 6.1: no coding is implemented, so none can be decoded. */
    return refuse (refusal, 501, TRUE, "Transfer-Encoding is not implemented");
  else if (NAME_IS (line, name_len, "connection"))
    each_element (value, connection_element, fields);
  else if (NAME_IS (line, name_len, "range"))
    {
      request->range_repeated = request->range.data != NULL;
      keep_first (&request->range, value);
    }
  else if (NAME_IS (line, name_len, "if-range"))
    keep_single (&request->if_range, value);
  else if (NAME_IS (line, name_len, "referer"))
    keep_first (&request->referer, value);
  else if (NAME_IS (line, name_len, "user-agent"))
    keep_first (&request->user_agent, value);
  else if (NAME_IS (line, name_len, "if-modified-since"))
    keep_single (&request->if_modified_since, value);
  else if (NAME_IS (line, name_len, "if-unmodified-since"))
    keep_single (&request->if_unmodified_since, value);
  else if (NAME_IS (line, name_len, "if-match"))
    list_add (&request->if_match, value);
  else if (NAME_IS (line, name_len, "if-none-match"))
    list_add (&request->if_none_match, value);
  else if (NAME_IS (line, name_len, "accept"))
    list_add (&request->accept, value);
  else if (NAME_IS (line, name_len, "want-repr-digest"))
    want_digest_line (value, fields);

  return FC_HTTP_DONE;
}

/* Appends the percent-decoded @seg (HTTP.md: decoded once) to the name. */
static gboolean
decode_segment (const char    *seg,
                gsize          n,
                FcHttpRequest *request)
{
  for (gsize i = 0; i < n; i++)
    {
      char c = seg[i];

      if (c == '%')
        {
          int hi, lo;

          if (n - i < 3 || (hi = g_ascii_xdigit_value (seg[i + 1])) < 0 ||
              (lo = g_ascii_xdigit_value (seg[i + 2])) < 0)
            return FALSE;
          c = (char) (hi << 4 | lo);
          if (c == '\0')
            return FALSE;
          i += 2;
        }
      if (request->name_len == FC_NAME_MAX)
        return FALSE;
      request->name[request->name_len++] = c;
    }
  return TRUE;
}

/* HTTP.md: a literal `.` segment goes first (a last one leaving a
 * trailing `/`), then one decoding pass, then PROTOCOL.md's name rules;
 * nothing else is normalized, so an empty segment is refused here and a
 * `..` or decoded dot segment by fc_name_validate(). */
static gboolean
path_to_name (const char    *path,
              gsize          len,
              FcHttpRequest *request)
{
  const char *seg = path + 1;
  const char *end = path + len;

  for (;;)
    {
      const char *slash = memchr (seg, '/', (gsize) (end - seg));
      const char *seg_end = slash != NULL ? slash : end;
      gsize seg_len = (gsize) (seg_end - seg);

      if (slash == NULL && (seg_len == 0 || (seg_len == 1 && seg[0] == '.')))
        request->trailing_slash = TRUE;
      else if (!(seg_len == 1 && seg[0] == '.'))
        {
          if (seg_len == 0)
            return FALSE;
          if (request->name_len > 0 && !decode_segment ("/", 1, request))
            return FALSE;
          if (!decode_segment (seg, seg_len, request))
            return FALSE;
        }
      if (slash == NULL)
        break;
      seg = slash + 1;
    }

  request->name[request->name_len] = '\0';
  return request->name_len == 0 || fc_name_validate (request->name, request->name_len, NULL);
}

/* RFC 9112 3.2: origin-form or absolute-form; HTTP.md refuses the rest. */
static gboolean
parse_target (const char    *target,
              gsize          n,
              FcHttpRequest *request)
{
  const char *end = target + n;
  const char *path = target;
  const char *query;

  /* RFC 9112 3.2 and RFC 3986 2: no control, space or non-ASCII byte; a
   * fragment is never sent (RFC 9110 7.1). */
  for (gsize i = 0; i < n; i++)
    if ((guchar) target[i] <= 0x20 || (guchar) target[i] >= 0x7f || target[i] == '#')
      return FALSE;

  if (target[0] != '/')
    {
      /* RFC 9112 3.2.2: the authority is not ours to check. */
      if (n < 7 || g_ascii_strncasecmp (target, "http://", 7) != 0)
        return FALSE;
      for (path = target + 7; path < end && *path != '/' && *path != '?'; path++)
        ;
    }
  query = memchr (path, '?', (gsize) (end - path));
  if (query != NULL)
    end = query;

  /* RFC 9110 4.2.3: an empty path is `/`. */
  if (path == end)
    request->path = (FcHttpSlice) { "/", 1 };
  else
    request->path = (FcHttpSlice) { path, (gsize) (end - path) };
  return path_to_name (request->path.data, request->path.len, request);
}

static gboolean
method_is (const char *method,
           gsize       len,
           const char *name)
{
  return len == strlen (name) && memcmp (method, name, len) == 0;
}

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version.
 * Only a bare CR (HTTP.md "Strict framing") and a version other than 1
 * close; the other refusals keep the connection (HTTP.md "Errors": a 4xx
 * not marked close), the head being read to its end before they are
 * given. @version_known: the line ended in a version, whose minor is set. */
static FcHttpParse
request_line (const char    *line,
              gsize          n,
              FcHttpRequest *request,
              FcHttpRefusal *refusal,
              gboolean      *version_known)
{
  static const char *const not_allowed[] = {
    "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
  };
  const char *sp1 = memchr (line, ' ', n);
  const char *sp2 = memrchr (line, ' ', n);
  const char *version;
  gsize method_len;

  /* RFC 9112 2.2: a bare CR is an error. */
  if (memchr (line, '\r', n) != NULL)
    return refuse (refusal, 400, TRUE, "Bare CR");
  /* Without a version the connection's own (HTTP/1.1) rules decide
   * whether it persists. */
  if (sp1 == NULL || sp1 == sp2 || line + n - (version = sp2 + 1) != 8 ||
      memcmp (version, "HTTP/", 5) != 0 || !g_ascii_isdigit (version[5]) ||
      version[6] != '.' || !g_ascii_isdigit (version[7]))
    return refuse (refusal, 400, FALSE, "Malformed request line");
  /* RFC 9110 2.5 and 6.2: a later 1.x is answered as 1.1. */
  if (version[5] != '1')
    return refuse (refusal, 505, TRUE, "HTTP Version Not Supported");
  request->minor = refusal->minor = version[7] == '0' ? 0 : 1;
  *version_known = TRUE;

  method_len = (gsize) (sp1 - line);
  for (gsize i = 0; i < method_len; i++)
    if (!is_tchar (line[i]))
      return refuse (refusal, 400, FALSE, "Malformed method");
  if (method_len == 0 || memchr (sp1 + 1, ' ', (gsize) (sp2 - sp1 - 1)) != NULL || sp2 == sp1 + 1)
    return refuse (refusal, 400, FALSE, "Malformed request line");

  if (method_is (line, method_len, "GET"))
    request->method = FC_HTTP_GET, refusal->get = TRUE;
  else if (method_is (line, method_len, "HEAD"))
    request->method = FC_HTTP_HEAD;
  else
    {
      for (gsize i = 0; i < G_N_ELEMENTS (not_allowed); i++)
        if (method_is (line, method_len, not_allowed[i]))
          return refuse (refusal, 405, FALSE, "Method Not Allowed");
      return refuse (refusal, 501, FALSE, "Not Implemented");
    }

  if (!parse_target (sp1 + 1, (gsize) (sp2 - sp1 - 1), request))
    return refuse (refusal, 400, FALSE, "Invalid target");
  return FC_HTTP_DONE;
}

static void
request_reset (FcHttpRequest *request)
{
  static const FcHttpSlice none = { NULL, 0 };

  request->method = FC_HTTP_GET;
  request->minor = 1;
  request->keep_alive = FALSE;
  request->echo_keep_alive = FALSE;
  /* Not the whole name buffer: clearing 4 KiB would cost more than the
   * parse. */
  request->name[0] = '\0';
  request->name_len = 0;
  request->trailing_slash = FALSE;
  request->path = none;
  request->line = none;
  request->referer = none;
  request->user_agent = none;
  request->range = none;
  request->if_range = none;
  request->if_modified_since = none;
  request->if_unmodified_since = none;
  request->if_match.n = 0;
  request->if_none_match.n = 0;
  request->accept.n = 0;
  request->want_sha256 = FALSE;
  request->range_repeated = FALSE;
}

/**
 * fc_http_parse:
 * @buf: bytes received on an HTTP connection and not yet consumed
 * @len: how many
 * @request: (out caller-allocates): the head, filled on %FC_HTTP_DONE;
 *   its slices point into @buf
 * @consumed: (out): bytes of @buf used: with %FC_HTTP_DONE the whole head,
 *   its final empty line included; with %FC_HTTP_NEED_MORE the empty lines
 *   skipped before a request line (RFC 9112 2.2), which the caller may
 *   drop; with a refusal that keeps the connection the whole head
 * @refusal: (out caller-allocates): with %FC_HTTP_REFUSED, the status,
 *   the reason (a static string) and whether to close. Its @minor (else 1)
 *   is set whenever the request line had a version, @head whenever the
 *   line began `HEAD `, and @echo_keep_alive on a refusal that keeps an
 *   HTTP/1.0 connection: the reply is then in the request's version,
 *   bodiless for HEAD, and says `Connection: keep-alive` back.
 *   @get: the line was understood as an HTTP/1.x GET (any refusal of
 *   it, its target's or its fields', is then a GET refused).
 *
 * Parses one request head from the start of @buf under HTTP.md
 * "Requests" and RFC 9112 2-5, strictly: nothing is repaired. The bounds
 * are counted from the request line: %FC_HTTP_LINE_MAX bytes for it (else
 * 414), %FC_HTTP_HEAD_MAX and %FC_HTTP_FIELDS_MAX for the head (else 431);
 * %FC_HTTP_NEED_MORE is returned only within them, so the caller's buffer
 * stays bounded. Every refusal of HTTP.md's "Strict framing" list, and
 * 414, 431 and 505, closes. A refusal of the request line (400), the
 * method (405, 501) or the target (400) is given only once the whole
 * head has come and passed those checks, and it keeps the connection
 * unless the request's own `Connection` semantics (RFC 9112 9.3; those of
 * HTTP/1.1 for a line with no version) end it. The request's @minor,
 * @keep_alive and @echo_keep_alive are then set as well.
 *
 * Allocates nothing and keeps no state: the caller re-parses from the
 * start when more bytes come. Thread-safe.
 */
FcHttpParse
fc_http_parse (const char     *buf,
               gsize           len,
               FcHttpRequest  *request,
               gsize          *consumed,
               FcHttpRefusal  *refusal)
{
  const char *head = buf;
  const char *p;
  const char *lf;
  gsize avail;
  gsize n, next;
  gboolean version_known = FALSE;
  Fields fields = { 0 };
  FcHttpParse result;

  while (head < buf + len &&
         (*head == '\n' || (*head == '\r' && head + 1 < buf + len && head[1] == '\n')))
    head += *head == '\n' ? 1 : 2;
  *consumed = (gsize) (head - buf);
  avail = len - *consumed;
  request_reset (request);
  *refusal = (FcHttpRefusal) { .minor = 1 };

  /* RFC 9110 9.3.2: no content answers a HEAD, even one refused before
   * its line is understood. */
  refusal->head = avail >= 5 && memcmp (head, "HEAD ", 5) == 0;
  switch (line_end (head, avail, &n, &next))
    {
    case LINE_NEED_MORE:
      return FC_HTTP_NEED_MORE;
    case LINE_TOO_LONG:
      request->line = (FcHttpSlice) { head, MIN (avail, FC_HTTP_LINE_MAX) };
      return refuse (refusal, 414, TRUE, "URI Too Long");
    case LINE_WHOLE:
    default:
      break;
    }
  request->line = (FcHttpSlice) { head, n };
  result = request_line (head, n, request, refusal, &version_known);
  if (result == FC_HTTP_REFUSED && refusal->close)
    return result;

  for (p = head + next;; p = lf + 1)
    {
      lf = memchr (p, '\n', MIN (avail, FC_HTTP_HEAD_MAX) - (gsize) (p - head));
      if (lf == NULL)
        {
          if (avail >= FC_HTTP_HEAD_MAX)
            return refuse (refusal, 431, TRUE, "Request Header Fields Too Large");
          return FC_HTTP_NEED_MORE;
        }
      n = (gsize) (lf - p);
      if (n > 0 && p[n - 1] == '\r')
        n--;
      if (n == 0)
        break;
      if (++fields.fields > FC_HTTP_FIELDS_MAX)
        return refuse (refusal, 431, TRUE, "Request Header Fields Too Large");
      if (field_line (p, n, &fields, request, refusal) == FC_HTTP_REFUSED)
        return FC_HTTP_REFUSED;
    }

  /* RFC 9112 3.2: an HTTP/1.1 request lacking Host is a 400; a line
   * refused before its version was known keeps its own 400. */
  if (request->minor == 1 && fields.hosts == 0 && version_known)
    return refuse (refusal, 400, TRUE, "No Host");
  /* Only once every Content-Length line is seen: a later one that
   * differs makes the framing invalid (400), not merely a body (413). */
  for (gsize i = 0; i < fields.content_length.len; i++)
    if (fields.content_length.data[i] != '0')
      return refuse (refusal, 413, TRUE, "GET and HEAD take no body");

  request->want_sha256 = fields.want_sha256 && !fields.want_digest_invalid &&
                         !(fields.want_digest_empty && fields.want_digest_lines > 1);
  request->keep_alive = request->minor == 1 ? !fields.close : fields.keep_alive && !fields.close;
  /* A line with no version may come from an HTTP/1.0 client, to which
   * a persisting response must say so; HTTP/1.1 ones ignore it. */
  request->echo_keep_alive = (request->minor == 0 || !version_known) && request->keep_alive;
  *consumed = (gsize) (lf + 1 - buf);
  if (result == FC_HTTP_REFUSED)
    {
      refusal->close = !request->keep_alive;
      refusal->echo_keep_alive = request->echo_keep_alive;
    }
  return result;
}
