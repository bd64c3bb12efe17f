/* Preloaded into the daemon by tests/test-faults.c: every pread() of a
 * file named "eio" fails with EIO, as a failing disk's would, so that
 * the daemon's answer and its log can be tested without one. */
/* Both symbols are defined here: the headers must not rename one to
 * the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*PreadFunc) (int, void *, size_t, off_t);

static int
is_failing (int fd)
{
  char link[64];
  char path[4096];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, sizeof path - 1);
  if (n < 4)
    return 0;
  path[n] = '\0';
  return strcmp (path + n - 4, "/eio") == 0;
}

static ssize_t
pread_or_fail (const char *symbol,
               int         fd,
               void       *buf,
               size_t      count,
               off_t       offset)
{
  PreadFunc real = (PreadFunc) dlsym (RTLD_NEXT, symbol);

  if (is_failing (fd))
    {
      errno = EIO;
      return -1;
    }
  return real (fd, buf, count, offset);
}

ssize_t pread (int fd, void *buf, size_t count, off_t offset);
ssize_t pread64 (int fd, void *buf, size_t count, off_t offset);

ssize_t
pread (int fd, void *buf, size_t count, off_t offset)
{
  return pread_or_fail ("pread", fd, buf, count, offset);
}

ssize_t
pread64 (int fd, void *buf, size_t count, off_t offset)
{
  return pread_or_fail ("pread64", fd, buf, count, offset);
}
