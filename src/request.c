#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "beneath.h"
#include "file-read.h"
#include "protocol.h"
#include "request.h"

/* Loads and changes racing each other get this many fresh starts before a
 * request is answered with ERR 500. */
#define GET_ATTEMPTS 3

#define REPLY_PONG "OK PONG\n"
#define REPLY_BYE "OK BYE\n"

typedef enum {
  GET_DONE,                     /* @reply is set, or @error */
  GET_RETRY,                    /* the file changed under us: start again */
} GetResult;

/**
 * fc_request_answer_error:
 * @context: the serving context
 * @error: why a request is refused; an %FC_ERROR, anything else is a
 *   failed read
 * @reply: an empty reply, set to the `ERR` line
 *
 * Returns: %FC_ANSWER_CLOSE for a refusal after which the protocol closes
 *   the connection (414), %FC_ANSWER_REPLY otherwise
 */
FcAnswer
fc_request_answer_error (FcServeContext *context,
                         const GError   *error,
                         FcReply        *reply)
{
  FcError code = error->domain == FC_ERROR ? (FcError) error->code : FC_ERROR_READ_FAILED;
  gsize len;
  const char *line = fc_error_reply (code, &len);

  FC_REQUEST_DEBUG (context, "ERR %u: %s", fc_error_status (code), error->message);
  atomic_fetch_add (&context->errors, 1);
  fc_reply_set_static (reply, line, len);
  return code == FC_ERROR_LINE_TOO_LONG ? FC_ANSWER_CLOSE : FC_ANSWER_REPLY;
}

/* A hit proved fresh by one fstatat() beneath the root, against the
 * identity the cached bytes were read with: no open(), no close(). */
static gboolean
get_cached (FcServeContext *context,
            const char     *name,
            FcReply        *reply)
{
  g_autoptr(GBytes) bytes = NULL;
  struct stat st;
  FcFileId cached;
  FcFileId id;

  if (!fc_cache_peek (context->cache, name, &cached) ||
      fstatat (context->root_fd, name, &st, AT_NO_AUTOMOUNT) != 0)
    return FALSE;

  fc_file_id_from_stat (&id, &st);
  if (!fc_file_id_equal (&id, &cached) ||
      !fc_cache_lookup_hit (context->cache, name, &id, &bytes))
    return FALSE;

  fc_reply_set_bytes (reply, bytes);
  return TRUE;
}

/* Streams @fd (transfer full): its first window is read now, so that a
 * change (worth a fresh start) or a failed read (ERR 500) is still
 * answerable. */
static GetResult
get_streamed (int              fd,
              const FcFileId  *id,
              FcReply         *reply,
              FcChunk         *chunk,
              GError         **error)
{
  fc_reply_set_file (reply, fd, id);
  if (fc_chunk_fill (chunk, reply, 0, error))
    return GET_DONE;
  fc_reply_clear (reply);
  return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;
}

/* Answers from the cache or from @fd (transfer full). */
static GetResult
get_opened (FcServeContext  *context,
            const char      *name,
            int              fd,
            const FcFileId  *id,
            gboolean         counted,
            FcReply         *reply,
            FcChunk         *chunk,
            GError         **error)
{
  FcCache *cache = context->cache;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) load_error = NULL;
  FcCacheLoad *load = NULL;

  switch (fc_cache_lookup (cache, name, id, counted, &bytes, &load))
    {
    case FC_LOOKUP_READY:
      break;

    case FC_LOOKUP_LOAD:
      bytes = fc_file_read_whole (fd, id, &load_error);
      if (bytes != NULL)
        {
          fc_cache_load_finish (cache, load, bytes);
          break;
        }
      fc_cache_load_abort (cache, load);
      /* No memory for the whole file is no reason to refuse it. */
      if (g_error_matches (load_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        return get_streamed (fd, id, reply, chunk, error);
      close (fd);
      g_propagate_error (error, g_steal_pointer (&load_error));
      return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;

    case FC_LOOKUP_BYPASS:
      return get_streamed (fd, id, reply, chunk, error);
    }

  close (fd);
  fc_reply_set_bytes (reply, bytes);
  return GET_DONE;
}

/* @counted: an earlier attempt at this GET already counted it. */
static GetResult
get_once (FcServeContext  *context,
          const char      *name,
          gboolean         counted,
          FcReply         *reply,
          FcChunk         *chunk,
          GError         **error)
{
  struct stat st;
  FcFileId id;
  int fd = fc_open_beneath (context->root_fd, name, &st, error);

  if (fd < 0)
    {
      /* Whatever made the name unservable, its cached copy is stale. */
      fc_cache_miss (context->cache, name, counted);
      return GET_DONE;
    }

  fc_file_id_from_stat (&id, &st);
  return get_opened (context, name, fd, &id, counted, reply, chunk, error);
}

static void
answer_get (FcServeContext *context,
            const char     *name,
            FcReply        *reply,
            FcChunk        *chunk)
{
  if (get_cached (context, name, reply))
    return;

  for (guint attempt = 1; ; attempt++)
    {
      g_autoptr(GError) error = NULL;
      GetResult result = get_once (context, name, attempt > 1, reply, chunk, &error);

      if (result == GET_RETRY && attempt < GET_ATTEMPTS)
        {
          FC_REQUEST_DEBUG (context, "GET %s: %s; trying again", name, error->message);
          continue;
        }
      if (error != NULL)
        fc_request_answer_error (context, error, reply);
      return;
    }
}

static void
answer_list (FcServeContext *context,
             FcReply        *reply)
{
  g_autoptr(GArray) entries = fc_cache_list (context->cache);
  GString *text = fc_format_list (entries);
  gsize len = text->len;
  g_autoptr(GBytes) bytes = g_string_free_to_bytes (text);

  /* LIST's text is all status line, no body: bytes-sent counts bodies. */
  fc_reply_set_static (reply, g_bytes_get_data (bytes, NULL), len);
  reply->bytes = g_steal_pointer (&bytes);
}

/**
 * fc_request_answer:
 * @context: the serving context
 * @line: one request line, LF included (fc_request_scan()); modified
 * @line_len: its length in bytes
 * @reply: an empty reply, set to the answer
 * @chunk: the calling thread's chunk: a streamed reply's first window is
 *   read into it
 *
 * Answers one request line, counting it (and a GET as a hit or a miss)
 * before any byte of the reply is sent. Runs in a worker thread; blocks
 * only on the disk.
 */
FcAnswer
fc_request_answer (FcServeContext *context,
                   char           *line,
                   gsize           line_len,
                   FcReply        *reply,
                   FcChunk        *chunk)
{
  g_autoptr(GError) error = NULL;
  FcRequest request;

  atomic_fetch_add (&context->requests, 1);

  if (!fc_request_parse (line, line_len, &request, &error))
    {
      /* Every GET is a hit or a miss, even one the cache never saw. */
      if (request.command == FC_COMMAND_GET)
        fc_cache_miss (context->cache, NULL, FALSE);
      return fc_request_answer_error (context, error, reply);
    }

  switch (request.command)
    {
    case FC_COMMAND_GET:
      FC_REQUEST_DEBUG (context, "GET %s", request.name);
      answer_get (context, request.name, reply, chunk);
      return FC_ANSWER_REPLY;
    case FC_COMMAND_LIST:
      answer_list (context, reply);
      return FC_ANSWER_REPLY;
    case FC_COMMAND_PING:
      fc_reply_set_static (reply, REPLY_PONG, sizeof REPLY_PONG - 1);
      return FC_ANSWER_REPLY;
    case FC_COMMAND_QUIT:
      fc_reply_set_static (reply, REPLY_BYE, sizeof REPLY_BYE - 1);
      return FC_ANSWER_CLOSE;
    case FC_COMMAND_NONE:
      break;
    }

  g_assert_not_reached ();
}
