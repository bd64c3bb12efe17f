#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "systemd.h"

/**
 * fc_systemd_take_listen_fds:
 * @n_fds: (out): how many sockets were passed, from
 *   %FC_SYSTEMD_LISTEN_FDS_START up; 0 when none were passed to this process
 * @error: %G_IO_ERROR_INVALID_ARGUMENT if `LISTEN_FDS` is not a count
 *
 * Takes the sockets systemd passed (`LISTEN_PID` is ours): marks them
 * close-on-exec and removes `LISTEN_PID`, `LISTEN_FDS` and
 * `LISTEN_FDNAMES` from the environment, so that no child takes them
 * for its own. Call before any thread starts: it changes the environment.
 */
gboolean
fc_systemd_take_listen_fds (guint   *n_fds,
                            GError **error)
{
  const char *pid_text = g_getenv ("LISTEN_PID");
  const char *fds_text = g_getenv ("LISTEN_FDS");
  guint64 pid = 0;
  guint64 count = 0;
  gboolean ok = TRUE;

  *n_fds = 0;
  /* Passed to a parent of ours, which exec'ed us without unsetting them. */
  if (pid_text == NULL ||
      !g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXINT, &pid, NULL) ||
      (pid_t) pid != getpid ())
    return TRUE;

  if (fds_text == NULL ||
      !g_ascii_string_to_unsigned (fds_text, 10, 0, G_MAXINT - FC_SYSTEMD_LISTEN_FDS_START, &count, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("LISTEN_FDS is “%s”, not a number of sockets"),
                   fds_text != NULL ? fds_text : "");
      ok = FALSE;
    }

  for (guint64 i = 0; ok && i < count; i++)
    {
      int fd = FC_SYSTEMD_LISTEN_FDS_START + (int) i;
      int flags = fcntl (fd, F_GETFD);

      if (flags < 0 || fcntl (fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       _("Socket %d passed by systemd: %s"), fd, g_strerror (saved_errno));
          ok = FALSE;
        }
    }

  g_unsetenv ("LISTEN_PID");
  g_unsetenv ("LISTEN_FDS");
  g_unsetenv ("LISTEN_FDNAMES");
  if (ok)
    *n_fds = (guint) count;
  return ok;
}

/**
 * fc_systemd_notify:
 * @state: newline-separated assignments, as sd_notify(3) takes them
 *   (`READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=...`)
 * @error: a #GIOError when `NOTIFY_SOCKET` is set but cannot be told
 *
 * Tells the service manager @state, if one listens (`NOTIFY_SOCKET` is
 * set: a path, or an abstract socket name starting with `@`); does
 * nothing otherwise. Main thread; blocks only as long as one datagram.
 */
gboolean
fc_systemd_notify (const char  *state,
                   GError     **error)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gsize path_len;
  socklen_t address_len;
  ssize_t sent;
  int saved_errno;
  int fd;

  if (path == NULL || *path == '\0')
    return TRUE;

  path_len = strlen (path);
  if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof address.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("NOTIFY_SOCKET is “%s”, not a socket path"), path);
      return FALSE;
    }
  memcpy (address.sun_path, path, path_len);
  if (path[0] == '@')
    address.sun_path[0] = '\0';
  /* An abstract name is as long as given, not NUL-terminated. */
  address_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + path_len + (path[0] == '/'));

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    sent = -1;
  else
    do
      sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL,
                     (const struct sockaddr *) &address, address_len);
    while (sent < 0 && errno == EINTR);
  saved_errno = errno;
  if (fd >= 0)
    g_close (fd, NULL);

  if (sent < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot notify the service manager at %s: %s"), path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
