/* fc_http_sniff() and fc_http_parse() from the command line, for the
 * differential test against another parser: each input is printed as
 * one JSON line. Inputs are the files named, each one input; or, with no
 * argument, stdin as records `<length> LF <bytes>`. Strings are bytes,
 * each written as the code point of the same value (latin-1), so that
 * any byte survives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-parse.h"

static void
put_bytes (GString    *out,
           const char *data,
           gsize       len)
{
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) data[i];

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c >= 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

static void
put_slice (GString     *out,
           const char  *key,
           FcHttpSlice  slice)
{
  g_string_append_printf (out, ", \"%s\": ", key);
  if (slice.data == NULL)
    g_string_append (out, "null");
  else
    put_bytes (out, slice.data, slice.len);
}

static void
put_list (GString      *out,
          const char   *key,
          FcHttpList   *list)
{
  g_string_append_printf (out, ", \"%s\": [", key);
  for (guint i = 0; i < list->n; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      put_bytes (out, list->lines[i].data, list->lines[i].len);
    }
  g_string_append_c (out, ']');
}

static const char *
boolean (gboolean value)
{
  return value ? "true" : "false";
}

static void
report (const char *buf,
        gsize       len)
{
  static const char *const sniffs[] = { "need-more", "http", "line" };
  g_autoptr(GString) out = g_string_new (NULL);
  FcHttpRequest request;
  FcHttpRefusal refusal;
  gsize consumed;
  FcHttpParse result = fc_http_parse (buf, len, &request, &consumed, &refusal);

  g_string_append_printf (out, "{\"sniff\": \"%s\", \"consumed\": %" G_GSIZE_FORMAT,
                          sniffs[fc_http_sniff (buf, len)], consumed);
  switch (result)
    {
    case FC_HTTP_NEED_MORE:
      g_string_append (out, ", \"result\": \"need-more\"");
      break;
    case FC_HTTP_REFUSED:
      g_string_append_printf (out, ", \"result\": \"refused\", \"status\": %u, \"close\": %s, "
                              "\"head\": %s, \"minor\": %u, \"reason\": ",
                              refusal.status, boolean (refusal.close), boolean (refusal.head),
                              refusal.minor);
      put_bytes (out, refusal.reason, strlen (refusal.reason));
      break;
    case FC_HTTP_DONE:
      g_string_append_printf (out, ", \"result\": \"done\", \"method\": \"%s\", \"minor\": %u, "
                              "\"keep_alive\": %s, \"echo_keep_alive\": %s, "
                              "\"trailing_slash\": %s, \"want_sha256\": %s, "
                              "\"range_repeated\": %s, \"name\": ",
                              request.method == FC_HTTP_GET ? "GET" : "HEAD", request.minor,
                              boolean (request.keep_alive), boolean (request.echo_keep_alive),
                              boolean (request.trailing_slash), boolean (request.want_sha256),
                              boolean (request.range_repeated));
      put_bytes (out, request.name, request.name_len);
      put_slice (out, "path", request.path);
      put_slice (out, "range", request.range);
      put_slice (out, "if_range", request.if_range);
      put_slice (out, "if_modified_since", request.if_modified_since);
      put_slice (out, "if_unmodified_since", request.if_unmodified_since);
      put_list (out, "if_match", &request.if_match);
      put_list (out, "if_none_match", &request.if_none_match);
      put_list (out, "accept", &request.accept);
      break;
    }
  g_string_append (out, "}\n");
  fwrite (out->str, 1, out->len, stdout);
}

int
main (int    argc,
      char **argv)
{
  if (argc > 1)
    {
      for (int i = 1; i < argc; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *contents = NULL;
          gsize len;

          if (!g_file_get_contents (argv[i], &contents, &len, &error))
            {
              g_printerr ("%s\n", error->message);
              return 1;
            }
          report (contents, len);
        }
      return 0;
    }

  for (;;)
    {
      g_autofree char *buf = NULL;
      unsigned long len;

      if (scanf ("%lu", &len) != 1)
        return feof (stdin) ? 0 : 1;
      if (getchar () != '\n')
        return 1;
      /* Exactly the record: a read past it is a sanitizer's finding. */
      buf = g_malloc (MAX (len, 1));
      if (fread (buf, 1, len, stdin) != len)
        return 1;
      report (buf, len);
    }
}
