/* Preloaded into the daemon by tests/test-long-work.c: makes the listing
 * of one directory as long as a test needs, without timing it. For a
 * directory whose last component is $FC_STALL_DIR:
 * - $FC_STALL_RELEASE (a path): every readdir() waits until that file
 *   exists, so a listing is held for as long as the test wants;
 * - $FC_STALL_DELAY_US: every readdir() then sleeps that long, so that a
 *   listing of N entries takes at least N times as long;
 * - $FC_STALL_LOG (a path): one byte is appended for each event, `o` as
 *   the directory is opened for reading (fdopendir()), `r` for each
 *   readdir(), `c` as it is closed (closedir()), for the test to count
 *   how far a listing went and whether it ended. */
/* Both symbols are defined here: the headers must not rename one to
 * the other. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int
is_stalled_fd (int fd)
{
  const char *want = getenv ("FC_STALL_DIR");
  char link[64];
  char path[4096];
  const char *base;
  ssize_t n;

  if (want == NULL || fd < 0)
    return 0;
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, sizeof path - 1);
  if (n <= 0)
    return 0;
  path[n] = '\0';
  base = strrchr (path, '/');
  return base != NULL && strcmp (base + 1, want) == 0;
}

static void
log_event (char event)
{
  const char *path = getenv ("FC_STALL_LOG");
  int fd;

  if (path == NULL)
    return;
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  (void) write (fd, &event, 1);
  close (fd);
}

static void
sleep_us (long us)
{
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

  while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
    ;
}

static void
stall (void)
{
  const char *release = getenv ("FC_STALL_RELEASE");
  const char *delay = getenv ("FC_STALL_DELAY_US");

  if (release != NULL)
    while (access (release, F_OK) != 0)
      sleep_us (1000);
  if (delay != NULL)
    sleep_us (atol (delay));
}

DIR *
fdopendir (int fd)
{
  DIR *(*real) (int) = (DIR *(*) (int)) dlsym (RTLD_NEXT, "fdopendir");
  int stalled = is_stalled_fd (fd);
  DIR *dir = real (fd);

  if (dir != NULL && stalled)
    log_event ('o');
  return dir;
}

static void *
readdir_stalled (const char *symbol,
                 DIR        *dir)
{
  void *(*real) (DIR *) = (void *(*) (DIR *)) dlsym (RTLD_NEXT, symbol);
  int saved_errno = errno;

  if (is_stalled_fd (dirfd (dir)))
    {
      log_event ('r');
      stall ();
    }
  errno = saved_errno;
  return real (dir);
}

struct dirent *
readdir (DIR *dir)
{
  return readdir_stalled ("readdir", dir);
}

struct dirent64 *
readdir64 (DIR *dir)
{
  return readdir_stalled ("readdir64", dir);
}

int
closedir (DIR *dir)
{
  int (*real) (DIR *) = (int (*) (DIR *)) dlsym (RTLD_NEXT, "closedir");

  if (is_stalled_fd (dirfd (dir)))
    log_event ('c');
  return real (dir);
}
