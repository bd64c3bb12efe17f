#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/**
 * fc_notify_ready:
 *
 * Tells the service manager that the daemon is up (systemd's Type=notify:
 * one "READY=1" datagram to the socket named by $NOTIFY_SOCKET, a stable
 * protocol documented in sd_notify(3)); does nothing without one. The
 * unit is not Type=dbus, under which systemd stops a daemon whose name
 * leaves the bus, while DBUS.md wants it to serve TCP on. Failures are
 * only logged: the service manager then times the start out.
 */
void
fc_notify_ready (void)
{
  static const char message[] = "READY=1";
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  socklen_t address_len;
  gsize path_len;
  int fd;

  if (path == NULL || (path[0] != '/' && path[0] != '@'))
    return;
  path_len = strlen (path);
  if (path_len >= sizeof address.sun_path)
    {
      g_debug ("NOTIFY_SOCKET too long: %s", path);
      return;
    }
  memcpy (address.sun_path, path, path_len);
  /* A leading '@' names a socket in the abstract namespace. */
  if (path[0] == '@')
    address.sun_path[0] = '\0';
  address_len = (socklen_t) (G_STRUCT_OFFSET (struct sockaddr_un, sun_path) + path_len);

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      sendto (fd, message, sizeof message - 1, MSG_NOSIGNAL,
              (const struct sockaddr *) &address, address_len) < 0)
    g_debug ("Cannot notify %s: %s", path, g_strerror (errno));
  if (fd >= 0)
    close (fd);
}
