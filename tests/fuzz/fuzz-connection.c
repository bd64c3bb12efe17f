/* A whole connection: the input is sent to a real server (in this
 * process, over loopback) as a client's bytes, then the write side is
 * closed, and every reply is held against PROTOCOL.md: its grammar, one
 * reply per complete line (up to QUIT or a too-long line, after which
 * the server closes), and the content of every file served. The cache
 * is smaller than some files, so both cached and streamed bodies run. */
#include <string.h>

#include "contract.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fz_serve ("fuzz-connection", FALSE, FALSE);
  return 0;
}

typedef struct {
  const guint8 *data;
  gsize len;
  gsize pos;
} Reader;

/* (transfer full): the next reply line without its LF; aborts if the
 * server closed before one. */
static char *
next_line (Reader     *r,
           const char *request)
{
  const guint8 *lf;
  char *line;

  FZ_CHECK (r->pos < r->len, "no reply to \"%s\"", request);
  lf = memchr (r->data + r->pos, '\n', r->len - r->pos);
  FZ_CHECK (lf != NULL, "no whole reply to \"%s\"", request);
  line = g_strndup ((const char *) r->data + r->pos, (gsize) (lf - (r->data + r->pos)));
  FZ_CHECK (strlen (line) == (gsize) (lf - (r->data + r->pos)), "a NUL in a status line");
  r->pos = (gsize) (lf - r->data) + 1;
  return line;
}

/* `OK <n>`: returns n. */
static guint64
parse_ok_count (const char *line,
                const char *request)
{
  guint64 n = 0;

  FZ_CHECK (g_str_has_prefix (line, "OK ") && fz_number_ok (line + 3, strlen (line) - 3, &n),
            "\"%s\" for \"%s\"", line, request);
  return n;
}

/* `ERR <code> <text>`: returns the code. */
static guint
parse_err (const char *line,
           const char *request)
{
  guint64 code = 0;

  FZ_CHECK (g_str_has_prefix (line, "ERR ") && strlen (line) > 8 && line[7] == ' ' &&
            fz_number_ok (line + 4, 3, &code) && line[8] != '\0',
            "\"%s\" for \"%s\"", line, request);
  for (const char *c = line + 8; *c != '\0'; c++)
    FZ_CHECK ((guchar) *c >= 0x20 && *c != 0x7f, "a control character in \"%s\"", line);
  return (guint) code;
}

static const guint8 *
take_body (Reader     *r,
           guint64     n,
           const char *request)
{
  const guint8 *body = n > 0 ? r->data + r->pos : NULL;

  FZ_CHECK (n <= r->len - r->pos, "a body of %" G_GUINT64_FORMAT " cut short for \"%s\"", n, request);
  r->pos += n;
  return body;
}

static void
check_get (Reader     *r,
           const char *name,
           const char *request)
{
  g_autofree char *line = next_line (r, request);
  GBytes *content = fz_served (name);
  guint code;

  if (content != NULL)
    {
      guint64 n = parse_ok_count (line, request);
      const guint8 *body = take_body (r, n, request);

      FZ_CHECK (n == g_bytes_get_size (content) &&
                (n == 0 || memcmp (body, g_bytes_get_data (content, NULL), n) == 0),
                "the body of \"%s\" is not the file's content", request);
      return;
    }

  code = parse_err (line, request);
  if (fz_forbidden (name))
    FZ_CHECK (code == 403, "\"%s\" for \"%s\"", line, request);
  else
    FZ_CHECK (code == 403 || code == 404, "\"%s\" for \"%s\"", line, request);
}

/* `OK <n>`, then n lines `<size> <hits> <name>` of files served and small
 * enough to be cached. */
static void
check_list (Reader *r)
{
  g_autofree char *line = next_line (r, "LIST");
  guint64 n = parse_ok_count (line, "LIST");

  for (guint64 i = 0; i < n; i++)
    {
      g_autofree char *entry = next_line (r, "LIST");
      g_auto(GStrv) fields = g_strsplit (entry, " ", 3);
      guint64 size = 0, hits = 0;
      GBytes *content;

      FZ_CHECK (g_strv_length (fields) == 3 &&
                fz_number_ok (fields[0], strlen (fields[0]), &size) &&
                fz_number_ok (fields[1], strlen (fields[1]), &hits) && hits >= 1,
                "LIST entry \"%s\"", entry);
      content = fz_served (fields[2]);
      FZ_CHECK (content != NULL && size == g_bytes_get_size (content) && size <= FZ_CACHE_CAPACITY,
                "LIST entry \"%s\"", entry);
    }
}

/* STAT and GETFROM (v1.1): `OK <size> <sha256>`, `OK <n>` and a body, or
 * an error. */
static void
check_v1_1 (Reader     *r,
            const char *request)
{
  g_autofree char *line = next_line (r, request);
  const char *space = strchr (line, ' ');
  guint64 n = 0;

  if (g_str_has_prefix (line, "ERR "))
    {
      guint code = parse_err (line, request);

      FZ_CHECK (code == 400 || code == 403 || code == 404 || code == 412 || code == 416,
                "\"%s\" for \"%s\"", line, request);
      return;
    }
  space = strchr (line + 3, ' ');
  if (g_str_has_prefix (request, "STAT "))
    {
      FZ_CHECK (g_str_has_prefix (line, "OK ") && space != NULL && strlen (space + 1) == 64 &&
                fz_number_ok (line + 3, (gsize) (space - line - 3), &n) &&
                strspn (space + 1, "0123456789abcdef") == 64,
                "\"%s\" for \"%s\"", line, request);
      return;
    }
  take_body (r, parse_ok_count (line, request), request);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GByteArray) replies = fz_exchange (&data, size);
  Reader r = { replies->data, replies->len, 0 };
  gsize offset = 0;

  for (;;)
    {
      gsize rest = size - offset;
      const guint8 *lf = memchr (data + offset, '\n', MIN (rest, FZ_LINE_MAX));
      const guint8 *name = NULL;
      gsize name_len = 0;
      g_autofree char *request = NULL;
      FzExpect expect;

      if (lf == NULL)
        {
          if (rest >= FZ_LINE_MAX)
            {
              g_autofree char *line = next_line (&r, "a line too long");

              FZ_CHECK (parse_err (line, "a line too long") == 414, "\"%s\"", line);
            }
          /* A partial line at the end gets no reply. */
          break;
        }

      expect = fz_expect_line (data + offset, (gsize) (lf - (data + offset)), &name, &name_len);
      request = g_strndup ((const char *) data + offset, (gsize) (lf - (data + offset)));
      offset = (gsize) (lf - data) + 1;

      switch (expect)
        {
        case FZ_EXPECT_BAD:
          {
            g_autofree char *line = next_line (&r, request);

            FZ_CHECK (parse_err (line, request) == 400, "\"%s\" for \"%s\"", line, request);
          }
          break;
        case FZ_EXPECT_GET:
          {
            g_autofree char *copy = g_strndup ((const char *) name, name_len);

            check_get (&r, copy, request);
          }
          break;
        case FZ_EXPECT_LIST:
          check_list (&r);
          break;
        case FZ_EXPECT_PING:
        case FZ_EXPECT_QUIT:
          {
            g_autofree char *line = next_line (&r, request);

            FZ_CHECK (g_str_equal (line, expect == FZ_EXPECT_PING ? "OK PONG" : "OK BYE"),
                      "\"%s\" for \"%s\"", line, request);
          }
          break;
        case FZ_EXPECT_V1_1:
          check_v1_1 (&r, request);
          break;
        }
      if (expect == FZ_EXPECT_QUIT)
        break;
    }

  FZ_CHECK (r.pos == r.len, "%" G_GSIZE_FORMAT " bytes after the last reply", r.len - r.pos);
  return 0;
}
