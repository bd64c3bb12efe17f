#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reply.h"

/* A body from memory leaves in pieces of what the turn's budget has
 * left: one sendmsg() offered the whole of a large cached body, and a
 * fast reader on loopback let it take tens of megabytes in one call
 * before the budget could be checked. */

#define BODY (4 * 1024 * 1024)
#define PIECE_MIN (64 * 1024)

static gsize
drain (int fd)
{
  static char buf[256 * 1024];
  gsize total = 0;
  ssize_t n;

  while ((n = recv (fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    total += (gsize) n;
  g_assert_true (n < 0 && errno == EAGAIN);
  return total;
}

static void
test_memory_body_within_budget (void)
{
  int fds[2];
  g_autofree char *data = g_malloc (BODY);
  g_autoptr(GBytes) bytes = NULL;
  FcReply reply;
  FcChunk chunk;
  guint64 body_sent = 0;
  gsize received = 0;
  guint yields = 0;

  memset (data, 'x', BODY);
  bytes = g_bytes_new_take (g_steal_pointer (&data), BODY);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
  fc_chunk_init (&chunk, 1024);
  fc_reply_init (&reply);
  fc_reply_set_bytes (&reply, bytes);

  /* No budget left: one piece of the least size, though the socket
   * would take more (whole, it took what its buffer holds, and said
   * nothing of the budget). */
  g_assert_cmpint (fc_reply_write (&reply, fds[0], &chunk, &body_sent, 0), ==, FC_REPLY_YIELD);
  g_assert_cmpuint (body_sent, ==, PIECE_MIN);
  g_assert_cmpuint (reply.sent, ==, reply.head_len + PIECE_MIN);
  received += drain (fds[1]);

  /* A budget of 96 KiB: that much, then it yields. */
  body_sent = 0;
  g_assert_cmpint (fc_reply_write (&reply, fds[0], &chunk, &body_sent, 96 * 1024), ==, FC_REPLY_YIELD);
  g_assert_cmpuint (body_sent, ==, 96 * 1024);
  received += drain (fds[1]);

  /* To its end, each call within its budget or the socket's room. */
  for (;;)
    {
      guint64 before = reply.sent;
      FcReplyResult result = fc_reply_write (&reply, fds[0], &chunk, &body_sent, 32 * 1024);

      g_assert_cmpuint (reply.sent - before, <=, PIECE_MIN);
      received += drain (fds[1]);
      if (result == FC_REPLY_DONE)
        break;
      g_assert_cmpint (result, !=, FC_REPLY_FAILED);
      yields += result == FC_REPLY_YIELD;
    }
  g_assert_cmpuint (received, ==, reply.head_len + BODY);
  g_assert_cmpuint (yields, >, 0);

  fc_reply_clear (&reply);
  fc_chunk_clear (&chunk);
  close (fds[0]);
  close (fds[1]);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reply/memory-body-within-budget", test_memory_body_within_budget);
  return g_test_run ();
}
