/* The well-behaved client of the slowloris mode: one request on a fresh
 * connection, all of it (connect, send, the whole reply) against one
 * deadline. Blocking in spirit, with poll() bounding every wait. */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "load.h"
#include "probe.h"
#include "wire.h"

#define PROBE_RECV_SIZE 65536

static gboolean
wait_for (int          fd,
          short        events,
          gint64       deadline_ns,
          const char  *timed_out,
          GError     **error)
{
  for (;;)
    {
      gint64 left = deadline_ns - fcb_now_ns ();
      struct pollfd pfd = { .fd = fd, .events = events };
      int n;

      if (left <= 0)
        break;
      n = poll (&pfd, 1, (int) MIN ((left + 999999) / 1000000, G_MAXINT));
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "poll: %s", g_strerror (saved_errno));
          return FALSE;
        }
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, timed_out);
  return FALSE;
}

static gboolean
set_errno_error (GError     **error,
                 const char  *what)
{
  int saved_errno = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", what, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
get_on (int                    fd,
        const struct sockaddr *addr,
        socklen_t              addr_len,
        const char            *request,
        gsize                  request_len,
        FcbReply              *reply,
        gint64                 deadline_ns,
        GError               **error)
{
  char buffer[PROBE_RECV_SIZE];
  int err = 0;
  socklen_t err_len = sizeof err;
  gsize sent = 0;

  if (connect (fd, addr, addr_len) != 0)
    {
      if (errno != EINPROGRESS)
        return set_errno_error (error, "connect");
      if (!wait_for (fd, POLLOUT, deadline_ns, _("timed out connecting"), error))
        return FALSE;
      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0)
        return set_errno_error (error, "getsockopt");
      if (err != 0)
        {
          errno = err;
          return set_errno_error (error, "connect");
        }
    }

  while (sent < request_len)
    {
      ssize_t n = send (fd, request + sent, request_len - sent, MSG_NOSIGNAL);

      if (n < 0 && errno == EAGAIN)
        {
          if (!wait_for (fd, POLLOUT, deadline_ns, _("timed out sending the request"), error))
            return FALSE;
          continue;
        }
      if (n < 0 && errno != EINTR)
        return set_errno_error (error, "send");
      if (n > 0)
        sent += (gsize) n;
    }

  for (;;)
    {
      ssize_t n;
      gsize used;

      if (!wait_for (fd, POLLIN, deadline_ns, _("timed out waiting for the reply"), error))
        return FALSE;
      n = recv (fd, buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n < 0)
        return set_errno_error (error, "recv");
      if (n == 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               _("the server closed the connection before the whole reply"));
          return FALSE;
        }
      switch (fcb_reply_feed (reply, buffer, (gsize) n, &used, error))
        {
        case FCB_REPLY_MORE:
          break;
        case FCB_REPLY_DONE:
          return TRUE;
        case FCB_REPLY_FAILED:
          return FALSE;
        }
    }
}

/**
 * fcb_probe_get:
 * @addr: the server
 * @addr_len: its length
 * @request: one whole request, as fcb_wire_request() makes it
 * @request_len: its length
 * @http: whether the reply is HTTP
 * @deadline_ns: on fcb_now_ns()'s clock, when to give up
 * @body_size: (out): the size of the body received
 * @error: a #GIOError (%G_IO_ERROR_TIMED_OUT past the deadline) or a
 *   #FcbWireError for a refused or malformed reply
 *
 * Connects, sends @request, and reads and checks the whole reply, all
 * before @deadline_ns; then closes the connection. Blocks the calling
 * thread.
 *
 * Returns: whether a good reply arrived in time
 */
gboolean
fcb_probe_get (const struct sockaddr  *addr,
               socklen_t               addr_len,
               const char             *request,
               gsize                   request_len,
               gboolean                http,
               gint64                  deadline_ns,
               guint64                *body_size,
               GError                **error)
{
  FcbReply reply;
  gboolean ok;
  int fd = socket (addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  if (fd < 0)
    return set_errno_error (error, "socket");
  fcb_reply_init (&reply, http, FCB_COMMAND_GET);
  ok = get_on (fd, addr, addr_len, request, request_len, &reply, deadline_ns, error);
  if (ok)
    *body_size = reply.body_size;
  fcb_reply_clear (&reply);
  close (fd);
  return ok;
}
