/* The request-line scanner and parser against PROTOCOL.md's "Requests":
 * the input is a stream of bytes from a client, consumed line by line as
 * the server does. */
#include <string.h>

#include "contract.h"
#include "errors.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_line (const guint8 *data,
            gsize         line_len)
{
  /* Exactly the line, so that a read past it is caught. */
  g_autofree char *line = g_memdup2 (data, line_len);
  g_autoptr(GError) error = NULL;
  const guint8 *name = NULL;
  gsize name_len = 0;
  FzExpect expect = fz_expect_line (data, line_len - 1, &name, &name_len);
  FcRequest request;
  gboolean ok = fc_request_parse (line, line_len, &request, &error);

  FZ_CHECK (ok == (error == NULL), "a result and an error disagree");
  if (!ok)
    FZ_CHECK (error->domain == FC_ERROR && fc_error_status (error->code) == 400,
              "a refused line must be 400: %s", error->message);

  switch (expect)
    {
    case FZ_EXPECT_BAD:
      FZ_CHECK (!ok, "accepted a malformed line (command %d)", request.command);
      break;
    case FZ_EXPECT_GET:
      FZ_CHECK (ok && request.command == FC_COMMAND_GET, "GET refused: %s",
                error != NULL ? error->message : "wrong command");
      FZ_CHECK (request.name_len == name_len && memcmp (request.name, name, name_len) == 0,
                "the name is not the rest of the line");
      FZ_CHECK (request.name[name_len] == '\0', "the name is not NUL-terminated");
      break;
    case FZ_EXPECT_LIST:
      FZ_CHECK (ok && request.command == FC_COMMAND_LIST, "LIST");
      break;
    case FZ_EXPECT_PING:
      FZ_CHECK (ok && request.command == FC_COMMAND_PING, "PING");
      break;
    case FZ_EXPECT_QUIT:
      FZ_CHECK (ok && request.command == FC_COMMAND_QUIT, "QUIT");
      break;
    case FZ_EXPECT_V1_1:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *stream = NULL;
  gsize offset = 0;

  /* The empty input may come as NULL, and NULL + 0 is undefined. */
  if (size == 0)
    {
      gsize line_len;

      FZ_CHECK (fc_request_scan ("", 0, &line_len) == FC_SCAN_NEED_MORE, "no bytes, yet a line");
      return 0;
    }
  stream = g_memdup2 (data, size);

  for (;;)
    {
      gsize rest = size - offset;
      const guint8 *lf = memchr (data + offset, '\n', MIN (rest, FZ_LINE_MAX));
      gsize line_len = 0;
      FcScan scan = fc_request_scan (stream + offset, rest, &line_len);

      if (lf == NULL)
        {
          /* 4095 bytes and the LF are a line; 4096 with no LF are too long. */
          FZ_CHECK (scan == (rest >= FZ_LINE_MAX ? FC_SCAN_TOO_LONG : FC_SCAN_NEED_MORE),
                    "scan %d with %" G_GSIZE_FORMAT " bytes and no LF", scan, rest);
          return 0;
        }

      FZ_CHECK (scan == FC_SCAN_LINE && line_len == (gsize) (lf - (data + offset)) + 1,
                "scan %d, line of %" G_GSIZE_FORMAT " bytes", scan, line_len);
      check_line (data + offset, line_len);
      offset += line_len;
    }
}
