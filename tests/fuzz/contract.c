#include "contract.h"

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <glib/gstdio.h>

#include "cache.h"
#include "server.h"

void
fz_fail (const char *file,
         int         line,
         const char *cond,
         const char *format,
         ...)
{
  va_list args;

  fprintf (stderr, "%s:%d: contract broken: %s: ", file, line, cond);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

/* RFC 3629, table 3-7 of Unicode: the well-formed byte sequences.
 * Returns the length of the one at @s, or 0. */
static gsize
utf8_sequence (const guint8 *s,
               gsize         len)
{
  guint8 lo = 0x80, hi = 0xbf;
  gsize n;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4;
  else
    return 0;

  if (s[0] == 0xe0)
    lo = 0xa0;
  else if (s[0] == 0xed)
    hi = 0x9f;
  else if (s[0] == 0xf0)
    lo = 0x90;
  else if (s[0] == 0xf4)
    hi = 0x8f;

  if (len < n || s[1] < lo || s[1] > hi)
    return 0;
  for (gsize i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

/* "valid UTF-8, 1 to 4000 bytes, components separated by single `/`; no
 * leading or trailing `/`, no empty component, no component `.` or `..`;
 * no byte below 0x20, and no 0x7F." */
gboolean
fz_name_ok (const guint8 *name,
            gsize         len)
{
  gsize start = 0;

  if (len < 1 || len > 4000)
    return FALSE;

  for (gsize i = 0; i < len;)
    {
      gsize n = utf8_sequence (name + i, len - i);

      if (n == 0 || name[i] < 0x20 || name[i] == 0x7f)
        return FALSE;
      i += n;
    }

  for (gsize i = 0; i <= len; i++)
    if (i == len || name[i] == '/')
      {
        gsize clen = i - start;

        if (clen == 0 ||
            (clen == 1 && name[start] == '.') ||
            (clen == 2 && name[start] == '.' && name[start + 1] == '.'))
          return FALSE;
        start = i + 1;
      }
  return TRUE;
}

static gboolean
line_is (const guint8 *line,
         gsize         len,
         const char   *text)
{
  return len == strlen (text) && memcmp (line, text, len) == 0;
}

static gboolean
line_starts (const guint8 *line,
             gsize         len,
             const char   *prefix)
{
  return len >= strlen (prefix) && memcmp (line, prefix, strlen (prefix)) == 0;
}

/* @line: without its LF. Sets @name for FZ_EXPECT_GET. */
FzExpect
fz_expect_line (const guint8  *line,
                gsize          len,
                const guint8 **name,
                gsize         *name_len)
{
  /* "A CR right before the LF is ignored": one, not two. */
  if (len > 0 && line[len - 1] == '\r')
    len--;

  if (line_is (line, len, "LIST"))
    return FZ_EXPECT_LIST;
  if (line_is (line, len, "PING"))
    return FZ_EXPECT_PING;
  if (line_is (line, len, "QUIT"))
    return FZ_EXPECT_QUIT;
  if (line_starts (line, len, "STAT ") || line_starts (line, len, "GETFROM "))
    return FZ_EXPECT_V1_1;
  if (!line_starts (line, len, "GET "))
    return FZ_EXPECT_BAD;

  /* "everything after `GET ` up to the line end, spaces included" */
  *name = line + 4;
  *name_len = len - 4;
  return fz_name_ok (*name, *name_len) ? FZ_EXPECT_GET : FZ_EXPECT_BAD;
}

/* "unsigned decimal ASCII with no sign and no leading zeros" */
gboolean
fz_number_ok (const char *text,
              gsize       len,
              guint64    *value)
{
  guint64 v = 0;

  if (len == 0 || (len > 1 && text[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] < '0' || text[i] > '9' || v > (G_MAXUINT64 - (guint64) (text[i] - '0')) / 10)
        return FALSE;
      v = v * 10 + (guint64) (text[i] - '0');
    }
  *value = v;
  return TRUE;
}

/* A real server over a prepared root, for the whole-connection
 * harnesses. */

/* A hang is a finding too, long before libFuzzer's own -timeout. */
#define IO_TIMEOUT_MS (20 * 1000)

static FcServer *server;   /* (owned): lives until the process ends */
static guint16 port;
static char *served_root;   /* (owned) */
/* (element-type utf8 GBytes): every name a GET must answer OK, with what */
static GHashTable *served;
/* Names that exist but must be refused with 403. */
static const char *const forbidden[] = { FZ_FORBIDDEN };

static void
put_file (const char *root,
          const char *name,
          gsize       size)
{
  g_autofree char *path = g_build_filename (root, name, NULL);
  g_autofree guint8 *content = g_malloc (size + 1);

  /* LF, NUL and CR in the bodies: a reply reader must count, not scan. */
  for (gsize i = 0; i < size; i++)
    content[i] = (guint8) ("\n\0\rAB"[i % 5] + i / 5 % 7);
  g_assert_true (g_file_set_contents (path, (char *) content, (gssize) size, NULL));
  g_hash_table_insert (served, g_strdup (name), g_bytes_new (content, size));
}

static void
put_link (const char *root,
          const char *target,
          const char *name,
          const char *serves)
{
  g_autofree char *path = g_build_filename (root, name, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
  if (serves != NULL)
    g_hash_table_insert (served, g_strdup (name),
                         g_bytes_ref (g_hash_table_lookup (served, serves)));
}

static int
remove_entry (const char        *path,
              const struct stat *st,
              int                flag,
              struct FTW        *ftw)
{
  return remove (path);
}

static void
remove_root (void)
{
  nftw (served_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static gpointer
run_loop (gpointer data)
{
  g_main_loop_run (data);
  return NULL;
}

/**
 * fz_serve:
 * @tag: names the root's temporary directory
 * @http: the server speaks HTTP beside the line protocol
 * @index: it lists directories over HTTP
 *
 * Prepares a root (the files of fz_served(), the names of FZ_FORBIDDEN)
 * and runs a server on it, in a thread of its own, until the process
 * ends. Once, from LLVMFuzzerInitialize().
 */
void
fz_serve (const char *tag,
          gboolean    http,
          gboolean    index)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_strconcat (tag, "-XXXXXX", NULL);
  g_autofree char *sub = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *back = NULL;
  GMainContext *context = g_main_context_new ();
  FcServerConfig config = {
    .host = "127.0.0.1",        /* port 0: a free one */
    .max_clients = 64,
    .request_timeout = 10,
    .idle_timeout = 10,
    .send_timeout = 10,
  };

  served_root = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  atexit (remove_root);
  config.root = served_root;
  config.http = http;
  config.index = index;
  signal (SIGPIPE, SIG_IGN);
  served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);

  sub = g_build_filename (served_root, "sub", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  fifo = g_build_filename (served_root, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  put_file (served_root, "small", 100);
  put_file (served_root, "empty", 0);
  put_file (served_root, "big", 3 * FZ_CACHE_CAPACITY + 7);
  put_file (served_root, "sub/inner", 10);
  put_file (served_root, " sp ace ", 20);
  put_file (served_root, "ünï", 30);
  put_link (served_root, "small", "link", "small");
  put_link (served_root, "../big", "sub/up", "big");
  back = g_build_filename (served_root, "small", NULL);
  put_link (served_root, back, "back", "small");
  put_link (served_root, "/etc/passwd", "escape", NULL);

  /* The server's sources go to the context of the thread that runs it. */
  g_main_context_push_thread_default (context);
  server = fc_server_new (&config, fc_cache_new (FZ_CACHE_CAPACITY), &error);
  g_assert_no_error (error);
  fc_server_start (server, &error);
  g_assert_no_error (error);
  g_main_context_pop_thread_default (context);
  port = fc_server_get_port (server);
  g_thread_new ("server", run_loop, g_main_loop_new (context, FALSE));
  /* The server lives until the process ends. */
}

/* (nullable): what a GET of @name must answer, or NULL if it is not
 * served. */
GBytes *
fz_served (const char *name)
{
  return g_hash_table_lookup (served, name);
}

/* @name exists but must be refused with 403. */
gboolean
fz_forbidden (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (forbidden); i++)
    if (strcmp (name, forbidden[i]) == 0)
      return TRUE;
  return FALSE;
}

/* (transfer full): sends *@input (@size bytes) to the server and reads
 * until the server closes, both at once, so that neither side can block
 * the other with full buffers. The empty input may come as NULL, and
 * NULL + 0 is undefined: *@input is then set to "". */
GByteArray *
fz_exchange (const guint8 **input,
             gsize          size)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  const guint8 *data = *input != NULL ? *input : (const guint8 *) "";
  GByteArray *replies = g_byte_array_new ();
  gsize sent = 0;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  /* libFuzzer's SIGALRM (-timeout) interrupts system calls: an
   * interrupted connect() goes on in the background. */
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    {
      struct pollfd w = { .fd = fd, .events = POLLOUT };
      int so_error = errno;
      socklen_t len = sizeof so_error;

      FZ_CHECK (errno == EINTR, "connect: %s", g_strerror (errno));
      while (poll (&w, 1, IO_TIMEOUT_MS) < 0 && errno == EINTR)
        ;
      FZ_CHECK (getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0,
                "connect: %s", g_strerror (so_error));
    }
  if (size == 0)
    shutdown (fd, SHUT_WR);

  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN | (sent < size ? POLLOUT : 0) };
      gint64 deadline = g_get_monotonic_time () + (gint64) IO_TIMEOUT_MS * 1000;
      guint8 buf[65536];
      ssize_t n;
      int ready;

      do
        {
          gint64 left = deadline - g_get_monotonic_time ();

          ready = poll (&p, 1, (int) MAX (left / 1000, 0));
        }
      while (ready < 0 && errno == EINTR);
      if (ready != 1)
        {
          FcServerStats stats;

          fc_server_get_stats (server, &stats);
          FZ_CHECK (FALSE, "the server neither replied nor closed in %d ms, with %" G_GSIZE_FORMAT
                    " of %" G_GSIZE_FORMAT " bytes sent, %" G_GSIZE_FORMAT " received; "
                    "clients %u now, %" G_GUINT64_FORMAT " in all, %" G_GUINT64_FORMAT " requests",
                    IO_TIMEOUT_MS, sent, size, (gsize) replies->len, stats.clients,
                    stats.clients_total, stats.requests);
        }
      if (p.revents & POLLOUT)
        {
          n = send (fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
          /* The server may close first (QUIT, 414): the rest is unsent. */
          if (n < 0 && errno != EAGAIN)
            sent = size;
          else if (n > 0 && (sent += (gsize) n) == size)
            shutdown (fd, SHUT_WR);
        }
      if (p.revents & (POLLIN | POLLHUP | POLLERR))
        {
          n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN))
            break;
          if (n > 0)
            g_byte_array_append (replies, buf, (guint) n);
        }
    }
  close (fd);
  *input = data;
  return replies;
}
