/* The HTTP dialect sniffer and request-head parser against HTTP.md: the
 * input is the start of a connection, parsed head after head as the
 * server does. */
#include <string.h>

#include "contract.h"
#include "http-parse.h"
#include "names.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

#define FZ_HTTP_LINE_MAX 8192
#define FZ_HTTP_HEAD_MAX 16384

static gboolean
fz_tchar (guint8 c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "a line of the form `token SP target SP HTTP/d.d` ... `target` has no
 * space and begins with `/`, is `*`, or is an absolute URI (`http://...`),
 * and `d` is one digit": @s without its CR LF or LF. */
static gboolean
fz_http_line (const guint8 *s,
              gsize         n)
{
  const guint8 *sp1 = memchr (s, ' ', n);
  const guint8 *sp2 = n > 0 ? memrchr (s, ' ', n) : NULL;
  const guint8 *target, *v;
  gsize target_len;

  if (sp1 == NULL || sp1 == s || sp1 == sp2)
    return FALSE;
  for (const guint8 *p = s; p < sp1; p++)
    if (!fz_tchar (*p))
      return FALSE;
  target = sp1 + 1;
  target_len = (gsize) (sp2 - target);
  if (target_len == 0 || memchr (target, ' ', target_len) != NULL)
    return FALSE;
  if (!(target[0] == '/' || (target_len == 1 && target[0] == '*') ||
        (target_len >= 7 && g_ascii_strncasecmp ((const char *) target, "http://", 7) == 0)))
    return FALSE;
  v = sp2 + 1;
  return s + n - v == 8 && memcmp (v, "HTTP/", 5) == 0 && g_ascii_isdigit (v[5]) &&
         v[6] == '.' && g_ascii_isdigit (v[7]);
}

/* Exactly @len bytes, so that a read past them is caught; never NULL,
 * which the daemon's buffers never are either. */
static char *
copy (const void *data,
      gsize       len)
{
  char *buf = g_malloc (MAX (len, 1));

  memcpy (buf, data, len);
  return buf;
}

static FcSniff
sniff_copy (const guint8 *data,
            gsize         len)
{
  g_autofree char *buf = copy (data, len);

  return fc_http_sniff (buf, len);
}

static void
check_sniff (const guint8 *data,
             gsize         size)
{
  const guint8 *lf = memchr (data, '\n', MIN (size, FZ_HTTP_LINE_MAX));
  FcSniff sniff = sniff_copy (data, size);

  if (lf != NULL)
    {
      gsize n = (gsize) (lf - data);
      const guint8 *name = NULL;
      gsize name_len = 0;
      const guint8 *space;

      if (n > 0 && data[n - 1] == '\r')
        n--;
      FZ_CHECK (sniff == (fz_http_line (data, n) ? FC_SNIFF_HTTP : FC_SNIFF_LINE),
                "sniff %d for a whole first line", sniff);
      /* "no valid line-protocol request is taken for HTTP", `*` aside,
       * which HTTP.md names as a target. fz_expect_line() leaves STAT's
       * name unchecked: checked here. */
      space = memchr (data, ' ', n);
      switch (fz_expect_line (data, (gsize) (lf - data), &name, &name_len))
        {
        case FZ_EXPECT_BAD:
          break;
        case FZ_EXPECT_V1_1:
          if (memcmp (data, "STAT ", 5) != 0 || !fz_name_ok (data + 5, n - 5))
            break;
          G_GNUC_FALLTHROUGH;
        default:
          if (space == NULL || space + 1 == data + n || space[1] != '*')
            FZ_CHECK (sniff == FC_SNIFF_LINE, "a line-protocol request sniffed as HTTP");
        }
    }
  else if (size >= FZ_HTTP_LINE_MAX)
    FZ_CHECK (sniff == FC_SNIFF_LINE, "8 KiB without LF, yet sniff %d", sniff);
  else
    {
      FZ_CHECK (sniff != FC_SNIFF_HTTP, "HTTP without an LF");
      if (sniff == FC_SNIFF_NEED_MORE && size >= 4096)
        {
          const guint8 *sp = memchr (data, ' ', size);

          FZ_CHECK (sp != NULL && sp > data && (gsize) (sp - data) + 1 < size &&
                    (sp[1] == '/' || sp[1] == '*' ||
                     (size - (gsize) (sp - data) > 7 &&
                      g_ascii_strncasecmp ((const char *) sp + 1, "http://", 7) == 0)),
                    "waiting past 4096 bytes for a line that is not `token SP /...`");
        }
    }

  /* Once the line protocol's, always: a prefix may not rule out a line
   * that then turns out HTTP. */
  if (sniff == FC_SNIFF_HTTP)
    for (gsize k = 0; k < size && k < FZ_HTTP_LINE_MAX; k = k * 2 + 1)
      if (memchr (data, '\n', k) == NULL)
        FZ_CHECK (sniff_copy (data, k) == FC_SNIFF_NEED_MORE,
                  "prefix of %" G_GSIZE_FORMAT " bytes of an HTTP line not NEED_MORE", k);
}

static gboolean
only_empty_lines (const guint8 *data,
                  gsize         len)
{
  for (gsize i = 0; i < len; i++)
    if (!(data[i] == '\n' || (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')))
      return FALSE;
  return TRUE;
}

static gboolean
inside (FcHttpSlice  slice,
        const char  *buf,
        gsize        len)
{
  return slice.data == NULL ||
         (slice.data >= buf && slice.len <= len && slice.data - buf <= (gssize) (len - slice.len));
}

static void
check_done (const char    *buf,
            gsize          len,
            gsize          consumed,
            FcHttpRequest *request)
{
  gsize skipped = 0;

  while (skipped < consumed && (buf[skipped] == '\n' || buf[skipped] == '\r'))
    skipped++;
  FZ_CHECK (consumed > skipped && buf[consumed - 1] == '\n', "a head that does not end in LF");
  FZ_CHECK (consumed - skipped <= FZ_HTTP_HEAD_MAX, "a head of %" G_GSIZE_FORMAT " bytes",
            consumed - skipped);
  FZ_CHECK (memcmp (buf + skipped, request->method == FC_HTTP_GET ? "GET " : "HEAD ",
                    request->method == FC_HTTP_GET ? 4 : 5) == 0, "method %d", request->method);
  FZ_CHECK (sniff_copy ((const guint8 *) buf + skipped, consumed - skipped) == FC_SNIFF_HTTP,
            "an accepted head whose request line does not sniff as HTTP");
  FZ_CHECK (request->minor <= 1, "minor %u", request->minor);
  FZ_CHECK (!request->echo_keep_alive || (request->minor == 0 && request->keep_alive),
            "keep-alive echoed for HTTP/1.%u", request->minor);
  FZ_CHECK (request->name_len <= FC_NAME_MAX && request->name[request->name_len] == '\0' &&
            strlen (request->name) == request->name_len, "name length");
  if (request->name_len == 0)
    FZ_CHECK (request->trailing_slash, "an empty name without a trailing slash");
  else
    FZ_CHECK (fz_name_ok ((const guint8 *) request->name, request->name_len) &&
              fc_name_validate (request->name, request->name_len, NULL),
              "an accepted name the name rules refuse");
  FZ_CHECK (request->path.len > 0 && request->path.data[0] == '/' &&
            (request->path.len == 1 || inside (request->path, buf, consumed)), "path");
  FZ_CHECK (memchr (request->path.data, '?', request->path.len) == NULL, "a query in the path");
  FZ_CHECK (inside (request->range, buf, consumed) && inside (request->if_range, buf, consumed) &&
            inside (request->if_modified_since, buf, consumed) &&
            inside (request->if_unmodified_since, buf, consumed), "a field outside the head");
  FZ_CHECK (request->if_match.n <= FC_HTTP_LIST_MAX && request->if_none_match.n <= FC_HTTP_LIST_MAX &&
            request->accept.n <= FC_HTTP_LIST_MAX, "list lengths");
}

static void
check_refused (const char    *buf,
               gsize          len,
               gsize          consumed,
               FcHttpRefusal *refusal)
{
  switch (refusal->status)
    {
    case 400:
    case 405:
    case 501:
      break;
    case 413:
    case 414:
    case 431:
    case 505:
      FZ_CHECK (refusal->close, "%u must close", refusal->status);
      break;
    default:
      FZ_CHECK (FALSE, "status %u", refusal->status);
    }
  FZ_CHECK (refusal->reason != NULL && refusal->minor <= 1, "reason, minor");
  if (!refusal->close)
    FZ_CHECK (consumed > 0 && consumed <= len && buf[consumed - 1] == '\n' &&
              !only_empty_lines ((const guint8 *) buf, consumed),
              "a refusal that keeps the connection without consuming the head");
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  gsize offset = 0;

  if (size == 0)
    {
      FcHttpRequest request;
      FcHttpRefusal refusal;
      gsize consumed;

      FZ_CHECK (fc_http_sniff ("", 0) == FC_SNIFF_NEED_MORE, "no bytes, yet a dialect");
      FZ_CHECK (fc_http_parse ("", 0, &request, &consumed, &refusal) == FC_HTTP_NEED_MORE &&
                consumed == 0, "no bytes, yet a head");
      return 0;
    }
  check_sniff (data, size);

  for (;;)
    {
      gsize rest = size - offset;
      g_autofree char *buf = copy (data + offset, rest);
      FcHttpRequest request, again;
      FcHttpRefusal refusal, refusal_again;
      gsize consumed = G_MAXSIZE, consumed_again;
      FcHttpParse result = fc_http_parse (buf, rest, &request, &consumed, &refusal);

      FZ_CHECK (fc_http_parse (buf, rest, &again, &consumed_again, &refusal_again) == result &&
                consumed_again == consumed, "the same bytes parsed twice differ");
      switch (result)
        {
        case FC_HTTP_NEED_MORE:
          FZ_CHECK (consumed <= rest && only_empty_lines (data + offset, consumed),
                    "NEED_MORE consumed more than empty lines");
          FZ_CHECK (rest - consumed < FZ_HTTP_HEAD_MAX, "NEED_MORE past the head's bound");
          FZ_CHECK (memchr (buf + consumed, '\n', rest - consumed) != NULL ||
                    rest - consumed < FZ_HTTP_LINE_MAX, "NEED_MORE past the line's bound");
          return 0;
        case FC_HTTP_DONE:
          FZ_CHECK (consumed <= rest, "consumed %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT,
                    consumed, rest);
          check_done (buf, rest, consumed, &request);
          {
            /* One byte short of the head is no head. */
            g_autofree char *cut = copy (buf, consumed - 1);

            FZ_CHECK (fc_http_parse (cut, consumed - 1, &again, &consumed_again,
                                     &refusal_again) == FC_HTTP_NEED_MORE,
                      "a proper prefix of a head is not NEED_MORE");
          }
          break;
        case FC_HTTP_REFUSED:
          check_refused (buf, rest, consumed, &refusal);
          if (refusal.close)
            return 0;
          break;
        }
      offset += consumed;
    }
}
