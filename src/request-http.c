#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "beneath.h"
#include "dir-index.h"
#include "file-read.h"
#include "request-private.h"

/* The HTTP dialect's side of the request path (HTTP.md): its entry
 * points, what a GET or HEAD answers once the shared path has found the
 * version (conditions, ranges, the digest, the head), its errors, and
 * directories. Everything about the file itself is request.c's. */

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
  gboolean head_only = http->request->method == FC_HTTP_HEAD;
  gsize len = fc_http_format_error (http->buf, status, reason, reason_len, head_only, http->date,
                                    http->connection, field, field_len);

  FC_REQUEST_DEBUG (context, "HTTP %u: %.*s", status, (int) reason_len, reason);
  /* Stats' `errors`, as the line protocol's ERR lines: a 301 is none. */
  if (status >= 400)
    atomic_fetch_add (&context->errors, 1);
  fc_reply_set_head (reply, http->buf, len, TRUE);
  if (!head_only)
    fc_reply_set_head_body (reply, FC_HTTP_ERROR_BODY_LEN (reason_len));
}

#define HTTP_ANSWER_STATUS(context, http, status, reason, reply) \
  http_answer_status (context, http, status, reason, sizeof (reason) - 1, NULL, 0, reply)

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

/* Appends @path to @out as received, but for a byte no URI may hold
 * (RFC 3986 3.3: not a pchar, `/` or `%`), which the parser lets through
 * (HTTP.md refuses controls, spaces, non-ASCII and `#` only) and which a
 * Location must not carry raw: `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`,
 * `|`, `}` as %XX. @out holds 3 bytes per byte of @path. */
static gsize
append_uri_path (char       *out,
                 const char *path,
                 gsize       len)
{
  static const char hex[] = "0123456789ABCDEF";
  gsize n = 0;

  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) path[i];

      if (strchr ("\"<>\\^`{|}", c) != NULL && c != '\0')
        {
          out[n++] = '%';
          out[n++] = hex[c >> 4];
          out[n++] = hex[c & 0xf];
        }
      else
        out[n++] = (char) c;
    }
  return n;
}

/* With --index, `/dir` that is a directory is sent to `/dir/`, the path
 * as received (HTTP.md "Directories"). */
static gboolean
answer_redirect (FcServeContext       *context,
                 const FcHttpExchange *http,
                 FcReply              *reply)
{
  static const char reason[] = "a directory: see the Location";
  const FcHttpRequest *request = http->request;
  char field[3 * FC_HTTP_LINE_MAX + 16];
  struct stat st;
  gsize len = sizeof "Location: " - 1;

  if (!FC_SETTING_LOAD (context, index) ||
      !fc_stat_beneath (context->root_fd, request->name, &st, NULL) || !S_ISDIR (st.st_mode))
    return FALSE;
  memcpy (field, "Location: ", len);
  len += append_uri_path (field + len, request->path.data, request->path.len);
  memcpy (field + len, "/\r\n", 3);
  len += 3;
  http_answer_status (context, http, 301, reason, sizeof reason - 1, field, len, reply);
  return TRUE;
}

/* A GET or HEAD the shared path refused: its status and reason, or for
 * a directory asked without the slash, with --index, the redirect. */
void
fc_request_http_file_error (FcServeContext       *context,
                            const FcHttpExchange *http,
                            const GError         *error,
                            FcReply              *reply)
{
  if (!g_error_matches (error, FC_ERROR, FC_ERROR_NOT_REGULAR) ||
      !answer_redirect (context, http, reply))
    http_answer_error (context, http, error, reply);
}

/* An HTTP GET or HEAD once the version is known (HTTP.md "Responses to
 * GET and HEAD of a file"): its conditions, then its range, then the
 * digest (computed when asked for, single flight as for STAT; sent
 * without being asked when known), then the head and the body. A first
 * look only answers what is neither a hit nor a miss (304, 412): the rest is
 * left to the counted path. */
FcGetResult
fc_request_http_source (FcServeContext   *context,
                        FcHttpExchange   *http,
                        FcRequestSource  *source,
                        FcReply          *reply,
                        FcChunk          *chunk,
                        FcFlight        **wait,
                        GError          **error)
{
  const FcHttpRequest *request = http->request;
  char etag[FC_HTTP_ETAG_LEN + 1];
  guint8 digest[FC_DIGEST_LEN];
  gboolean have_digest = FALSE;
  FcHttpVerdict verdict;
  FcHttpFileHead head;
  FcGetResult result;

  fc_http_etag (&source->id, etag);
  head = (FcHttpFileHead) {
    .verdict = &verdict,
    .size = source->id.size,
    .etag = etag,
    /* RFC 9110 8.8.2.1: a modification time in the future is sent as
     * the response's Date. */
    .mtime = MIN (source->id.mtime_sec, http->now),
    .date = http->date,
    .connection = http->connection,
  };
  /* A Last-Modified that another version may share is no If-Range
   * validator: a file whose mtime was set by hand (touch -d, tar, rsync
   * -t: its ctime is in another second) may have had any number of
   * versions stamped with it, and a future one is replaced by each
   * second's Date. A plain write stamps mtime and ctime alike; two of
   * them within one second stay indistinguishable, the limit of a
   * one-second date (README). */
  fc_http_evaluate (request, etag, head.mtime,
                    source->id.ctime_ns / G_GINT64_CONSTANT (1000000000) == source->id.mtime_sec &&
                    source->id.mtime_sec <= http->now,
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
      result = fc_request_source_digest (context, source, chunk, digest, wait, error);
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
      result = fc_request_reply_body (source, verdict.start, verdict.len, reply, chunk, error);
      if (result != GET_DONE || *error != NULL)
        return result;
    }
  /* A HEAD reads nothing, yet has the GET's status: a version that no
   * read could prove now (a writer holds the file open) is refused alike,
   * unless the cache holds it, which a GET would send. */
  else if (source->bytes == NULL && !fc_cache_holds (context->cache, request->name, &source->id) &&
           !fc_file_readable (source->fd, &source->id, error))
    return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BUSY) ? GET_RETRY : GET_DONE;
  fc_reply_set_head (reply, http->buf, fc_http_format_file (http->buf, &head), TRUE);
  return GET_DONE;
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
 * `Allow: GET, HEAD`), counted as an HTTP request, and a GET (its line
 * understood, its target or its fields refused) as a miss.
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
    .connection = http_connection (!refusal->close, refusal->echo_keep_alive),
  };

  count_http_request (context);
  if (refusal->get)
    fc_request_count_nameless_miss (context);
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

/* A listing (consumed; charged to the listings' budget), made here or
 * in the pool, or why there is none, as the response. */
static void
answer_listing (FcServeContext *context,
                FcHttpExchange *http,
                gboolean        json,
                GBytes         *listing,
                const GError   *why,
                FcReply        *reply)
{
  g_autoptr(GBytes) body = listing;
  gsize len;

  if (body == NULL && g_error_matches (why, FC_DIR_INDEX_ERROR, FC_DIR_INDEX_ERROR_TOO_MANY))
    {
      http_answer_status (context, http, 500, why->message, strlen (why->message), NULL, 0, reply);
      return;
    }
  if (body == NULL)
    {
      http_answer_error (context, http, why, reply);
      return;
    }

  len = fc_http_format_listing (http->buf, json ? "application/json" : "text/html; charset=utf-8",
                                g_bytes_get_size (body), http->date, http->connection, TRUE, FALSE);
  if (http->request->method == FC_HTTP_GET)
    fc_reply_set_bytes (reply, body);
  fc_reply_set_head (reply, http->buf, len, TRUE);
}

/* A listing's preconditions (fc_http_evaluate_listing()): TRUE when
 * they answer it, 304 or 412, as the request the daemon counts neither
 * a hit nor a miss (http->decided). */
static gboolean
answer_listing_condition (FcServeContext *context,
                          FcHttpExchange *http,
                          FcReply        *reply)
{
  switch (fc_http_evaluate_listing (http->request))
    {
    case 412:
      HTTP_ANSWER_STATUS (context, http, 412, "precondition failed", reply);
      break;
    case 304:
      fc_reply_set_head (reply, http->buf,
                         fc_http_format_listing (http->buf, NULL, 0, http->date, http->connection,
                                                 TRUE, TRUE),
                         TRUE);
      break;
    default:
      return FALSE;
    }
  http->decided = TRUE;
  return TRUE;
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
  GBytes *listing = NULL;
  struct stat st;
  int fd;

  if (park->flight != NULL)
    {
      answer_listing (context, http, json, fc_flight_steal_result (park->flight),
                      fc_flight_get_error (park->flight), reply);
      fc_park_clear (park);
      return FALSE;
    }

  fd = fc_open_dir_beneath (context->root_fd, request->name, &st, &error);
  if (fd >= 0 && answer_listing_condition (context, http, reply))
    {
      close (fd);
      return FALSE;
    }
  if (fd >= 0 && (st.st_size > FC_DIR_INDEX_INLINE_MAX || st.st_size == 0))
    {
      FC_REQUEST_DEBUG (context, "/%s/: listed in the pool (%" G_GINT64_FORMAT " bytes)",
                        request->name, (gint64) st.st_size);
      park->flight = fc_flight_new ();
      fc_jobs_list (context->jobs, park->flight, context->root_fd, fd, request->name, json,
                    &context->listing_bytes, (guint64) st.st_size);
      park->waits++;
      return TRUE;
    }
  if (fd >= 0)
    entries = fc_dir_index_read_dir (context->root_fd, fd, request->name, FC_DIR_INDEX_MAX_ENTRIES,
                                     NULL, &error);
  /* fc_dir_index_html() wants the bare name ("" for the root) and adds
   * the slashes itself. */
  if (entries != NULL)
    listing = fc_dir_index_listing (request->name, entries, json, &context->listing_bytes, &error);
  answer_listing (context, http, json, listing, error, reply);
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
  /* Before the initializers, whose order C leaves open. */
  const char *date = fc_http_clock_now (&scratch->clock);
  FcHttpExchange http = {
    .request = http_request,
    .buf = scratch->head,
    .date = date,
    .now = scratch->clock.second,
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
    {
      if (answer_directory_form (context, &http, park, reply))
        return FC_ANSWER_WAIT;
      /* No listing, or refusal of one, comes from the cache. */
      if (!request.uncounted && !http.decided)
        fc_request_count_nameless_miss (context);
      return done;
    }

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
      fc_request_answer_file (context, &look, park, reply, chunk);
      if (first.decided)
        return done;
    }

  return fc_request_answer_file_parked (context, &request, park, reply, chunk) ? FC_ANSWER_WAIT : done;
}
