/* Preloaded into the daemon by tests/test-bulk.c: a pread() of a file
 * named "stall" that reaches past 4 MiB (FC_BULK_BODY_MIN, so never in a
 * reply's first turn) waits while a file "stall.hold" is beside it, as a
 * read from a slow disk would, and makes "stall.held" to say so:
 * whichever thread sends that part of the body is held, and the test
 * can tell which by what else is answered. At most 60 s, so that a
 * failing test ends. */
/* Both symbols are defined here: the headers must not rename one to
 * the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define STALL_FROM ((off_t) 4 * 1024 * 1024)

typedef ssize_t (*PreadFunc) (int, void *, size_t, off_t);

/* Writes the hold file's path for @fd's file into @hold, or returns 0
 * when @fd is not a file named "stall". */
static int
hold_path (int     fd,
           char   *hold,
           size_t  size)
{
  char link[64];
  char path[4096];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, sizeof path - 1);
  if (n < 6)
    return 0;
  path[n] = '\0';
  if (strcmp (path + n - 6, "/stall") != 0)
    return 0;
  snprintf (hold, size, "%s.hold", path);
  return 1;
}

static ssize_t
pread_or_stall (const char *symbol,
                int         fd,
                void       *buf,
                size_t      count,
                off_t       offset)
{
  PreadFunc real = (PreadFunc) dlsym (RTLD_NEXT, symbol);
  char hold[4200];

  if ((off_t) (offset + count) > STALL_FROM && hold_path (fd, hold, sizeof hold) &&
      access (hold, F_OK) == 0)
    {
      /* "stall.held" says the read waits now. */
      char held[4200];
      int fd_held;

      snprintf (held, sizeof held, "%.*seld", (int) strlen (hold) - 3, hold);
      fd_held = open (held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd_held >= 0)
        close (fd_held);
      for (int i = 0; i < 6000 && access (hold, F_OK) == 0; i++)
        nanosleep (&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
  return real (fd, buf, count, offset);
}

ssize_t pread (int fd, void *buf, size_t count, off_t offset);
ssize_t pread64 (int fd, void *buf, size_t count, off_t offset);

ssize_t
pread (int fd, void *buf, size_t count, off_t offset)
{
  return pread_or_stall ("pread", fd, buf, count, offset);
}

ssize_t
pread64 (int fd, void *buf, size_t count, off_t offset)
{
  return pread_or_stall ("pread64", fd, buf, count, offset);
}
