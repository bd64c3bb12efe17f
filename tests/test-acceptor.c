#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"

static GSocket *
listen_loopback (GSocketFamily family)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (family);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_bind (socket, address, TRUE, &error) || !g_socket_listen (socket, &error))
    return NULL;
  return g_steal_pointer (&socket);
}

static GSocket *
connect_to (GSocket *listening)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (listening, &error);
  g_autoptr(GSocket) client = g_socket_new (g_socket_get_family (listening), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_connect (client, address, NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&client);
}

static int
accept_one (FcListener *listener)
{
  struct pollfd ready = { .fd = fc_listener_get_fd (listener), .events = POLLIN };
  guint backoff_ms = 0;
  int fd = -1;

  g_assert_cmpint (poll (&ready, 1, -1), ==, 1);
  g_assert_cmpint (fc_listener_accept (listener, &backoff_ms, &fd), ==, FC_ACCEPT_TAKEN);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (backoff_ms, ==, 0);
  return fd;
}

static int
nodelay_of (int fd)
{
  int value = -1;
  socklen_t len = sizeof value;

  g_assert_cmpint (getsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &value, &len), ==, 0);
  return value;
}

/* Replies leave whole, never held back by Nagle: every accepted
 * connection has TCP_NODELAY, over IPv4 and IPv6, with no per-connection
 * setsockopt() when the listener's own option is inherited. */
static void
test_nodelay (gconstpointer data)
{
  GSocketFamily family = GPOINTER_TO_INT (data);
  g_autoptr(GSocket) listening = listen_loopback (family);
  g_autoptr(FcListener) listener = NULL;
  g_autoptr(GSocket) client = NULL;
  guint backoff_ms = 0;
  int fd = -1;

  if (listening == NULL)
    {
      g_test_skip ("no loopback address of this family");
      return;
    }
  g_assert_cmpint (nodelay_of (g_socket_get_fd (listening)), ==, 0);
  listener = fc_listener_new (listening);
  g_assert_cmpint (nodelay_of (g_socket_get_fd (listening)), ==, 1);

  g_assert_cmpint (fc_listener_accept (listener, &backoff_ms, &fd), ==, FC_ACCEPT_EMPTY);
  client = connect_to (listening);
  fd = accept_one (listener);
  g_assert_cmpint (nodelay_of (fd), ==, 1);
  g_assert_cmpint (fcntl (fd, F_GETFL) & O_NONBLOCK, !=, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, !=, 0);
  close (fd);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/acceptor/nodelay/ipv4", GINT_TO_POINTER (G_SOCKET_FAMILY_IPV4), test_nodelay);
  g_test_add_data_func ("/acceptor/nodelay/ipv6", GINT_TO_POINTER (G_SOCKET_FAMILY_IPV6), test_nodelay);
  return g_test_run ();
}
