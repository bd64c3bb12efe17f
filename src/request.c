#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "beneath.h"
#include "file-read.h"
#include "listing-budget.h"
#include "protocol.h"
#include "ratelimit.h"
#include "request-private.h"
#include "settle.h"

/* Loads and changes racing each other get this many fresh starts before a
 * request is answered with ERR 500. */
#define GET_ATTEMPTS 3

#define REPLY_PONG "OK PONG\n"
#define REPLY_BYE "OK BYE\n"

static void
source_clear (FcRequestSource *source)
{
  g_clear_pointer (&source->bytes, g_bytes_unref);
  if (source->fd >= 0)
    close (source->fd);
  source->fd = -1;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FcRequestSource, source_clear)

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

/* A hit proved fresh without opening anything. Trusted with no system
 * call but one epoll_wait() while the copy's watches have seen no change since
 * a stat() proved it (watch.c); otherwise proved by one fstatat() per
 * component beneath the root, against the identity the cached bytes were
 * read with, after arming the watches when they are missing or broken.
 * A name reached through a link takes the full path, which drops the
 * entry if the link now leads outside. */
static gboolean
resolve_cached (FcServeContext  *context,
                const char      *name,
                FcRequestSource *source)
{
  FcWatch *watch = context->watch;
  g_autoptr(FcWatchMark) mark = NULL;
  guint generation = 0;
  gboolean arm;
  struct stat st;

  if (watch != NULL && fc_watch_quiet (watch, &generation) &&
      fc_cache_lookup_trusted (context->cache, name, generation, TRUE, &source->id, &source->bytes))
    return TRUE;
  if (!fc_cache_peek (context->cache, name, generation, &arm))
    return FALSE;
  if (arm)
    {
      g_autoptr(GError) error = NULL;

      mark = fc_watch_arm (watch, context->root_fd, name, &error);
      if (mark == NULL)
        FC_REQUEST_DEBUG (context, "%s", error->message);
    }
  /* What the stat() below proves the copy for: changes from here on are
   * in the queue, the watches being in place. */
  if (watch == NULL || !fc_watch_quiet (watch, &generation))
    generation = 0;
  if (!fc_stat_beneath_plain (context->root_fd, name, &st))
    return FALSE;

  fc_file_id_from_stat (&source->id, &st);
  return fc_cache_lookup_hit (context->cache, name, &source->id, g_steal_pointer (&mark),
                              generation, &source->bytes);
}

/* A HEAD or an HTTP request's first look, before anything was counted:
 * a trusted copy answers without opening the file, which would cost the
 * copy its watch (an open of it is an event, watch.c). */
static gboolean
resolve_uncounted (FcServeContext   *context,
                   const FcRequest  *request,
                   guint             attempt,
                   const FcPark     *park,
                   FcRequestSource  *source)
{
  guint generation;

  return request->uncounted && attempt == 1 && park->waits == 0 && context->watch != NULL &&
         fc_watch_quiet (context->watch, &generation) &&
         fc_cache_lookup_trusted (context->cache, request->name, generation, FALSE,
                                  &source->id, &source->bytes);
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
static FcGetResult
resolve_opened (FcServeContext   *context,
                const char       *name,
                gboolean          counted,
                gboolean          may_load,
                FcRequestSource  *source,
                FcFlight        **wait,
                GError          **error)
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
FcGetResult
fc_request_reply_body (FcRequestSource  *source,
                       guint64           start,
                       guint64           len,
                       FcReply          *reply,
                       FcChunk          *chunk,
                       GError          **error)
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
FcGetResult
fc_request_source_digest (FcServeContext   *context,
                          FcRequestSource  *source,
                          FcChunk          *chunk,
                          guint8            digest[FC_DIGEST_LEN],
                          FcFlight        **wait,
                          GError          **error)
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

/* What GET, STAT and GETFROM do once the version is known. */
static FcGetResult
answer_source (FcServeContext   *context,
               const FcRequest  *request,
               FcRequestSource  *source,
               FcReply          *reply,
               FcChunk          *chunk,
               FcFlight        **wait,
               GError          **error)
{
  guint8 digest[FC_DIGEST_LEN];
  FcGetResult result;

  switch (request->command)
    {
    case FC_COMMAND_GET:
      if (request->http != NULL)
        return fc_request_http_source (context, request->http, source, reply, chunk, wait, error);
      return fc_request_reply_body (source, 0, source->id.size, reply, chunk, error);

    case FC_COMMAND_STAT:
      result = fc_request_source_digest (context, source, chunk, digest, wait, error);
      if (result == GET_DONE && *error == NULL)
        fc_reply_set_static (reply, reply->status,
                             fc_format_stat (reply->status, source->id.size, digest));
      return result;

    case FC_COMMAND_GETFROM:
      result = fc_request_source_digest (context, source, chunk, digest, wait, error);
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
      return fc_request_reply_body (source, request->offset, source->id.size - request->offset,
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

  fc_rate_limit_log (&unservable, G_LOG_LEVEL_WARNING, _("Cannot serve “%s” (status 500): %s"),
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
    fc_request_http_file_error (context, request->http, error, reply);
  else
    fc_request_answer_error (context, error, reply);
}

/**
 * fc_request_count_nameless_miss:
 * @context: the serving context
 *
 * Counts, as the miss it is, a GET that names no file the cache could
 * hold: an invalid name in either dialect, a directory, an HTTP GET
 * refused for its target or fields. Every GET is one hit or one miss
 * (DBUS.md). Any thread.
 */
void
fc_request_count_nameless_miss (FcServeContext *context)
{
  fc_cache_miss (context->cache, NULL, FALSE, FC_EVICT_CHANGED);
}

/* GET, STAT and GETFROM: each is one hit or one miss, counted before any
 * byte of the reply leaves, once however often it waits (@park). */
FcGetResult
fc_request_answer_file (FcServeContext  *context,
                        const FcRequest *request,
                        FcPark          *park,
                        FcReply         *reply,
                        FcChunk         *chunk)
{
  for (guint attempt = 1 + park->failures; ; attempt++)
    {
      g_auto(FcRequestSource) source = { NULL, -1 };
      g_autoptr(GError) error = NULL;
      gboolean counted = attempt > 1 || park->waits > 0 || request->uncounted;
      FcGetResult result = GET_DONE;

      if (counted ? !resolve_uncounted (context, request, attempt, park, &source)
                  : !resolve_cached (context, request->name, &source))
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

/* The reply to LIST, its bytes charged against FC_LISTING_BUDGET before
 * they are taken and while a reply holds them, or NULL with @error set
 * when that would exceed it: clients that send LIST and never read
 * cannot make the daemon hold a copy of the cache's names each. */
static GBytes *
listing_new (FcServeContext  *context,
             GArray          *entries,
             GError         **error)
{
  gsize len = fc_format_list (entries, NULL);
  char *text;

  if (!fc_listing_charge (&context->listing_bytes, (gssize) len, len, error))
    return NULL;
  text = g_malloc (len);
  fc_format_list (entries, text);
  return fc_listing_take (&context->listing_bytes, text, len, len);
}

static void
answer_list (FcServeContext *context,
             FcReply        *reply)
{
  g_autoptr(GArray) entries = fc_cache_list (context->cache);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  list_drop_unreachable (context, entries);
  bytes = listing_new (context, entries, &error);
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
gboolean
fc_request_answer_file_parked (FcServeContext  *context,
                               const FcRequest *request,
                               FcPark          *park,
                               FcReply         *reply,
                               FcChunk         *chunk)
{
  if (park->flight != NULL && !park_landed (context, request, park, reply))
    return FALSE;
  if (fc_request_answer_file (context, request, park, reply, chunk) == GET_WAIT)
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
      if (request.command == FC_COMMAND_GET || request.command == FC_COMMAND_STAT ||
          request.command == FC_COMMAND_GETFROM)
        fc_request_count_nameless_miss (context);
      return fc_request_answer_error (context, error, reply);
    }

  switch (request.command)
    {
    case FC_COMMAND_GET:
    case FC_COMMAND_STAT:
    case FC_COMMAND_GETFROM:
      FC_REQUEST_DEBUG (context, "%s", line);
      if (fc_request_answer_file_parked (context, &request, park, reply, chunk))
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

