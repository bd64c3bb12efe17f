#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "beneath.h"
#include "file-read.h"
#include "ratelimit.h"
#include "reply.h"

/* A file body is read this much at a time at first; the window then
 * grows while the socket takes whole windows and shrinks to what it took
 * when it fills, so a parked reply re-reads little on its return. */
#define WINDOW_START (256 * 1024)
#define WINDOW_MIN (64 * 1024)

/* A body from memory is offered to one sendmsg() at most this much past
 * what the turn's budget has left. Offered whole, a loopback socket whose
 * reader keeps up took up to 18 MB of a 2 GiB cached body in one call,
 * calls of up to 11 ms (perf trace under bench/pressure), and the budget
 * could only be checked after it: every other connection of the worker
 * waited that long. */
#define MEMORY_SEND_MIN (64 * 1024)

/**
 * fc_reply_init:
 * @reply: (out caller-allocates): storage for a reply
 *
 * Makes @reply empty (nothing pending).
 */
void
fc_reply_init (FcReply *reply)
{
  *reply = (FcReply) { .file_fd = -1 };
}

/**
 * fc_reply_clear:
 * @reply: a reply
 *
 * Drops what @reply holds (its bytes, its file) and makes it empty.
 */
void
fc_reply_clear (FcReply *reply)
{
  g_clear_pointer (&reply->bytes, g_bytes_unref);
  g_clear_pointer (&reply->head_owned, g_free);
  if (reply->file_fd >= 0)
    close (reply->file_fd);
  fc_reply_init (reply);
}

/**
 * fc_reply_set_static:
 * @reply: an empty reply
 * @text: (transfer none): a whole reply with no body; must outlive it
 * @len: its length in bytes
 */
void
fc_reply_set_static (FcReply    *reply,
                     const char *text,
                     gsize       len)
{
  reply->head = text;
  reply->head_len = len;
}

/**
 * fc_reply_set_bytes:
 * @reply: an empty reply
 * @bytes: (transfer none): the body; `OK <size>` goes before it
 */
void
fc_reply_set_bytes (FcReply *reply,
                    GBytes  *bytes)
{
  reply->bytes = g_bytes_ref (bytes);
  reply->body_len = g_bytes_get_size (bytes);
  reply->head = reply->status;
  reply->head_len = fc_format_status (reply->status, reply->body_len);
}

/**
 * fc_reply_set_file:
 * @reply: an empty reply
 * @fd: (transfer full): the file, open for reading
 * @id: its identity when opened: every byte sent is proved to belong to
 *   that version (fc_file_read_at()), or the reply fails
 * @start: the first byte of the body, at most `id->size`
 * @len: the body's length, at most `id->size - start`
 *
 * The body is @len bytes of @fd from @start, read through an #FcChunk.
 */
void
fc_reply_set_file (FcReply        *reply,
                   int             fd,
                   const FcFileId *id,
                   guint64         start,
                   guint64         len)
{
  static atomic_uint_fast64_t serials = 1;

  reply->file_fd = fd;
  reply->file_id = *id;
  reply->file_start = start;
  reply->body_len = len;
  reply->head = reply->status;
  reply->head_len = fc_format_status (reply->status, reply->body_len);
  reply->window = WINDOW_START;
  reply->serial = atomic_fetch_add (&serials, 1);
}

/**
 * fc_reply_set_head:
 * @reply: a reply set by fc_reply_set_bytes() or fc_reply_set_file(), or
 *   an empty one (a reply with no body)
 * @head: (transfer none): what goes before the body instead of `OK <size>`
 * @len: its length in bytes
 * @borrowed: @head is the calling thread's scratch, valid only during
 *   this turn: fc_reply_keep_head() copies what is left of it when the
 *   reply outlives the turn (the common reply leaves at once, and costs
 *   no allocation)
 */
void
fc_reply_set_head (FcReply    *reply,
                   const char *head,
                   gsize       len,
                   gboolean    borrowed)
{
  reply->head = head;
  reply->head_len = len;
  reply->head_borrowed = borrowed;
}

/**
 * fc_reply_set_head_body:
 * @reply: a reply whose head is set
 * @len: how many of the head's last bytes are a body: an HTTP error's
 *   short text, written with its head in one piece
 *
 * Those bytes count as body sent (`bytes-sent`, HTTP.md "Counting and
 * control": body bytes) as they are written.
 */
void
fc_reply_set_head_body (FcReply *reply,
                        gsize    len)
{
  g_return_if_fail (len <= reply->head_len);
  reply->head_body_len = len;
}

/**
 * fc_reply_keep_head:
 * @reply: a reply about to wait past its thread's turn
 *
 * A borrowed head still partly unsent is copied into the reply.
 */
void
fc_reply_keep_head (FcReply *reply)
{
  if (!reply->head_borrowed)
    return;
  reply->head_borrowed = FALSE;
  if (reply->sent >= reply->head_len)
    return;
  reply->head_owned = g_memdup2 (reply->head, reply->head_len);
  reply->head = reply->head_owned;
}

/**
 * fc_reply_pending:
 * @reply: a reply
 *
 * Returns: whether @reply has bytes still to send
 */
gboolean
fc_reply_pending (const FcReply *reply)
{
  return reply->sent < reply->head_len + reply->body_len;
}

/**
 * fc_chunk_init:
 * @chunk: (out caller-allocates): storage for a chunk
 * @size: the most file bytes one write takes, in bytes
 */
void
fc_chunk_init (FcChunk *chunk,
               gsize    size)
{
  *chunk = (FcChunk) { .data = g_malloc (size + 1), .size = size };
}

void
fc_chunk_clear (FcChunk *chunk)
{
  g_clear_pointer (&chunk->data, g_free);
}

/**
 * fc_chunk_fill:
 * @chunk: a thread's chunk
 * @reply: a file reply
 * @offset: the first body byte wanted, counted from the body's start
 * @error: as for fc_file_read_at()
 *
 * Reads the next window of @reply's file from @offset into @chunk, unless
 * @chunk holds it already.
 *
 * Returns: %FALSE with @error set when the bytes cannot be proved to be
 *   those of the reply's version
 */
gboolean
fc_chunk_fill (FcChunk        *chunk,
               FcReply        *reply,
               guint64         offset,
               GError        **error)
{
  gsize want = (gsize) MIN (reply->body_len - offset, MIN (reply->window, chunk->size));

  if (chunk->holder == reply->serial && offset >= chunk->offset &&
      offset < chunk->offset + chunk->len)
    return TRUE;

  chunk->holder = 0;
  if (!fc_file_read_at (reply->file_fd, &reply->file_id, reply->file_start + offset,
                        chunk->data, want, error))
    return FALSE;
  chunk->holder = reply->serial;
  chunk->offset = offset;
  chunk->len = want;
  return TRUE;
}

/* The vector of what is left to send; the body comes from memory, or
 * from @chunk for a file. */
static int
reply_iov (FcReply      *reply,
           guint64       body_done,
           FcChunk      *chunk,
           guint64       budget_left,
           struct iovec  iov[2])
{
  int n = 0;

  if (reply->sent < reply->head_len)
    iov[n++] = (struct iovec) { (char *) reply->head + reply->sent, reply->head_len - reply->sent };

  if (reply->bytes != NULL && body_done < reply->body_len)
    iov[n++] = (struct iovec) {
      (char *) g_bytes_get_data (reply->bytes, NULL) + body_done,
      (gsize) MIN (reply->body_len - body_done, MAX (budget_left, MEMORY_SEND_MIN))
    };
  else if (reply->file_fd >= 0 && body_done < reply->body_len)
    iov[n++] = (struct iovec) {
      chunk->data + (body_done - chunk->offset),
      chunk->len - (gsize) (body_done - chunk->offset)
    };
  return n;
}

/* The client sees only a short reply, and may never say: the admin must
 * hear of it here. The file is named by where it is now: the reply
 * keeps no name, as a streamed body's failure is rare and a name per
 * reply would cost every one. */
static void
reply_warn_cut (const FcReply *reply,
                guint64        body_done,
                const GError  *error)
{
  static FcRateLimit cuts = FC_RATE_LIMIT_FAILURES;
  g_autofree char *path = fc_fd_path (reply->file_fd);

  fc_rate_limit_log (&cuts, G_LOG_LEVEL_WARNING,
                     _("Cut a reply of “%s” after %" PRIu64 " of its %" PRIu64 " bytes: %s"),
                     path != NULL ? path : "?", body_done, reply->body_len, error->message);
}

/**
 * fc_reply_write:
 * @reply: a pending reply
 * @socket_fd: a non-blocking socket
 * @chunk: the calling thread's chunk, for file bodies
 * @body_sent: (inout): incremented by the body bytes written
 * @budget: bytes after which to stop even though the socket takes more,
 *   so that a fast reader of a large body leaves its thread to others
 *
 * Writes as much of @reply as the socket takes, up to about @budget
 * bytes (at least one sendmsg()); a body from memory is offered in
 * pieces of what the budget has left (64 KiB at least), a file's a
 * window at a time, so no one sendmsg() runs much past it; a status
 * line and the start of its body in one sendmsg(). Before the status
 * line has left, a file reply's first window must be in @chunk already (the caller
 * proved it with fc_chunk_fill(), so that a change or a read error is
 * still answerable with an ERR line).
 *
 * Returns: %FC_REPLY_AGAIN when the socket is full (wait until it is
 *   writable, then call again), %FC_REPLY_YIELD when @budget is spent
 *   (call again, the socket will not say it is writable), %FC_REPLY_FAILED when the connection must
 *   end: the peer left, or the file changed or failed after the status
 *   line promised its size
 */
FcReplyResult
fc_reply_write (FcReply *reply,
                int      socket_fd,
                FcChunk *chunk,
                guint64 *body_sent,
                guint64  budget)
{
  guint64 wrote = 0;

  while (fc_reply_pending (reply))
    {
      struct iovec iov[2];
      struct msghdr msg = { .msg_iov = iov };
      gsize head_left = reply->sent < reply->head_len ? reply->head_len - reply->sent : 0;
      guint64 body_done = reply->sent - (reply->head_len - head_left);
      gsize asked = 0;
      ssize_t n;

      /* Also while the status line is still partly unsent: the chunk may
       * have served another reply since this one parked. */
      if (reply->file_fd >= 0 && body_done < reply->body_len)
        {
          g_autoptr(GError) error = NULL;

          if (!fc_chunk_fill (chunk, reply, body_done, &error))
            {
              reply_warn_cut (reply, body_done, error);
              return FC_REPLY_FAILED;
            }
        }

      msg.msg_iovlen = (size_t) reply_iov (reply, body_done, chunk,
                                           budget > wrote ? budget - wrote : 0, iov);
      for (size_t i = 0; i < msg.msg_iovlen; i++)
        asked += iov[i].iov_len;

      n = sendmsg (socket_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return errno == EAGAIN ? FC_REPLY_AGAIN : FC_REPLY_FAILED;

      reply->sent += (guint64) n;
      wrote += (guint64) n;
      /* A body in the head starts that many bytes before its end. */
      if ((gsize) n > head_left - MIN (head_left, reply->head_body_len))
        *body_sent += (gsize) n - (head_left - MIN (head_left, reply->head_body_len));

      if (reply->file_fd >= 0 && msg.msg_iovlen > 0)
        {
          gsize body_asked = asked - head_left;
          gsize body_took = (gsize) n > head_left ? (gsize) n - head_left : 0;

          if (body_took < body_asked)
            reply->window = MAX (WINDOW_MIN, body_took);
          else
            reply->window = MIN (reply->window * 2, chunk->size);
        }

      /* A short write means the socket buffer is full: the next one
       * would only say EAGAIN. */
      if ((gsize) n < asked)
        return fc_reply_pending (reply) ? FC_REPLY_AGAIN : FC_REPLY_DONE;
      if (wrote >= budget && fc_reply_pending (reply))
        return FC_REPLY_YIELD;
    }
  return FC_REPLY_DONE;
}
