/* Preloaded into `filecache get` by tests/test-client.c: once a write()
 * leaves a regular file (not stdin, stdout or stderr) holding at least
 * $FILECACHE_TEST_STOP_AT bytes, the process stops itself (SIGSTOP),
 * once, so that a test can interleave processes at a known point of a
 * transfer. A test aid kept out of the shipped client. */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*WriteFunc) (int, const void *, size_t);

ssize_t write (int fd, const void *buf, size_t count);

ssize_t
write (int fd, const void *buf, size_t count)
{
  static long long stop_at = -1;
  WriteFunc real = (WriteFunc) dlsym (RTLD_NEXT, "write");
  ssize_t n = real (fd, buf, count);
  struct stat st;

  if (stop_at == -1)
    {
      const char *text = getenv ("FILECACHE_TEST_STOP_AT");

      stop_at = text != NULL ? strtoll (text, NULL, 10) : 0;
    }
  if (n > 0 && stop_at > 0 && fd > 2 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
      st.st_size >= stop_at)
    {
      stop_at = 0;
      raise (SIGSTOP);
    }
  return n;
}
