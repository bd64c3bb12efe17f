#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "systemd.h"

/* A datagram socket standing in for systemd's notification socket;
 * @abstract: in the abstract namespace, named "@..." in NOTIFY_SOCKET. */
static int
bind_notify_socket (gboolean   abstract,
                    char     **out_name,
                    char     **out_dir)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  socklen_t len;

  g_assert_cmpint (fd, >=, 0);
  *out_dir = NULL;
  if (abstract)
    {
      *out_name = g_strdup_printf ("@filecached-test-%d", (int) getpid ());
      memcpy (address.sun_path, *out_name, strlen (*out_name));
      address.sun_path[0] = '\0';
      len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + strlen (*out_name));
    }
  else
    {
      *out_dir = g_dir_make_tmp ("test-systemd-XXXXXX", NULL);
      *out_name = g_build_filename (*out_dir, "notify", NULL);
      g_strlcpy (address.sun_path, *out_name, sizeof address.sun_path);
      len = sizeof address;
    }
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, len), ==, 0);
  return fd;
}

static void
assert_notified (gboolean abstract)
{
  g_autofree char *name = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  int fd = bind_notify_socket (abstract, &name, &dir);
  char buf[256];
  ssize_t n;

  g_setenv ("NOTIFY_SOCKET", name, TRUE);
  g_assert_true (fc_systemd_notify ("READY=1\nSTATUS=up", &error));
  g_assert_no_error (error);
  n = recv (fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  g_assert_cmpint (n, ==, strlen ("READY=1\nSTATUS=up"));
  buf[n] = '\0';
  g_assert_cmpstr (buf, ==, "READY=1\nSTATUS=up");

  g_unsetenv ("NOTIFY_SOCKET");
  close (fd);
  if (dir != NULL)
    {
      g_unlink (name);
      g_rmdir (dir);
    }
}

static void
test_notify_path (void)
{
  assert_notified (FALSE);
}

static void
test_notify_abstract (void)
{
  assert_notified (TRUE);
}

static void
test_notify_unset_is_nothing (void)
{
  g_autoptr(GError) error = NULL;

  g_unsetenv ("NOTIFY_SOCKET");
  g_assert_true (fc_systemd_notify ("READY=1", &error));
  g_assert_no_error (error);
}

static void
test_notify_nobody_listening (void)
{
  g_autoptr(GError) error = NULL;

  g_setenv ("NOTIFY_SOCKET", "/nonexistent/notify", TRUE);
  g_assert_false (fc_systemd_notify ("READY=1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/notify"));
  g_clear_error (&error);

  g_setenv ("NOTIFY_SOCKET", "relative/notify", TRUE);
  g_assert_false (fc_systemd_notify ("READY=1", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_unsetenv ("NOTIFY_SOCKET");
}

/* Sockets passed to another process (a parent that exec'ed us without
 * unsetting the variables) are not ours. */
static void
test_listen_fds_other_pid (void)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid () + 1);
  g_autoptr(GError) error = NULL;
  guint n = 7;

  g_setenv ("LISTEN_PID", pid, TRUE);
  g_setenv ("LISTEN_FDS", "1", TRUE);
  g_assert_true (fc_systemd_take_listen_fds (&n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 0);
  g_unsetenv ("LISTEN_PID");
  g_unsetenv ("LISTEN_FDS");

  g_assert_true (fc_systemd_take_listen_fds (&n, &error));
  g_assert_cmpuint (n, ==, 0);
}

static void
test_listen_fds_bad_count (void)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GError) error = NULL;
  guint n = 7;

  g_setenv ("LISTEN_PID", pid, TRUE);
  g_setenv ("LISTEN_FDS", "two", TRUE);
  g_assert_false (fc_systemd_take_listen_fds (&n, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "two"));
  g_assert_cmpuint (n, ==, 0);
  g_assert_null (g_getenv ("LISTEN_PID"));
}

/* Ours: counted, kept from children (close-on-exec and the variables
 * gone). */
static void
test_listen_fds_taken (void)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GError) error = NULL;
  int fds[2];
  guint n = 0;

  if (fcntl (FC_SYSTEMD_LISTEN_FDS_START, F_GETFD) >= 0 ||
      fcntl (FC_SYSTEMD_LISTEN_FDS_START + 1, F_GETFD) >= 0)
    {
      g_test_skip ("descriptors 3 and 4 are in use in this process");
      return;
    }
  /* Well above 4, so that no dup2() below closes the other one. */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      int high = fcntl (fds[i], F_DUPFD_CLOEXEC, 10);

      close (fds[i]);
      fds[i] = high;
    }
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (dup2 (fds[i], FC_SYSTEMD_LISTEN_FDS_START + i), ==, FC_SYSTEMD_LISTEN_FDS_START + i);
      close (fds[i]);
    }

  g_setenv ("LISTEN_PID", pid, TRUE);
  g_setenv ("LISTEN_FDS", "2", TRUE);
  g_setenv ("LISTEN_FDNAMES", "a:b", TRUE);
  g_assert_true (fc_systemd_take_listen_fds (&n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_null (g_getenv ("LISTEN_PID"));
  g_assert_null (g_getenv ("LISTEN_FDS"));
  g_assert_null (g_getenv ("LISTEN_FDNAMES"));
  g_assert_cmpint (fcntl (FC_SYSTEMD_LISTEN_FDS_START, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  g_assert_cmpint (fcntl (FC_SYSTEMD_LISTEN_FDS_START + 1, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  close (FC_SYSTEMD_LISTEN_FDS_START);
  close (FC_SYSTEMD_LISTEN_FDS_START + 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/systemd/notify/path", test_notify_path);
  g_test_add_func ("/systemd/notify/abstract", test_notify_abstract);
  g_test_add_func ("/systemd/notify/unset-is-nothing", test_notify_unset_is_nothing);
  g_test_add_func ("/systemd/notify/nobody-listening", test_notify_nobody_listening);
  g_test_add_func ("/systemd/listen-fds/other-pid", test_listen_fds_other_pid);
  g_test_add_func ("/systemd/listen-fds/bad-count", test_listen_fds_bad_count);
  g_test_add_func ("/systemd/listen-fds/taken", test_listen_fds_taken);
  return g_test_run ();
}
