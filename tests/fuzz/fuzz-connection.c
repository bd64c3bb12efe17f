/* A whole connection: the input is sent to a real server (in this
 * process, over loopback) as a client's bytes, then the write side is
 * closed, and every reply is held against PROTOCOL.md: its grammar, one
 * reply per complete line (up to QUIT or a too-long line, after which
 * the server closes), and the content of every file served. The cache
 * is smaller than some files, so both cached and streamed bodies run. */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <glib/gstdio.h>

#include "cache.h"
#include "contract.h"
#include "server.h"

#define CACHE_CAPACITY (16 * 1024)
/* A hang is a finding too, long before libFuzzer's own -timeout. */
#define IO_TIMEOUT_MS (20 * 1000)

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static FcServer *server;   /* (owned): lives until the process ends */
static guint16 port;
static char *served_root;   /* (owned) */
/* (element-type utf8 GBytes): every name a GET must answer OK, with what */
static GHashTable *served;
/* Names that exist but must be refused with 403. */
static const char *const forbidden[] = { "sub", "fifo", "escape" };

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

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;

  g_autofree char *sub = NULL;
  g_autofree char *fifo = NULL;
  g_autofree char *back = NULL;
  GMainContext *context = g_main_context_new ();
  FcServerConfig config = {
    .host = "127.0.0.1",
    .port = 0,
    .max_clients = 64,
    .request_timeout = 10,
    .idle_timeout = 10,
    .send_timeout = 10,
  };

  served_root = g_dir_make_tmp ("fuzz-connection-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_root);
  config.root = served_root;
  signal (SIGPIPE, SIG_IGN);
  served = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_bytes_unref);

  sub = g_build_filename (served_root, "sub", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  fifo = g_build_filename (served_root, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  put_file (served_root, "small", 100);
  put_file (served_root, "empty", 0);
  put_file (served_root, "big", 3 * CACHE_CAPACITY + 7);
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
  server = fc_server_new (&config, fc_cache_new (CACHE_CAPACITY), &error);
  g_assert_no_error (error);
  fc_server_start (server, &error);
  g_assert_no_error (error);
  g_main_context_pop_thread_default (context);
  port = fc_server_get_port (server);
  g_thread_new ("server", run_loop, g_main_loop_new (context, FALSE));
  /* The server lives until the process ends. */
  return 0;
}

/* Sends @data and reads until the server closes, both at once, so that
 * neither side can block the other with full buffers. */
static GByteArray *
exchange (const guint8 *data,
          gsize         size)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
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
  return replies;
}

typedef struct {
  const guint8 *data;
  gsize len;
  gsize pos;
} Reader;

/* (transfer full): the next reply line without its LF; aborts if the
 * server closed before one. */
static char *
next_line (Reader     *r,
           const char *request)
{
  const guint8 *lf;
  char *line;

  FZ_CHECK (r->pos < r->len, "no reply to \"%s\"", request);
  lf = memchr (r->data + r->pos, '\n', r->len - r->pos);
  FZ_CHECK (lf != NULL, "no whole reply to \"%s\"", request);
  line = g_strndup ((const char *) r->data + r->pos, (gsize) (lf - (r->data + r->pos)));
  FZ_CHECK (strlen (line) == (gsize) (lf - (r->data + r->pos)), "a NUL in a status line");
  r->pos = (gsize) (lf - r->data) + 1;
  return line;
}

/* `OK <n>`: returns n. */
static guint64
parse_ok_count (const char *line,
                const char *request)
{
  guint64 n = 0;

  FZ_CHECK (g_str_has_prefix (line, "OK ") && fz_number_ok (line + 3, strlen (line) - 3, &n),
            "\"%s\" for \"%s\"", line, request);
  return n;
}

/* `ERR <code> <text>`: returns the code. */
static guint
parse_err (const char *line,
           const char *request)
{
  guint64 code = 0;

  FZ_CHECK (g_str_has_prefix (line, "ERR ") && strlen (line) > 8 && line[7] == ' ' &&
            fz_number_ok (line + 4, 3, &code) && line[8] != '\0',
            "\"%s\" for \"%s\"", line, request);
  for (const char *c = line + 8; *c != '\0'; c++)
    FZ_CHECK ((guchar) *c >= 0x20 && *c != 0x7f, "a control character in \"%s\"", line);
  return (guint) code;
}

static const guint8 *
take_body (Reader     *r,
           guint64     n,
           const char *request)
{
  const guint8 *body = n > 0 ? r->data + r->pos : NULL;

  FZ_CHECK (n <= r->len - r->pos, "a body of %" G_GUINT64_FORMAT " cut short for \"%s\"", n, request);
  r->pos += n;
  return body;
}

static gboolean
is_forbidden (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (forbidden); i++)
    if (strcmp (name, forbidden[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
check_get (Reader     *r,
           const char *name,
           const char *request)
{
  g_autofree char *line = next_line (r, request);
  GBytes *content = g_hash_table_lookup (served, name);
  guint code;

  if (content != NULL)
    {
      guint64 n = parse_ok_count (line, request);
      const guint8 *body = take_body (r, n, request);

      FZ_CHECK (n == g_bytes_get_size (content) &&
                (n == 0 || memcmp (body, g_bytes_get_data (content, NULL), n) == 0),
                "the body of \"%s\" is not the file's content", request);
      return;
    }

  code = parse_err (line, request);
  if (is_forbidden (name))
    FZ_CHECK (code == 403, "\"%s\" for \"%s\"", line, request);
  else
    FZ_CHECK (code == 403 || code == 404, "\"%s\" for \"%s\"", line, request);
}

/* `OK <n>`, then n lines `<size> <hits> <name>` of files served and small
 * enough to be cached. */
static void
check_list (Reader *r)
{
  g_autofree char *line = next_line (r, "LIST");
  guint64 n = parse_ok_count (line, "LIST");

  for (guint64 i = 0; i < n; i++)
    {
      g_autofree char *entry = next_line (r, "LIST");
      g_auto(GStrv) fields = g_strsplit (entry, " ", 3);
      guint64 size = 0, hits = 0;
      GBytes *content;

      FZ_CHECK (g_strv_length (fields) == 3 &&
                fz_number_ok (fields[0], strlen (fields[0]), &size) &&
                fz_number_ok (fields[1], strlen (fields[1]), &hits) && hits >= 1,
                "LIST entry \"%s\"", entry);
      content = g_hash_table_lookup (served, fields[2]);
      FZ_CHECK (content != NULL && size == g_bytes_get_size (content) && size <= CACHE_CAPACITY,
                "LIST entry \"%s\"", entry);
    }
}

/* STAT and GETFROM (v1.1): `OK <size> <sha256>`, `OK <n>` and a body, or
 * an error. */
static void
check_v1_1 (Reader     *r,
            const char *request)
{
  g_autofree char *line = next_line (r, request);
  const char *space = strchr (line, ' ');
  guint64 n = 0;

  if (g_str_has_prefix (line, "ERR "))
    {
      guint code = parse_err (line, request);

      FZ_CHECK (code == 400 || code == 403 || code == 404 || code == 412 || code == 416,
                "\"%s\" for \"%s\"", line, request);
      return;
    }
  space = strchr (line + 3, ' ');
  if (g_str_has_prefix (request, "STAT "))
    {
      FZ_CHECK (g_str_has_prefix (line, "OK ") && space != NULL && strlen (space + 1) == 64 &&
                fz_number_ok (line + 3, (gsize) (space - line - 3), &n) &&
                strspn (space + 1, "0123456789abcdef") == 64,
                "\"%s\" for \"%s\"", line, request);
      return;
    }
  take_body (r, parse_ok_count (line, request), request);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GByteArray) replies = exchange (data, size);
  Reader r = { replies->data, replies->len, 0 };
  gsize offset = 0;

  /* The empty input may come as NULL, and NULL + 0 is undefined. */
  if (data == NULL)
    data = (const guint8 *) "";

  for (;;)
    {
      gsize rest = size - offset;
      const guint8 *lf = memchr (data + offset, '\n', MIN (rest, FZ_LINE_MAX));
      const guint8 *name = NULL;
      gsize name_len = 0;
      g_autofree char *request = NULL;
      FzExpect expect;

      if (lf == NULL)
        {
          if (rest >= FZ_LINE_MAX)
            {
              g_autofree char *line = next_line (&r, "a line too long");

              FZ_CHECK (parse_err (line, "a line too long") == 414, "\"%s\"", line);
            }
          /* A partial line at the end gets no reply. */
          break;
        }

      expect = fz_expect_line (data + offset, (gsize) (lf - (data + offset)), &name, &name_len);
      request = g_strndup ((const char *) data + offset, (gsize) (lf - (data + offset)));
      offset = (gsize) (lf - data) + 1;

      switch (expect)
        {
        case FZ_EXPECT_BAD:
          {
            g_autofree char *line = next_line (&r, request);

            FZ_CHECK (parse_err (line, request) == 400, "\"%s\" for \"%s\"", line, request);
          }
          break;
        case FZ_EXPECT_GET:
          {
            g_autofree char *copy = g_strndup ((const char *) name, name_len);

            check_get (&r, copy, request);
          }
          break;
        case FZ_EXPECT_LIST:
          check_list (&r);
          break;
        case FZ_EXPECT_PING:
        case FZ_EXPECT_QUIT:
          {
            g_autofree char *line = next_line (&r, request);

            FZ_CHECK (g_str_equal (line, expect == FZ_EXPECT_PING ? "OK PONG" : "OK BYE"),
                      "\"%s\" for \"%s\"", line, request);
          }
          break;
        case FZ_EXPECT_V1_1:
          check_v1_1 (&r, request);
          break;
        }
      if (expect == FZ_EXPECT_QUIT)
        break;
    }

  FZ_CHECK (r.pos == r.len, "%" G_GSIZE_FORMAT " bytes after the last reply", r.len - r.pos);
  return 0;
}
