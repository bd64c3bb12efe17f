#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "beneath.h"
#include "dir-index.h"
#include "file-read.h"
#include "protocol.h"
#include "ratelimit.h"
#include "request.h"
#include "settle.h"

/* Loads and changes racing each other get this many fresh starts before a
 * request is answered with ERR 500. */
#define GET_ATTEMPTS 3

#define REPLY_PONG "OK PONG\n"
#define REPLY_BYE "OK BYE\n"

typedef enum {
  GET_DONE,                     /* answered, or @error set */
  GET_RETRY,                    /* the file changed under us: start again */
  GET_WAIT,                     /* long work is under way: wait for its flight */
} GetResult;

/* What a GET, STAT or GETFROM serves: the cached bytes of one version, or
 * the open file of one version, to stream. */
typedef struct {
  GBytes *bytes;                /* (owned) (nullable) */
  int fd;                       /* (owned): or -1 */
  FcFileId id;
} Source;

static void
source_clear (Source *source)
{
  g_clear_pointer (&source->bytes, g_bytes_unref);
  if (source->fd >= 0)
    close (source->fd);
  source->fd = -1;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Source, source_clear)

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

/* A response with a short text body (HTTP.md "Errors", and a 301). */
static void
http_answer_status (FcServeContext       *context,
                    const FcHttpExchange *http,
                    guint                 status,
                    const char           *reason,
                    gsize                 reason_len,
                    const char           *field,
                    gsize                 field_len,
                    FcReply              *reply)
{
  gsize len = fc_http_format_error (http->buf, status, reason, reason_len,
                                    http->request->method == FC_HTTP_HEAD, http->date,
                                    http->connection, field, field_len);

  FC_REQUEST_DEBUG (context, "HTTP %u: %.*s", status, (int) reason_len, reason);
  /* Stats' `errors`, as the line protocol's ERR lines: a 301 is none. */
  if (status >= 400)
    atomic_fetch_add (&context->errors, 1);
  fc_reply_set_head (reply, http->buf, len, TRUE);
}

/* The status and reason an #FcError has on the line protocol, or 500 for
 * a failed read (HTTP.md "Errors"). */
static void
http_answer_error (FcServeContext       *context,
                   const FcHttpExchange *http,
                   const GError         *error,
                   FcReply              *reply)
{
  FcError code = error->domain == FC_ERROR ? (FcError) error->code : FC_ERROR_READ_FAILED;
  gsize reason_len;
  const char *reason = fc_error_reason (code, &reason_len);

  http_answer_status (context, http, fc_error_status (code), reason, reason_len, NULL, 0, reply);
}

#define HTTP_ANSWER_STATUS(context, http, status, reason, reply) \
  http_answer_status (context, http, status, reason, sizeof (reason) - 1, NULL, 0, reply)

/* With --index, `/dir` that is a directory is sent to `/dir/`, the path
 * as received (HTTP.md "Directories"). */
static gboolean
answer_redirect (FcServeContext *context,
                 FcHttpExchange *http,
                 FcReply        *reply)
{
  static const char reason[] = "a directory: see the Location";
  const FcHttpRequest *request = http->request;
  char field[FC_HTTP_LINE_MAX + 16];
  struct stat st;
  gsize len;

  if (!FC_SETTING_LOAD (context, index) ||
      !fc_stat_beneath (context->root_fd, request->name, &st, NULL) || !S_ISDIR (st.st_mode))
    return FALSE;
  len = (gsize) g_snprintf (field, sizeof field, "Location: %.*s/\r\n",
                            (int) request->path.len, request->path.data);
  http_answer_status (context, http, 301, reason, sizeof reason - 1, field, len, reply);
  return TRUE;
}

/* A hit proved fresh by one fstatat() per component beneath the root,
 * against the identity the cached bytes were read with: no open(), no
 * close(). A name reached through a link takes the full path, which
 * drops the entry if the link now leads outside. */
static gboolean
resolve_cached (FcServeContext *context,
                const char     *name,
                Source         *source)
{
  struct stat st;

  if (!fc_cache_peek (context->cache, name) ||
      !fc_stat_beneath_plain (context->root_fd, name, &st))
    return FALSE;

  fc_file_id_from_stat (&source->id, &st);
  return fc_cache_lookup_hit (context->cache, name, &source->id, &source->bytes);
}

/* Opens @name confined beneath the root; a name that cannot be served
 * any more (gone, refused, outside the root) leaves the cache, its copy
 * stale whatever the cause, and is counted as a miss unless @counted. */
static int
open_or_forget (FcServeContext  *context,
                const char      *name,
                gboolean         counted,
                struct stat     *st,
                GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  int fd = fc_open_beneath (context->root_fd, name, st, &local_error);

  if (fd >= 0)
    return fd;
  fc_cache_miss (context->cache, name, counted,
                 g_error_matches (local_error, FC_ERROR, FC_ERROR_NOT_FOUND) ? FC_EVICT_DELETED
                                                                             : FC_EVICT_CHANGED);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return -1;
}

/* Opens @name confined beneath the root and counts the request as a hit
 * or a miss (@counted: an earlier attempt did); a miss that fits is
 * loaded into the cache (@may_load: no load of it failed for this
 * request), on the worker when small, in the pool when large; a request
 * that must wait for a load gets its flight in @wait. */
static GetResult
resolve_opened (FcServeContext  *context,
                const char      *name,
                gboolean         counted,
                gboolean         may_load,
                Source          *source,
                FcFlight       **wait,
                GError         **error)
{
  FcCache *cache = context->cache;
  g_autoptr(GError) load_error = NULL;
  FcCacheLoad *load = NULL;
  struct stat st;

  source->fd = open_or_forget (context, name, counted, &st, error);
  if (source->fd < 0)
    return GET_DONE;
  fc_file_id_from_stat (&source->id, &st);
  fc_settle_probe_fs (&source->id, source->fd);
  if (!may_load)
    return GET_DONE;

  switch (fc_cache_lookup (cache, name, &source->id, counted, &source->bytes, &load, wait))
    {
    case FC_LOOKUP_READY:
      break;

    case FC_LOOKUP_WAIT:
      return GET_WAIT;

    case FC_LOOKUP_LOAD:
      if (source->id.size > FC_JOBS_INLINE_MAX)
        {
          *wait = fc_cache_load_hand_off (load);
          fc_jobs_load (context->jobs, cache, load, g_steal_fd (&source->fd), &source->id);
          return GET_WAIT;
        }
      source->bytes = fc_file_read_whole (source->fd, &source->id, NULL, &load_error);
      if (source->bytes != NULL)
        {
          /* Send the cache's copy: the one its pinned count follows. */
          source->bytes = fc_cache_load_take (cache, load, source->bytes);
          break;
        }
      fc_cache_load_abort (cache, load);
      /* No memory for the whole file is no reason to refuse it. */
      if (g_error_matches (load_error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        return GET_DONE;
      g_propagate_error (error, g_steal_pointer (&load_error));
      return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;

    case FC_LOOKUP_BYPASS:
      return GET_DONE;
    }

  close (source->fd);
  source->fd = -1;
  return GET_DONE;
}

/* @len bytes of the body from @start: the cached bytes, or the file
 * streamed, its first window read now so that a change (worth a fresh
 * start) or a failed read (ERR 500) is still answerable. */
static GetResult
reply_body (Source   *source,
            guint64   start,
            guint64   len,
            FcReply  *reply,
            FcChunk  *chunk,
            GError  **error)
{
  if (source->bytes != NULL)
    {
      g_autoptr(GBytes) body = start == 0 && len == source->id.size
                                 ? g_bytes_ref (source->bytes)
                                 : g_bytes_new_from_bytes (source->bytes, start, len);

      fc_reply_set_bytes (reply, body);
      return GET_DONE;
    }

  fc_reply_set_file (reply, g_steal_fd (&source->fd), &source->id, start, len);
  if (fc_chunk_fill (chunk, reply, 0, error))
    return GET_DONE;
  fc_reply_clear (reply);
  return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;
}

/* The SHA-256 of the source's version, computed once (single flight):
 * on the worker when small, in the pool when large; a request that must
 * wait for it gets its flight in @wait. */
static GetResult
source_digest (FcServeContext  *context,
               Source          *source,
               FcChunk         *chunk,
               guint8           digest[FC_DIGEST_LEN],
               FcFlight       **wait,
               GError         **error)
{
  FcDigestJob *job = NULL;

  switch (fc_digests_lookup (context->digests, &source->id, digest, &job, wait))
    {
    case FC_DIGEST_READY:
      return GET_DONE;
    case FC_DIGEST_WAIT:
      return GET_WAIT;
    case FC_DIGEST_COMPUTE:
      break;
    }

  if (source->id.size > FC_JOBS_INLINE_MAX)
    {
      *wait = fc_flight_ref (fc_digests_job_flight (job));
      if (source->bytes != NULL)
        fc_jobs_hash_bytes (context->jobs, context->digests, job, source->bytes);
      else
        fc_jobs_hash_file (context->jobs, context->digests, job, g_steal_fd (&source->fd), &source->id);
      return GET_WAIT;
    }

  if (source->bytes != NULL)
    fc_digest_of_bytes (source->bytes, digest);
  else if (!fc_digest_of_file (source->fd, &source->id, chunk->data, chunk->size, digest, NULL, error))
    {
      /* The chunk held this reply's bytes no longer. */
      chunk->holder = 0;
      fc_digests_abort (context->digests, job, *error);
      return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;
    }
  chunk->holder = 0;
  fc_digests_finish (context->digests, job, digest);
  return GET_DONE;
}

/* An HTTP GET or HEAD once the version is known (HTTP.md "Responses to
 * GET and HEAD of a file"): its conditions, then its range, then the
 * digest (computed when asked for, single flight as for STAT; sent
 * without being asked when known), then the head and the body. A first
 * look only answers what needs no body (304, 412, 416): a 200 or 206 is
 * left to the counted path. */
static GetResult
answer_http_source (FcServeContext  *context,
                    FcHttpExchange  *http,
                    Source          *source,
                    FcReply         *reply,
                    FcChunk         *chunk,
                    FcFlight       **wait,
                    GError         **error)
{
  const FcHttpRequest *request = http->request;
  char etag[FC_HTTP_ETAG_LEN + 1];
  guint8 digest[FC_DIGEST_LEN];
  gboolean have_digest = FALSE;
  FcHttpVerdict verdict;
  FcHttpFileHead head;
  GetResult result;

  fc_http_etag (&source->id, etag);
  head = (FcHttpFileHead) {
    .verdict = &verdict,
    .size = source->id.size,
    .etag = etag,
    .mtime = source->id.mtime_sec,
    .date = http->date,
    .connection = http->connection,
  };
  /* A Last-Modified that another version may share is no If-Range
   * validator: a file whose mtime was set by hand (touch -d, tar, rsync
   * -t: its ctime is in another second) may have had any number of
   * versions stamped with it. A plain write stamps mtime and ctime alike;
   * two of them within one second stay indistinguishable, the limit of
   * a one-second date (README). */
  fc_http_evaluate (request, etag, head.mtime,
                    source->id.ctime_ns / G_GINT64_CONSTANT (1000000000) == source->id.mtime_sec,
                    source->id.size, &verdict);
  if (http->first_look && verdict.status != 304 && verdict.status != 412)
    return GET_DONE;
  http->decided = TRUE;

  switch (verdict.status)
    {
    case 412:
      HTTP_ANSWER_STATUS (context, http, 412, "precondition failed", reply);
      return GET_DONE;
    case 416:
      {
        char field[64];
        gsize len = (gsize) g_snprintf (field, sizeof field, "Content-Range: bytes */%" G_GUINT64_FORMAT "\r\n",
                                        source->id.size);

        http_answer_status (context, http, 416, "range not satisfiable",
                            sizeof "range not satisfiable" - 1, field, len, reply);
        return GET_DONE;
      }
    case 304:
      fc_reply_set_head (reply, http->buf, fc_http_format_file (http->buf, &head), TRUE);
      return GET_DONE;
    default:
      break;
    }

  if (request->want_sha256)
    {
      result = source_digest (context, source, chunk, digest, wait, error);
      if (result != GET_DONE || *error != NULL)
        return result;
      have_digest = TRUE;
    }
  else
    have_digest = fc_digests_peek (context->digests, &source->id, digest);
  head.digest = have_digest ? digest : NULL;
  head.content_type = fc_mime_table_lookup (g_atomic_pointer_get (&context->mime),
                                            request->name, request->name_len);

  if (request->method == FC_HTTP_GET)
    {
      result = reply_body (source, verdict.start, verdict.len, reply, chunk, error);
      if (result != GET_DONE || *error != NULL)
        return result;
    }
  fc_reply_set_head (reply, http->buf, fc_http_format_file (http->buf, &head), TRUE);
  return GET_DONE;
}

/* What GET, STAT and GETFROM do once the version is known. */
static GetResult
answer_source (FcServeContext   *context,
               const FcRequest  *request,
               Source           *source,
               FcReply          *reply,
               FcChunk          *chunk,
               FcFlight        **wait,
               GError          **error)
{
  guint8 digest[FC_DIGEST_LEN];
  GetResult result;

  switch (request->command)
    {
    case FC_COMMAND_GET:
      if (request->http != NULL)
        return answer_http_source (context, request->http, source, reply, chunk, wait, error);
      return reply_body (source, 0, source->id.size, reply, chunk, error);

    case FC_COMMAND_STAT:
      result = source_digest (context, source, chunk, digest, wait, error);
      if (result == GET_DONE && *error == NULL)
        fc_reply_set_static (reply, reply->status,
                             fc_format_stat (reply->status, source->id.size, digest));
      return result;

    case FC_COMMAND_GETFROM:
      result = source_digest (context, source, chunk, digest, wait, error);
      if (result != GET_DONE || *error != NULL)
        return result;
      if (memcmp (digest, request->digest, FC_DIGEST_LEN) != 0)
        {
          g_set_error_literal (error, FC_ERROR, FC_ERROR_DIGEST_MISMATCH,
                               "the file's content has another SHA-256");
          return GET_DONE;
        }
      if (request->offset > source->id.size)
        {
          g_set_error_literal (error, FC_ERROR, FC_ERROR_OFFSET_BEYOND_END,
                               "offset beyond end of file");
          return GET_DONE;
        }
      return reply_body (source, request->offset, source->id.size - request->offset,
                         reply, chunk, error);

    default:
      g_assert_not_reached ();
    }
}

/* An ERR 500 is the server's failure (a read error, an open() error no
 * client can cause, a file changing on every attempt), never a client's:
 * the admin must hear of it without --verbose. */
static void
warn_unservable (const char   *name,
                 const GError *error)
{
  static FcRateLimit unservable = FC_RATE_LIMIT_FAILURES;

  fc_rate_limit_log (&unservable, G_LOG_LEVEL_WARNING, _("Cannot serve “%s” (ERR 500): %s"),
                     name, error->message);
}

/* A GET, STAT or GETFROM refused: what is the server's failure, not the
 * client's, is logged, whether it happened on the worker or in the pool. */
static void
answer_file_error (FcServeContext  *context,
                   const FcRequest *request,
                   const GError    *error,
                   FcReply         *reply)
{
  /* The counted path that follows meets the same failure and answers it. */
  if (request->http != NULL && request->http->first_look)
    return;
  if (error->domain != FC_ERROR || error->code == FC_ERROR_READ_FAILED)
    warn_unservable (request->name, error);
  if (request->http != NULL)
    {
      if (!g_error_matches (error, FC_ERROR, FC_ERROR_NOT_REGULAR) ||
          !answer_redirect (context, request->http, reply))
        http_answer_error (context, request->http, error, reply);
    }
  else
    fc_request_answer_error (context, error, reply);
}

/* GET, STAT and GETFROM: each is one hit or one miss, counted before any
 * byte of the reply leaves, once however often it waits (@park). */
static GetResult
answer_file (FcServeContext  *context,
             const FcRequest *request,
             FcPark          *park,
             FcReply         *reply,
             FcChunk         *chunk)
{
  for (guint attempt = 1 + park->failures; ; attempt++)
    {
      g_auto(Source) source = { NULL, -1 };
      g_autoptr(GError) error = NULL;
      gboolean counted = attempt > 1 || park->waits > 0 || request->uncounted;
      GetResult result = GET_DONE;

      if (counted || !resolve_cached (context, request->name, &source))
        result = resolve_opened (context, request->name, counted,
                                 park->failures == 0 && !request->uncounted,
                                 &source, &park->flight, &error);
      if (result == GET_DONE && error == NULL)
        result = answer_source (context, request, &source, reply, chunk, &park->flight, &error);
      if (result == GET_WAIT)
        {
          FC_REQUEST_DEBUG (context, "%s: waiting for long work", request->name);
          return GET_WAIT;
        }

      if (result == GET_RETRY && attempt < GET_ATTEMPTS)
        {
          FC_REQUEST_DEBUG (context, "%s: %s; trying again", request->name, error->message);
          continue;
        }
      if (error != NULL)
        answer_file_error (context, request, error, reply);
      return GET_DONE;
    }
}

typedef struct {
  FcServeContext *context;
  char *text;                   /* (owned) */
  gsize len;
} Listing;

static void
listing_free (gpointer data)
{
  Listing *listing = data;

  atomic_fetch_sub (&listing->context->listing_bytes, listing->len);
  g_free (listing->text);
  g_free (listing);
}

/* LIST replies held by connections are charged against
 * FC_LISTING_BUDGET: clients that send LIST and never read cannot make
 * the daemon hold a copy of the cache's names each. */
/* LIST names only what a GET would serve from the cache: an entry whose
 * name no longer reaches its file beneath the root (a directory moved out
 * and linked back) leaves the cache now, as at its next GET. Through
 * plain directories that costs one fstatat() per component; a name that
 * goes through a link inside the root is resolved in full. */
static void
list_drop_unreachable (FcServeContext *context,
                       GArray         *entries)
{
  for (guint i = entries->len; i > 0; i--)
    {
      const char *name = g_array_index (entries, FcCacheInfo, i - 1).name;
      struct stat st;
      int fd;

      if (fc_stat_beneath_plain (context->root_fd, name, &st))
        continue;
      /* Counted: a LIST is no GET, so no miss. */
      fd = open_or_forget (context, name, TRUE, &st, NULL);
      if (fd >= 0)
        close (fd);
      else
        g_array_remove_index (entries, i - 1);
    }
}

/* @text (consumed) as bytes charged against FC_LISTING_BUDGET while a
 * reply holds them, or NULL with @error set when that would exceed it. */
static GBytes *
listing_new (FcServeContext  *context,
             GString         *text,
             GError         **error)
{
  Listing *listing = g_new (Listing, 1);
  g_autoptr(GBytes) bytes = NULL;

  listing->context = context;
  listing->len = text->len;
  listing->text = g_string_free (text, FALSE);
  bytes = g_bytes_new_with_free_func (listing->text, listing->len, listing_free, listing);
  if (atomic_fetch_add (&context->listing_bytes, listing->len) + listing->len > FC_LISTING_BUDGET)
    {
      g_set_error (error, FC_ERROR, FC_ERROR_LISTINGS_BUSY,
                   "listings in flight would exceed %u bytes", FC_LISTING_BUDGET);
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

static void
answer_list (FcServeContext *context,
             FcReply        *reply)
{
  g_autoptr(GArray) entries = fc_cache_list (context->cache);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  list_drop_unreachable (context, entries);
  bytes = listing_new (context, fc_format_list (entries), &error);
  if (bytes == NULL)
    {
      fc_request_answer_error (context, error, reply);
      return;
    }

  /* LIST's text is all status line, no body: bytes-sent counts bodies. */
  fc_reply_set_static (reply, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  reply->bytes = g_steal_pointer (&bytes);
}

/**
 * fc_park_clear:
 * @park: a line's park
 *
 * Drops its flight and zeroes it, as for a fresh line.
 */
void
fc_park_clear (FcPark *park)
{
  g_clear_pointer (&park->flight, fc_flight_unref);
  *park = (FcPark) { NULL, 0, 0 };
}

/* fc_request_parse() put a NUL in place of the line's CR or LF: a line
 * that waits is answered again from its original bytes. */
static void
line_restore (char  *line,
              gsize  line_len)
{
  if (line[line_len - 1] == '\0')
    line[line_len - 1] = '\n';
  else
    line[line_len - 2] = '\r';
}

/* A line back from waiting: a failure of the work it waited for counts
 * as one of its attempts. Returns FALSE once it is answered with it. */
static gboolean
park_landed (FcServeContext  *context,
             const FcRequest *request,
             FcPark          *park,
             FcReply         *reply)
{
  const GError *why = fc_flight_get_error (park->flight);

  if (why != NULL && ++park->failures >= GET_ATTEMPTS)
    {
      answer_file_error (context, request, why, reply);
      fc_park_clear (park);
      return FALSE;
    }
  g_clear_pointer (&park->flight, fc_flight_unref);
  return TRUE;
}

/* A request for a file, in either dialect, from its first look to its
 * answer: TRUE when it waits for long work (then the same request is
 * answered again with the same @park once that lands). */
static gboolean
answer_file_parked (FcServeContext  *context,
                    const FcRequest *request,
                    FcPark          *park,
                    FcReply         *reply,
                    FcChunk         *chunk)
{
  if (park->flight != NULL && !park_landed (context, request, park, reply))
    return FALSE;
  if (answer_file (context, request, park, reply, chunk) == GET_WAIT)
    {
      park->waits++;
      return TRUE;
    }
  if (park->waits > 0)
    fc_park_clear (park);
  return FALSE;
}

/**
 * fc_request_answer:
 * @context: the serving context
 * @line: one request line, LF included (fc_request_scan()); modified,
 *   but for %FC_ANSWER_WAIT: then it is as it came, to be answered again
 * @line_len: its length in bytes
 * @park: (inout): what the line carries from one answer to the next
 *   while it waits; zeroed for a fresh line
 * @reply: an empty reply, set to the answer
 * @chunk: the calling thread's chunk: a streamed reply's first window is
 *   read into it
 *
 * Answers one request line, counting it (and a GET as a hit or a miss)
 * before any byte of the reply is sent. Runs in a worker thread; blocks
 * only on the disk, never on long work: a request that needs a hash or a
 * load of more than %FC_JOBS_INLINE_MAX bytes (its own, in the pool, or
 * another request's) gets %FC_ANSWER_WAIT, no reply, and @park's flight
 * to join; once that lands the same line is answered again with the
 * same @park (counted once, whatever the number of turns).
 */
FcAnswer
fc_request_answer (FcServeContext *context,
                   char           *line,
                   gsize           line_len,
                   FcPark         *park,
                   FcReply        *reply,
                   FcChunk        *chunk)
{
  g_autoptr(GError) error = NULL;
  FcRequest request;

  if (park->waits == 0)
    atomic_fetch_add (&context->requests, 1);

  if (!fc_request_parse (line, line_len, &request, &error))
    {
      /* Every GET is a hit or a miss, even one the cache never saw. */
      if (request.command == FC_COMMAND_GET || request.command == FC_COMMAND_STAT ||
          request.command == FC_COMMAND_GETFROM)
        fc_cache_miss (context->cache, NULL, FALSE, FC_EVICT_CHANGED);
      return fc_request_answer_error (context, error, reply);
    }

  switch (request.command)
    {
    case FC_COMMAND_GET:
    case FC_COMMAND_STAT:
    case FC_COMMAND_GETFROM:
      FC_REQUEST_DEBUG (context, "%s", line);
      if (answer_file_parked (context, &request, park, reply, chunk))
        {
          line_restore (line, line_len);
          return FC_ANSWER_WAIT;
        }
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

/**
 * fc_http_scratch_init:
 * @scratch: (out caller-allocates): a worker thread's HTTP scratch
 *
 * One per worker thread: the buffer response heads are formatted in, and
 * the clock that formats `Date` once a second.
 */
void
fc_http_scratch_init (FcHttpScratch *scratch)
{
  *scratch = (FcHttpScratch) { .head = g_malloc (FC_HTTP_REPLY_MAX), .clock = { .second = -1 } };
}

void
fc_http_scratch_clear (FcHttpScratch *scratch)
{
  g_clear_pointer (&scratch->head, g_free);
}

static FcHttpConnection
http_connection (gboolean keep_alive,
                 gboolean echo)
{
  if (!keep_alive)
    return FC_HTTP_CLOSE;
  return echo ? FC_HTTP_KEEP_ALIVE : FC_HTTP_PERSIST;
}

static void
count_http_request (FcServeContext *context)
{
  atomic_fetch_add (&context->requests, 1);
  atomic_fetch_add (&context->requests_http, 1);
}

/**
 * fc_request_answer_http_refusal:
 * @context: the serving context
 * @refusal: why fc_http_parse() refused a request head
 * @reply: an empty reply, set to the answer
 * @scratch: the calling thread's HTTP scratch; the reply borrows it
 *
 * Answers a refused head with its status (HTTP.md "Errors"; a 405 says
 * `Allow: GET, HEAD`), counted as an HTTP request.
 *
 * Returns: %FC_ANSWER_CLOSE where HTTP.md closes after the refusal,
 *   %FC_ANSWER_REPLY otherwise
 */
FcAnswer
fc_request_answer_http_refusal (FcServeContext      *context,
                                const FcHttpRefusal *refusal,
                                FcReply             *reply,
                                FcHttpScratch       *scratch)
{
  static const char allow[] = "Allow: GET, HEAD\r\n";
  FcHttpRequest request = { .method = refusal->head ? FC_HTTP_HEAD : FC_HTTP_GET };
  FcHttpExchange http = {
    .request = &request,
    .buf = scratch->head,
    .date = fc_http_clock_now (&scratch->clock),
    .connection = refusal->close ? FC_HTTP_CLOSE : FC_HTTP_PERSIST,
  };

  count_http_request (context);
  http_answer_status (context, &http, refusal->status, refusal->reason, strlen (refusal->reason),
                      refusal->status == 405 ? allow : NULL, sizeof allow - 1, reply);
  return refusal->close ? FC_ANSWER_CLOSE : FC_ANSWER_REPLY;
}

/* Whether the listing is JSON rather than HTML: Accept decides. */
static gboolean
index_wants_json (const FcHttpRequest *request)
{
  const char *values[FC_HTTP_LIST_MAX];
  gsize lens[FC_HTTP_LIST_MAX];

  for (guint i = 0; i < request->accept.n; i++)
    {
      values[i] = request->accept.lines[i].data;
      lens[i] = request->accept.lines[i].len;
    }
  return fc_accept_prefers_json (values, lens, request->accept.n);
}

/* A listing's text (consumed), made here or in the pool, or why there is
 * none, as the response: charged against the budget LIST replies share. */
static void
answer_listing (FcServeContext *context,
                FcHttpExchange *http,
                gboolean        json,
                GString        *text,
                const GError   *why,
                FcReply        *reply)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  gsize len;

  if (text == NULL && g_error_matches (why, FC_DIR_INDEX_ERROR, FC_DIR_INDEX_ERROR_TOO_MANY))
    {
      http_answer_status (context, http, 500, why->message, strlen (why->message), NULL, 0, reply);
      return;
    }
  if (text == NULL)
    {
      http_answer_error (context, http, why, reply);
      return;
    }
  body = listing_new (context, text, &error);
  if (body == NULL)
    {
      http_answer_error (context, http, error, reply);
      return;
    }

  len = fc_http_format_listing (http->buf, json ? "application/json" : "text/html; charset=utf-8",
                                g_bytes_get_size (body), http->date, http->connection, TRUE);
  if (http->request->method == FC_HTTP_GET)
    fc_reply_set_bytes (reply, body);
  fc_reply_set_head (reply, http->buf, len, TRUE);
}

/* The listing of a directory (HTTP.md "Directories"): JSON or HTML by
 * Accept. A small directory is read and rendered here; a large one
 * (FC_DIR_INDEX_INLINE_MAX) in the pool, while the request waits parked
 * on a flight of its own: TRUE then, and the same request comes back
 * with the same @park once it has landed, to take the text from it. */
static gboolean
answer_index (FcServeContext *context,
              FcHttpExchange *http,
              FcPark         *park,
              FcReply        *reply)
{
  const FcHttpRequest *request = http->request;
  gboolean json = index_wants_json (request);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = NULL;
  GString *text = NULL;
  struct stat st;
  int fd;

  if (park->flight != NULL)
    {
      text = fc_flight_steal_result (park->flight);
      answer_listing (context, http, json, text, fc_flight_get_error (park->flight), reply);
      fc_park_clear (park);
      return FALSE;
    }

  fd = fc_open_dir_beneath (context->root_fd, request->name, &st, &error);
  if (fd >= 0 && (st.st_size > FC_DIR_INDEX_INLINE_MAX || st.st_size == 0))
    {
      FC_REQUEST_DEBUG (context, "/%s/: listed in the pool (%" G_GINT64_FORMAT " bytes)",
                        request->name, (gint64) st.st_size);
      park->flight = fc_flight_new ();
      fc_jobs_list (context->jobs, park->flight, context->root_fd, fd, request->name, json,
                    (guint64) st.st_size);
      park->waits++;
      return TRUE;
    }
  if (fd >= 0)
    entries = fc_dir_index_read_dir (context->root_fd, fd, request->name, FC_DIR_INDEX_MAX_ENTRIES,
                                     NULL, &error);
  /* fc_dir_index_html() wants the bare name ("" for the root) and adds
   * the slashes itself. */
  if (entries != NULL)
    text = json ? fc_dir_index_json (entries) : fc_dir_index_html (request->name, entries);
  answer_listing (context, http, json, text, error, reply);
  return FALSE;
}

/* A path that ends in `/` (HTTP.md "Directories"): the listing with
 * --index (TRUE when it waits for the pool, as answer_index() says);
 * without it a directory is 403; a path to anything else is 404. */
static gboolean
answer_directory_form (FcServeContext *context,
                       FcHttpExchange *http,
                       FcPark         *park,
                       FcReply        *reply)
{
  const FcHttpRequest *request = http->request;
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd;

  if (FC_SETTING_LOAD (context, index))
    return answer_index (context, http, park, reply);
  /* --index was turned off (a reload) while its listing was made. */
  fc_park_clear (park);
  fd = fc_open_dir_beneath (context->root_fd, request->name, &st, &error);
  if (fd >= 0)
    {
      close (fd);
      HTTP_ANSWER_STATUS (context, http, 403, "a directory, and no index is served", reply);
    }
  else
    http_answer_error (context, http, error, reply);
  return FALSE;
}

/**
 * fc_request_answer_http:
 * @context: the serving context
 * @http_request: a GET or HEAD that fc_http_parse() accepted
 * @park: (inout): as for fc_request_answer(); a request that waits is
 *   parsed again from the same bytes and answered with the same @park
 * @reply: an empty reply, set to the answer
 * @chunk: the calling thread's chunk
 * @scratch: the calling thread's HTTP scratch; the reply borrows it
 *   (fc_reply_keep_head())
 *
 * Answers one HTTP request by the same path as the line protocol's GET
 * (cache, confinement, freshness, single flight, digests, streaming),
 * counting it as HTTP.md "Counting and control" says: a GET as a hit or
 * a miss, a HEAD and a 304 or 412 as a request only. Runs in a worker
 * thread; blocks only on the disk, never on long work: a large
 * directory's listing (%FC_DIR_INDEX_INLINE_MAX) is made in the pool and
 * waits as a large file's load does.
 *
 * Returns: %FC_ANSWER_WAIT as for fc_request_answer(); %FC_ANSWER_CLOSE
 *   when the response ends the connection
 */
FcAnswer
fc_request_answer_http (FcServeContext      *context,
                        const FcHttpRequest *http_request,
                        FcPark              *park,
                        FcReply             *reply,
                        FcChunk             *chunk,
                        FcHttpScratch       *scratch)
{
  FcHttpExchange http = {
    .request = http_request,
    .buf = scratch->head,
    .date = fc_http_clock_now (&scratch->clock),
    .connection = http_connection (http_request->keep_alive, http_request->echo_keep_alive),
  };
  FcRequest request = {
    .command = FC_COMMAND_GET,
    .name = http_request->name,
    .name_len = http_request->name_len,
    .uncounted = http_request->method == FC_HTTP_HEAD,
    .http = &http,
  };
  FcAnswer done = http.connection == FC_HTTP_CLOSE ? FC_ANSWER_CLOSE : FC_ANSWER_REPLY;

  if (park->waits == 0)
    count_http_request (context);
  FC_REQUEST_DEBUG (context, "HTTP %s /%s", http_request->method == FC_HTTP_HEAD ? "HEAD" : "GET",
                    http_request->name);

  if (http_request->trailing_slash || http_request->name_len == 0)
    return answer_directory_form (context, &http, park, reply) ? FC_ANSWER_WAIT : done;

  /* A conditional GET answered 304 or 412 is no hit and no miss: its
   * version is looked at uncounted first. */
  if (park->waits == 0 && !request.uncounted &&
      (http_request->if_match.n > 0 || http_request->if_none_match.n > 0 ||
       http_request->if_modified_since.data != NULL ||
       http_request->if_unmodified_since.data != NULL))
    {
      FcRequest look = request;
      FcHttpExchange first = http;

      first.first_look = TRUE;
      look.http = &first;
      look.uncounted = TRUE;
      answer_file (context, &look, park, reply, chunk);
      if (first.decided)
        return done;
    }

  return answer_file_parked (context, &request, park, reply, chunk) ? FC_ANSWER_WAIT : done;
}
