/* The daemon as a client sees it: raw bytes over TCP, checked against
 * PROTOCOL.md. Every test starts its own daemon over an empty root. */
#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

static void
put (TuDaemon *d, const char *name, const char *text)
{
  tu_write_file_str (d->root, name, text);
}

static void
assert_get_str (int fd, const char *name, const char *text)
{
  tu_assert_get (fd, name, text, strlen (text));
}

static void
assert_reply (int fd, const char *request, const char *expected)
{
  g_autofree char *line = NULL;

  tu_send_str (fd, request);
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, expected);
}

static void
assert_get_err (int fd, const char *name, const char *code)
{
  g_autofree char *line = tu_get_err (fd, name);

  tu_assert_err (line, code);
}

/* A file with content of its own, read back from the same seed. */

/* ---- GET ---- */

static void
test_get_small (TuFixture *f, gconstpointer data)
{
  put (f->d, "hello.txt", "hello world\n");
  assert_reply (f->fd, "GET hello.txt\n", "OK 12\n");
  {
    g_autofree guint8 *body = tu_read_exact (f->fd, 12);
    g_assert_cmpmem (body, 12, "hello world\n", 12);
  }
  tu_assert_ping (f->fd);
}

static void
test_get_empty_file (TuFixture *f, gconstpointer data)
{
  put (f->d, "empty", "");
  assert_reply (f->fd, "GET empty\n", "OK 0\n");
  /* No stray body byte may sit before the next reply. */
  tu_assert_ping (f->fd);
}

static void
test_get_binary (TuFixture *f, gconstpointer data)
{
  guint8 bytes[1024 + 6];

  for (guint i = 0; i < 1024; i++)
    bytes[i] = (guint8) (i * 7);
  memcpy (bytes + 1024, "\0\n\r\n\0\n", 6);
  tu_write_file (f->d->root, "blob.bin", bytes, sizeof bytes);
  tu_assert_get (f->fd, "blob.bin", bytes, sizeof bytes);
  tu_assert_get (f->fd, "blob.bin", bytes, sizeof bytes);
  tu_assert_ping (f->fd);
}

/* @data is "hello.txt" with a space added; the plain name holds
 * something else, so a trimmed lookup shows. */
static void
test_get_name_with_space (TuFixture *f, gconstpointer data)
{
  const char *name = data;

  put (f->d, name, "with space\n");
  put (f->d, "hello.txt", "without\n");
  assert_get_str (f->fd, name, "with space\n");
  assert_get_str (f->fd, "hello.txt", "without\n");
}

static void
test_get_name_only_spaces_missing (TuFixture *f, gconstpointer data)
{
  put (f->d, "a", "a\n");
  /* "GET  a" names " a", which does not exist: nothing may be trimmed. */
  assert_get_err (f->fd, " a", "404");
  assert_get_err (f->fd, "a ", "404");
}

static void
test_get_crlf (TuFixture *f, gconstpointer data)
{
  g_autofree guint8 *body = NULL;

  put (f->d, "hello.txt", "hello\n");
  assert_reply (f->fd, "GET hello.txt\r\n", "OK 6\n");
  body = tu_read_exact (f->fd, 6);
  g_assert_cmpmem (body, 6, "hello\n", 6);
  assert_reply (f->fd, "PING\r\n", "OK PONG\n");
  assert_reply (f->fd, "LIST\r\n", "OK 1\n");
  assert_reply (f->fd, "", "6 1 hello.txt\n");
}

static void
test_get_subdir (TuFixture *f, gconstpointer data)
{
  put (f->d, "sub/dir/c.txt", "deep\n");
  assert_get_str (f->fd, "sub/dir/c.txt", "deep\n");
}

static void
test_get_utf8_name (TuFixture *f, gconstpointer data)
{
  const char *name = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80.txt";

  put (f->d, name, "unicode\n");
  assert_get_str (f->fd, name, "unicode\n");
}

/* @len bytes in components short enough for any file system, so that
 * only the contract's 4000-byte limit decides. */
static char *
make_long_name (gsize len)
{
  GString *name = g_string_new (NULL);

  while (name->len < len)
    {
      if (name->len % 200 == 198)
        g_string_append_c (name, '/');
      else
        g_string_append_c (name, 'n');
    }
  g_assert_cmpint (name->str[len - 1], !=, '/');
  return g_string_free (name, FALSE);
}

static void
test_get_name_4000_bytes (TuFixture *f, gconstpointer data)
{
  g_autofree char *name = make_long_name (4000);

  g_assert_cmpuint (strlen (name), ==, 4000);
  put (f->d, name, "longest\n");
  assert_get_str (f->fd, name, "longest\n");
}

/* ---- PING, QUIT, LIST ---- */

static void
test_ping (TuFixture *f, gconstpointer data)
{
  assert_reply (f->fd, "PING\n", "OK PONG\n");
  assert_reply (f->fd, "PING\n", "OK PONG\n");
}

static void
test_quit (TuFixture *f, gconstpointer data)
{
  assert_reply (f->fd, "QUIT\n", "OK BYE\n");
  tu_expect_eof (f->fd);
}

static void
test_list_empty (TuFixture *f, gconstpointer data)
{
  assert_reply (f->fd, "LIST\n", "OK 0\n");
  tu_assert_ping (f->fd);
}

static void
test_list_format_mru_first (TuFixture *f, gconstpointer data)
{
  const char *expected = "OK 3\n3 2 a\n7 1 c d\n5 1 b\n";
  g_autofree char *reply = NULL;

  put (f->d, "a", "aaa");
  put (f->d, "b", "bbbbb");
  put (f->d, "c d", "ccccccc");
  assert_get_str (f->fd, "a", "aaa");
  assert_get_str (f->fd, "b", "bbbbb");
  assert_get_str (f->fd, "c d", "ccccccc");
  assert_get_str (f->fd, "a", "aaa");

  tu_send_str (f->fd, "LIST\n");
  reply = (char *) tu_read_exact (f->fd, strlen (expected));
  g_assert_cmpmem (reply, strlen (expected), expected, strlen (expected));
  tu_assert_ping (f->fd);
}

static void
test_list_hits (TuFixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) entries = NULL;

  put (f->d, "x", "x\n");
  assert_get_str (f->fd, "x", "x\n");
  assert_get_str (f->fd, "x", "x\n");
  assert_get_err (f->fd, "missing", "404");
  entries = tu_list (f->fd);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_nonnull (tu_list_find (entries, "x"));
  g_assert_cmpuint (tu_list_find (entries, "x")->size, ==, 2);
  g_assert_cmpuint (tu_list_find (entries, "x")->hits, ==, 2);

  /* Hits counted from another connection land on the same entry. */
  {
    int fd2 = tu_connect (f->d->port);
    g_autoptr(GPtrArray) again = NULL;

    assert_get_str (fd2, "x", "x\n");
    again = tu_list (fd2);
    g_assert_cmpuint (tu_list_find (again, "x")->hits, ==, 3);
    close (fd2);
  }
}

static void
test_list_bigger_than_cache (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "64K", NULL);
  int fd = tu_connect (d->port);
  g_autofree guint8 *big = tu_put_seeded (d, "big", 1, 100 * KiB);
  g_autoptr(GPtrArray) entries = NULL;

  put (d, "small", "small\n");
  tu_assert_get (fd, "big", big, 100 * KiB);
  assert_get_str (fd, "small", "small\n");
  tu_assert_get (fd, "big", big, 100 * KiB);
  entries = tu_list (fd);
  g_assert_null (tu_list_find (entries, "big"));
  g_assert_nonnull (tu_list_find (entries, "small"));
  close (fd);
  tu_daemon_stop (d);
}

static void
test_list_evicts_to_capacity (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "64K", NULL);
  int fd = tu_connect (d->port);
  const char *names[] = { "one", "two", "three" };
  g_autoptr(GPtrArray) entries = NULL;
  guint64 total = 0;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree guint8 *content = tu_put_seeded (d, names[i], i, 30 * KiB);

      tu_assert_get (fd, names[i], content, 30 * KiB);
    }
  entries = tu_list (fd);
  g_assert_cmpuint (entries->len, >=, 1);
  g_assert_cmpuint (entries->len, <=, 2);
  g_assert_cmpstr (((TuListEntry *) entries->pdata[0])->name, ==, "three");
  for (guint i = 0; i < entries->len; i++)
    total += ((TuListEntry *) entries->pdata[i])->size;
  g_assert_cmpuint (total, <=, 64 * KiB);
  close (fd);
  tu_daemon_stop (d);
}

/* ---- 400 ---- */

typedef struct {
  const char *path;
  const char *bytes;
  gsize len;
} BadRequest;

#define BAD(path, literal) { "/server/error/400/" path, literal, sizeof literal - 1 }

/* Each line would hit an existing file ("a", "d/b") if the daemon were
 * lenient, so a wrong OK cannot pass for the right ERR. */
static const BadRequest bad_requests[] = {
  BAD ("empty-line", "\n"),
  BAD ("empty-line-crlf", "\r\n"),
  BAD ("lowercase-get", "get a\n"),
  BAD ("lowercase-ping", "ping\n"),
  BAD ("mixed-case", "Get a\n"),
  BAD ("unknown-word", "FETCH a\n"),
  BAD ("word-with-suffix", "PINGS\n"),
  BAD ("leading-space", " PING\n"),
  BAD ("tab-separator", "GET\ta\n"),
  BAD ("get-no-name", "GET\n"),
  BAD ("get-empty-name", "GET \n"),
  BAD ("ping-argument", "PING x\n"),
  BAD ("list-argument", "LIST x\n"),
  BAD ("quit-argument", "QUIT x\n"),
  BAD ("absolute", "GET /etc/passwd\n"),
  BAD ("absolute-root", "GET /\n"),
  BAD ("double-slash", "GET d//b\n"),
  BAD ("dot-component", "GET ./a\n"),
  BAD ("dot-inner", "GET d/./b\n"),
  BAD ("dot-alone", "GET .\n"),
  BAD ("dotdot-inner", "GET d/../a\n"),
  BAD ("dotdot-alone", "GET ..\n"),
  BAD ("dotdot-escape", "GET ../etc/passwd\n"),
  BAD ("trailing-slash", "GET d/b/\n"),
  BAD ("control-byte", "GET a\x01\n"),
  BAD ("nul-byte", "GET a\0\n"),
  BAD ("tab-in-name", "GET a\tb\n"),
  BAD ("cr-in-name", "GET a\rb\n"),
  BAD ("escape-byte", "GET a\x1b\n"),
  BAD ("del-byte", "GET a\x7f\n"),
  BAD ("invalid-utf8", "GET a\xff\n"),
  BAD ("utf8-bad-continuation", "GET \xc3\x28\n"),
  BAD ("utf8-truncated", "GET a\xc3\n"),
  BAD ("utf8-overlong-slash", "GET d\xc0\xaf" "b\n"),
  BAD ("utf8-surrogate", "GET \xed\xa0\x80\n"),
};

static void
test_bad_request (gconstpointer data)
{
  const BadRequest *bad = data;
  TuDaemon *d = tu_daemon_start (NULL);
  int fd = tu_connect (d->port);
  g_autofree char *line = NULL;

  put (d, "a", "a\n");
  put (d, "d/b", "b\n");
  tu_send (fd, bad->bytes, bad->len);
  line = tu_read_line (fd);
  tu_assert_err (line, "400");
  tu_assert_ping (fd);
  assert_get_str (fd, "a", "a\n");
  close (fd);
  tu_daemon_stop (d);
}

static void
test_bad_name_4001_bytes (TuFixture *f, gconstpointer data)
{
  g_autofree char *name = make_long_name (4001);

  put (f->d, name, "too long\n");
  assert_get_err (f->fd, name, "400");
  tu_assert_ping (f->fd);
}

/* ---- 403 ---- */

static void
test_forbidden_directory (TuFixture *f, gconstpointer data)
{
  put (f->d, "d/b", "b\n");
  assert_get_err (f->fd, "d", "403");
  tu_assert_ping (f->fd);
}

static void
test_forbidden_fifo (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "fifo");
  g_autofree char *line = NULL;

  g_assert_cmpint (mkfifo (path, 0644), ==, 0);
  /* Opening a FIFO for reading blocks until a writer comes: a daemon that
   * opens before checking the type never answers. */
  tu_send_str (f->fd, "GET fifo\n");
  line = tu_read_line_timeout (f->fd, 8000);
  tu_assert_err (line, "403");
  tu_assert_ping (f->fd);
}

/* Refusing a FIFO has no effect on it: a local writer waiting for a
 * reader keeps waiting, and its message goes to the real reader. */
static void
test_forbidden_fifo_writer_waits (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "fifo");
  TuFifoWriter *writer;

  g_assert_cmpint (mkfifo (path, 0644), ==, 0);
  writer = tu_fifo_writer_start (path);
  assert_get_err (f->fd, "fifo", "403");
  tu_fifo_writer_finish (writer);
  tu_assert_ping (f->fd);
}

static void
put_secret (TuDaemon *d)
{
  tu_write_file_str (d->base, "secret.txt", "secret outside the root\n");
}

typedef struct {
  const char *path;
  const char *link;    /* made in the root */
  const char *target;  /* where it points */
  const char *request;
} Escape;

static const Escape escapes[] = {
  { "/server/error/403/symlink-absolute-outside", "passwd", "/etc/passwd", "passwd" },
  { "/server/error/403/symlink-relative-outside", "escape", "../secret.txt", "escape" },
  { "/server/error/403/symlink-dir-outside", "up", "..", "up/secret.txt" },
};

static void
test_forbidden_escape (TuFixture *f, gconstpointer data)
{
  const Escape *escape = data;
  g_autofree char *link = tu_daemon_path (f->d, escape->link);

  put_secret (f->d);
  g_assert_cmpint (symlink (escape->target, link), ==, 0);
  assert_get_err (f->fd, escape->request, "403");
  tu_assert_ping (f->fd);
}

static void
test_forbidden_symlink_chain (TuFixture *f, gconstpointer data)
{
  g_autofree char *l1 = tu_daemon_path (f->d, "l1");
  g_autofree char *l2 = tu_daemon_path (f->d, "sub/l2");

  put_secret (f->d);
  put (f->d, "sub/x", "x");
  g_assert_cmpint (symlink ("sub/l2", l1), ==, 0);
  g_assert_cmpint (symlink ("../../secret.txt", l2), ==, 0);
  assert_get_err (f->fd, "l1", "403");
  assert_get_err (f->fd, "sub/l2", "403");
  tu_assert_ping (f->fd);
}

static void
test_forbidden_unreadable (void)
{
  TuDaemon *d;
  g_autofree char *path = NULL;
  int fd;

  if (geteuid () == 0)
    {
      g_test_skip ("root can read a mode 000 file");
      return;
    }
  d = tu_daemon_start (NULL);
  fd = tu_connect (d->port);
  path = tu_daemon_path (d, "locked");
  put (d, "locked", "locked\n");
  g_assert_cmpint (chmod (path, 0), ==, 0);
  assert_get_err (fd, "locked", "403");
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

/* ---- 404 ---- */

static void
test_not_found (TuFixture *f, gconstpointer data)
{
  put (f->d, "a", "a\n");
  assert_get_err (f->fd, "nope", "404");
  assert_get_err (f->fd, "no/such/dir", "404");
  assert_get_str (f->fd, "a", "a\n");
  assert_get_err (f->fd, "nope", "404");
  tu_assert_ping (f->fd);
}

/* ---- 414 ---- */

/* "GET " then filler up to @len bytes, then @end. */
static char *
make_line (gsize len, const char *end)
{
  GString *line = g_string_new ("GET ");

  while (line->len < len)
    g_string_append_c (line, 'x');
  g_string_append (line, end);
  return g_string_free (line, FALSE);
}

static void
assert_accepted_not_414 (const char *line)
{
  g_assert_nonnull (line);
  if (!g_str_has_prefix (line, "ERR 400 ") && !g_str_has_prefix (line, "ERR 404 "))
    g_error ("expected ERR 400 or ERR 404, got \"%s\"", line);
}

static void
test_line_4095_accepted (TuFixture *f, gconstpointer data)
{
  g_autofree char *request = make_line (4095, "\n");
  g_autofree char *line = NULL;

  tu_send_str (f->fd, request);
  line = tu_read_line (f->fd);
  assert_accepted_not_414 (line);
  tu_assert_ping (f->fd);
}

static void
test_line_4094_crlf_accepted (TuFixture *f, gconstpointer data)
{
  g_autofree char *request = make_line (4094, "\r\n");
  g_autofree char *line = NULL;

  g_assert_cmpuint (strlen (request), ==, 4096);
  tu_send_str (f->fd, request);
  line = tu_read_line (f->fd);
  assert_accepted_not_414 (line);
  tu_assert_ping (f->fd);
}

static void
test_line_4096_too_long (TuFixture *f, gconstpointer data)
{
  g_autofree char *request = make_line (4096, "");
  g_autofree char *line = NULL;

  tu_send_str (f->fd, request);
  line = tu_read_line (f->fd);
  tu_assert_err (line, "414");
  tu_expect_eof (f->fd);
}

/* The limit is per line, not per read buffer: lines before and after a
 * long one in the same segment must be unaffected. */
static void
test_line_limit_pipelined (TuFixture *f, gconstpointer data)
{
  g_autofree char *longest = make_line (4095, "\n");
  g_autofree char *request = g_strconcat ("PING\n", longest, "PING\n", NULL);
  g_autofree char *line = NULL;

  tu_send_str (f->fd, request);
  assert_reply (f->fd, "", "OK PONG\n");
  line = tu_read_line (f->fd);
  assert_accepted_not_414 (line);
  assert_reply (f->fd, "", "OK PONG\n");
}

static void
test_line_too_long_after_request (TuFixture *f, gconstpointer data)
{
  g_autofree char *too_long = make_line (4096, "");
  g_autofree char *request = g_strconcat ("PING\n", too_long, NULL);
  g_autofree char *line = NULL;

  tu_send_str (f->fd, request);
  assert_reply (f->fd, "", "OK PONG\n");
  line = tu_read_line (f->fd);
  tu_assert_err (line, "414");
  tu_expect_eof (f->fd);
}

/* ---- pipelining ---- */

typedef struct {
  char *name; /* (owned) */
  guint64 hits;
  gsize size;
} Model;

static void
model_free (gpointer data)
{
  Model *m = data;

  g_free (m->name);
  g_free (m);
}

/* The LIST a plain MRU cache with room for everything must show. */
static void
model_touch (GPtrArray *mru, const char *name, gsize size)
{
  Model *m = NULL;

  for (guint i = 0; i < mru->len; i++)
    if (g_str_equal (((Model *) mru->pdata[i])->name, name))
      {
        m = g_ptr_array_steal_index (mru, i);
        break;
      }
  if (m == NULL)
    {
      m = g_new0 (Model, 1);
      m->name = g_strdup (name);
      m->size = size;
    }
  m->hits++;
  g_ptr_array_insert (mru, 0, m);
}

static void
test_pipeline_in_order (TuFixture *f, gconstpointer data)
{
  enum { N_FILES = 10, N_REQUESTS = 50 };
  guint8 *contents[N_FILES];
  gsize sizes[N_FILES];
  g_autoptr(GString) batch = g_string_new (NULL);
  g_autoptr(GPtrArray) mru = g_ptr_array_new_with_free_func (model_free);
  guint kinds[N_REQUESTS];

  for (guint i = 0; i < N_FILES; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%u", i);

      sizes[i] = (gsize) i * 13 * KiB + i + 1;
      contents[i] = tu_put_seeded (f->d, name, 100 + i, sizes[i]);
    }
  for (guint r = 0; r < N_REQUESTS; r++)
    {
      kinds[r] = (r * 7 + 3) % (N_FILES + 3);
      if (kinds[r] < N_FILES)
        g_string_append_printf (batch, "GET f%u\n", kinds[r]);
      else if (kinds[r] == N_FILES)
        g_string_append (batch, "PING\n");
      else if (kinds[r] == N_FILES + 1)
        g_string_append (batch, "GET missing\n");
      else
        g_string_append (batch, "LIST\n");
    }
  tu_send (f->fd, batch->str, batch->len);

  for (guint r = 0; r < N_REQUESTS; r++)
    {
      guint k = kinds[r];

      if (k < N_FILES)
        {
          g_autofree char *name = g_strdup_printf ("f%u", k);

          tu_assert_get_reply (f->fd, contents[k], sizes[k]);
          model_touch (mru, name, sizes[k]);
        }
      else if (k == N_FILES)
        assert_reply (f->fd, "", "OK PONG\n");
      else if (k == N_FILES + 1)
        {
          g_autofree char *line = tu_read_line (f->fd);
          tu_assert_err (line, "404");
        }
      else
        {
          g_autoptr(GPtrArray) entries = tu_read_list (f->fd);

          g_assert_cmpuint (entries->len, ==, mru->len);
          for (guint i = 0; i < mru->len; i++)
            {
              TuListEntry *got = entries->pdata[i];
              Model *want = mru->pdata[i];

              g_assert_cmpstr (got->name, ==, want->name);
              g_assert_cmpuint (got->size, ==, want->size);
              g_assert_cmpuint (got->hits, ==, want->hits);
            }
        }
    }
  tu_assert_ping (f->fd);
  for (guint i = 0; i < N_FILES; i++)
    g_free (contents[i]);
}

/* ---- symlinks inside the root ---- */

static void
test_symlink_inside (TuFixture *f, gconstpointer data)
{
  g_autofree char *to_sub = tu_daemon_path (f->d, "link");
  g_autofree char *via_dotdot = tu_daemon_path (f->d, "rel");
  g_autofree char *to_dir = tu_daemon_path (f->d, "dlink");
  g_autofree char *nested = tu_daemon_path (f->d, "sub/up");

  put (f->d, "a.txt", "file a\n");
  put (f->d, "sub/b.txt", "file b\n");
  g_assert_cmpint (symlink ("sub/b.txt", to_sub), ==, 0);
  g_assert_cmpint (symlink ("sub/../a.txt", via_dotdot), ==, 0);
  g_assert_cmpint (symlink ("sub", to_dir), ==, 0);
  g_assert_cmpint (symlink ("../a.txt", nested), ==, 0);
  assert_get_str (f->fd, "link", "file b\n");
  assert_get_str (f->fd, "rel", "file a\n");
  assert_get_str (f->fd, "dlink/b.txt", "file b\n");
  assert_get_str (f->fd, "sub/up", "file a\n");
  assert_get_err (f->fd, "dlink", "403");
}

/* PROTOCOL.md asks where a file lies once every link is resolved, not
 * which way the links went: these leave the root and come back. */
static void
test_symlink_out_and_back (TuFixture *f, gconstpointer data)
{
  g_autofree char *target = tu_daemon_path (f->d, "a.txt");
  g_autofree char *absolute = tu_daemon_path (f->d, "abs");
  g_autofree char *root_name = g_path_get_basename (f->d->root);
  g_autofree char *back_target = g_build_filename ("..", root_name, "a.txt", NULL);
  g_autofree char *back = tu_daemon_path (f->d, "back");
  g_autofree char *up = tu_daemon_path (f->d, "up");
  g_autofree char *up_name = g_build_filename ("up", root_name, "a.txt", NULL);

  put (f->d, "a.txt", "file a\n");
  g_assert_cmpint (symlink (target, absolute), ==, 0);
  g_assert_cmpint (symlink (back_target, back), ==, 0);
  g_assert_cmpint (symlink ("..", up), ==, 0);
  assert_get_str (f->fd, "abs", "file a\n");
  assert_get_str (f->fd, "back", "file a\n");
  assert_get_str (f->fd, up_name, "file a\n");
  assert_get_err (f->fd, "up", "403");
}

/* ---- concurrency ---- */

enum { N_SHARED_FILES = 40, N_THREADS = 32, N_GETS = 50, BATCH = 5 };

typedef struct {
  guint16 port;
  guint32 seed;
  guint8 **contents;
  gsize *sizes;
  guint64 verified; /* body bytes checked, for the log */
} Worker;

/* Pipelines a few GETs at a time so the daemon sees both keep-alive
 * turnarounds and queued requests while other threads evict. */
static gpointer
worker_run (gpointer data)
{
  Worker *w = data;
  int fd = tu_connect (w->port);
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->seed);

  for (guint done = 0; done < N_GETS; done += BATCH)
    {
      guint picks[BATCH];
      g_autoptr(GString) batch = g_string_new (NULL);

      for (guint i = 0; i < BATCH; i++)
        {
          picks[i] = (guint) g_rand_int_range (rand, 0, N_SHARED_FILES);
          g_string_append_printf (batch, "GET file-%02u\n", picks[i]);
        }
      tu_send (fd, batch->str, batch->len);
      for (guint i = 0; i < BATCH; i++)
        {
          tu_assert_get_reply (fd, w->contents[picks[i]], w->sizes[picks[i]]);
          w->verified += w->sizes[picks[i]];
        }
    }
  tu_assert_ping (fd);
  close (fd);
  return NULL;
}

static void
test_concurrent_clients_evicting (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "256K", NULL);
  guint8 *contents[N_SHARED_FILES];
  gsize sizes[N_SHARED_FILES];
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  g_autoptr(GPtrArray) entries = NULL;
  guint64 total = 0, cached_total = 0, verified = 0;
  int fd;

  for (guint i = 0; i < N_SHARED_FILES; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%02u", i);

      sizes[i] = 16 * KiB + (i * 1237 * 41) % (48 * KiB);
      contents[i] = tu_put_seeded (d, name, 1000 + i, sizes[i]);
      total += sizes[i];
    }
  g_assert_cmpuint (total, >, 4 * 256 * KiB);

  for (guint t = 0; t < N_THREADS; t++)
    {
      workers[t] = (Worker) { d->port, t + 1, contents, sizes, 0 };
      threads[t] = g_thread_new ("client", worker_run, &workers[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      verified += workers[t].verified;
    }
  g_test_message ("%u clients checked %" G_GUINT64_FORMAT " body bytes",
                  N_THREADS, verified);

  fd = tu_connect (d->port);
  entries = tu_list (fd);
  for (guint i = 0; i < entries->len; i++)
    {
      TuListEntry *entry = entries->pdata[i];
      guint64 index = 0;

      g_assert_true (g_str_has_prefix (entry->name, "file-"));
      g_assert_true (g_ascii_string_to_unsigned (entry->name + 5, 10, 0,
                                                 N_SHARED_FILES - 1, &index, NULL));
      g_assert_cmpuint (entry->size, ==, sizes[index]);
      g_assert_cmpuint (entry->hits, >=, 1);
      cached_total += entry->size;
    }
  g_assert_cmpuint (cached_total, <=, 256 * KiB);
  close (fd);
  for (guint i = 0; i < N_SHARED_FILES; i++)
    g_free (contents[i]);
  tu_daemon_stop (d);
}

/* ---- big files ---- */

static void
test_big_streamed (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "64K", NULL);
  int fd = tu_connect (d->port);
  g_autofree guint8 *big = tu_put_seeded (d, "big", 7, 5 * MiB);
  g_autoptr(GPtrArray) entries = NULL;

  tu_assert_get (fd, "big", big, 5 * MiB);
  tu_assert_get (fd, "big", big, 5 * MiB);
  tu_assert_ping (fd);
  entries = tu_list (fd);
  g_assert_null (tu_list_find (entries, "big"));
  close (fd);
  tu_daemon_stop (d);
}

/* Rewritten in place while it streams: the reply may stop short, but no
 * byte of the new version may follow the status line of the old one. */
static void
test_big_streamed_rewritten (void)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", "64K", NULL);
  int fd = tu_connect_full ("127.0.0.1", d->port, 16384);
  g_autofree char *path = tu_daemon_path (d, "big");
  g_autofree guint8 *old = g_malloc (32 * MiB);
  g_autofree guint8 *new = g_malloc (32 * MiB);
  g_autofree char *status = NULL;
  guint8 buf[65536];
  guint64 got = 0;
  ssize_t n;
  int wfd;

  memset (old, 'A', 32 * MiB);
  memset (new, 'B', 32 * MiB);
  tu_write_file (d->root, "big", old, 32 * MiB);
  tu_send_str (fd, "GET big\n");
  status = tu_read_line (fd);
  g_assert_cmpstr (status, ==, "OK 33554432\n");
  g_free (tu_read_exact (fd, 4096));
  got = 4096;

  /* The daemon is now blocked on a full socket, mid-file; overwrite the
   * same inode, same size, without truncating it first. Kernels before
   * multigrain timestamps stamp mtime per tick: let one pass, so the
   * rewrite is visible in it as it is to any client. */
  g_usleep (50 * 1000);
  wfd = open (path, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (wfd, >=, 0);
  for (gsize done = 0; done < 32 * MiB; done += (gsize) n)
    {
      n = pwrite (wfd, new + done, 32 * MiB - done, (off_t) done);
      g_assert_cmpint (n, >, 0);
    }
  g_assert_cmpint (close (wfd), ==, 0);

  while ((n = recv (fd, buf, sizeof buf, 0)) > 0)
    {
      g_assert_null (memchr (buf, 'B', (gsize) n));
      got += (guint64) n;
    }
  g_assert_cmpuint (got, <, 32 * MiB);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_big_cached (TuFixture *f, gconstpointer data)
{
  g_autofree guint8 *big = tu_put_seeded (f->d, "big", 8, 5 * MiB + 3);
  g_autoptr(GPtrArray) entries = NULL;

  tu_assert_get (f->fd, "big", big, 5 * MiB + 3);
  tu_assert_get (f->fd, "big", big, 5 * MiB + 3);
  /* Whether a file this size is kept is the daemon's choice; if it is,
   * both answers count. */
  entries = tu_list (f->fd);
  if (tu_list_find (entries, "big") != NULL)
    g_assert_cmpuint (tu_list_find (entries, "big")->hits, ==, 2);
}

/* ---- freshness ---- */

static void
replace_atomically (TuDaemon *d, const char *name, const char *text)
{
  g_autofree char *tmp_name = g_strconcat (name, ".tmp", NULL);
  g_autofree char *tmp = tu_daemon_path (d, tmp_name);
  g_autofree char *path = tu_daemon_path (d, name);

  put (d, tmp_name, text);
  g_assert_cmpint (rename (tmp, path), ==, 0);
}

/* Keeps the inode, and moves mtime for sure: two writes within one clock
 * tick can share an mtime, and the size may not change either. */
static void
rewrite_in_place (TuDaemon *d, const char *name, const char *text)
{
  g_autofree char *path = tu_daemon_path (d, name);
  struct stat st;
  struct timespec times[2];

  g_assert_cmpint (stat (path, &st), ==, 0);
  put (d, name, text);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  times[1].tv_sec += 7;
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

typedef struct {
  void (*change) (TuDaemon *d, const char *name, const char *text);
} Change;

static const Change by_rename = { replace_atomically };
static const Change in_place = { rewrite_in_place };

static void
test_fresh_versions (TuFixture *f, gconstpointer data)
{
  const Change *how = data;
  /* The second has the first's length: only inode or mtime tell them apart. */
  const char *versions[] = { "version TWO\n", "3\n", "a longer fourth version\n" };

  put (f->d, "a.txt", "version one\n");
  assert_get_str (f->fd, "a.txt", "version one\n");
  assert_get_str (f->fd, "a.txt", "version one\n");
  for (gsize i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      how->change (f->d, "a.txt", versions[i]);
      assert_get_str (f->fd, "a.txt", versions[i]);
      assert_get_str (f->fd, "a.txt", versions[i]);
    }
}

static void
test_fresh_delete (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "a.txt");
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;

  put (f->d, "a.txt", "doomed\n");
  put (f->d, "b.txt", "stays\n");
  assert_get_str (f->fd, "a.txt", "doomed\n");
  assert_get_str (f->fd, "b.txt", "stays\n");
  before = tu_list (f->fd);
  g_assert_nonnull (tu_list_find (before, "a.txt"));
  g_assert_cmpint (unlink (path), ==, 0);
  assert_get_err (f->fd, "a.txt", "404");
  after = tu_list (f->fd);
  g_assert_null (tu_list_find (after, "a.txt"));
  g_assert_nonnull (tu_list_find (after, "b.txt"));
}

static void
test_fresh_replaced_by_escaping_symlink (TuFixture *f, gconstpointer data)
{
  g_autofree char *tmp = tu_daemon_path (f->d, "a.tmp");
  g_autofree char *path = tu_daemon_path (f->d, "a.txt");

  put_secret (f->d);
  put (f->d, "a.txt", "inside\n");
  assert_get_str (f->fd, "a.txt", "inside\n");
  g_assert_cmpint (symlink ("../secret.txt", tmp), ==, 0);
  g_assert_cmpint (rename (tmp, path), ==, 0);
  assert_get_err (f->fd, "a.txt", "403");
}

/* A cached file is served only while its name resolves beneath the root:
 * its directory moved out and linked back in (the file's own identity
 * unchanged), or the file itself moved out and linked back, is refused
 * as its uncached sibling is, and leaves LIST. */
static void
test_fresh_moved_out_linked_back (TuFixture *f, gconstpointer data)
{
  g_autofree char *dir = tu_daemon_path (f->d, "d");
  g_autofree char *moved_dir = g_build_filename (f->d->base, "moved-d", NULL);
  g_autofree char *file = tu_daemon_path (f->d, "e/f");
  g_autofree char *moved_file = g_build_filename (f->d->base, "moved-f", NULL);
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;

  put (f->d, "d/f", "in d\n");
  put (f->d, "d/sibling", "sibling\n");
  put (f->d, "e/f", "in e\n");
  assert_get_str (f->fd, "d/f", "in d\n");
  assert_get_str (f->fd, "e/f", "in e\n");
  before = tu_list (f->fd);
  g_assert_nonnull (tu_list_find (before, "d/f"));
  g_assert_nonnull (tu_list_find (before, "e/f"));

  g_assert_cmpint (rename (dir, moved_dir), ==, 0);
  g_assert_cmpint (symlink (moved_dir, dir), ==, 0);
  g_assert_cmpint (rename (file, moved_file), ==, 0);
  g_assert_cmpint (symlink (moved_file, file), ==, 0);
  assert_get_err (f->fd, "d/sibling", "403");
  assert_get_err (f->fd, "d/f", "403");
  assert_get_err (f->fd, "e/f", "403");
  after = tu_list (f->fd);
  g_assert_null (tu_list_find (after, "d/f"));
  g_assert_null (tu_list_find (after, "e/f"));
}

/* The same moves with no request in between: LIST alone no longer
 * names what would be refused, and a later GET is refused too. */
static void
test_fresh_moved_out_listed (TuFixture *f, gconstpointer data)
{
  g_autofree char *dir = tu_daemon_path (f->d, "d");
  g_autofree char *moved_dir = g_build_filename (f->d->base, "moved-d", NULL);
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;

  put (f->d, "d/f", "in d\n");
  put (f->d, "g", "at the top\n");
  assert_get_str (f->fd, "d/f", "in d\n");
  assert_get_str (f->fd, "g", "at the top\n");
  before = tu_list (f->fd);
  g_assert_nonnull (tu_list_find (before, "d/f"));

  g_assert_cmpint (rename (dir, moved_dir), ==, 0);
  g_assert_cmpint (symlink (moved_dir, dir), ==, 0);
  after = tu_list (f->fd);
  g_assert_null (tu_list_find (after, "d/f"));
  g_assert_nonnull (tu_list_find (after, "g"));
  assert_get_err (f->fd, "d/f", "403");
}

/* A copy trusted without a stat() (watch.c): asked three times, it is
 * loaded, then proved by a stat() and armed, then served on the proof. */
static void
get_until_trusted (int fd, const char *name, const char *text)
{
  for (int i = 0; i < 3; i++)
    assert_get_str (fd, name, text);
}

/* A writer through a shared mapping whose descriptor is closed queues
 * no event when it writes: its open has to keep the copy from being
 * trusted. While the writable mapping lives, no read is proved one
 * version (ERR 500); never the old bytes. */
static void
test_fresh_trusted_mapped_write (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "a.txt");
  g_autofree char *line = NULL;
  char *map;
  int fd;

  put (f->d, "a.txt", "version one\n");
  get_until_trusted (f->fd, "a.txt", "version one\n");
  fd = open (path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  map = mmap (NULL, 12, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  close (fd);
  /* Asked between the open and the write: unchanged still. */
  assert_get_str (f->fd, "a.txt", "version one\n");
  memcpy (map, "VERSION", 7);
  g_assert_cmpint (msync (map, 12, MS_SYNC), ==, 0);
  line = tu_get_err (f->fd, "a.txt");
  tu_assert_err (line, "500");
  g_assert_cmpint (munmap (map, 12), ==, 0);
  assert_get_str (f->fd, "a.txt", "VERSION one\n");
}

/* Written through a hard link outside the root: no event in any watched
 * directory, only on the file itself. */
static void
test_fresh_trusted_outside_link (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "a.txt");
  g_autofree char *outside = g_build_filename (f->d->base, "hard-link", NULL);
  int fd;

  put (f->d, "a.txt", "version one\n");
  g_assert_cmpint (link (path, outside), ==, 0);
  get_until_trusted (f->fd, "a.txt", "version one\n");
  fd = open (outside, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "VERSION", 7), ==, 7);
  tu_note_written (fd);
  close (fd);
  assert_get_str (f->fd, "a.txt", "VERSION one\n");
}

static void
test_fresh_trusted_truncated (TuFixture *f, gconstpointer data)
{
  g_autofree char *path = tu_daemon_path (f->d, "d/a.txt");

  put (f->d, "d/a.txt", "version one\n");
  get_until_trusted (f->fd, "d/a.txt", "version one\n");
  g_assert_cmpint (truncate (path, 7), ==, 0);
  assert_get_str (f->fd, "d/a.txt", "version");
}

/* The directory of a trusted copy moved out and linked back in. */
static void
test_fresh_trusted_moved_out (TuFixture *f, gconstpointer data)
{
  g_autofree char *dir = tu_daemon_path (f->d, "d");
  g_autofree char *moved_dir = g_build_filename (f->d->base, "moved-d", NULL);

  put (f->d, "d/e/f", "in d\n");
  get_until_trusted (f->fd, "d/e/f", "in d\n");
  g_assert_cmpint (rename (dir, moved_dir), ==, 0);
  g_assert_cmpint (symlink (moved_dir, dir), ==, 0);
  assert_get_err (f->fd, "d/e/f", "403");
}

/* ---- connection limit ---- */

static void
test_max_clients (void)
{
  TuDaemon *d = tu_daemon_start ("--max-clients", "2", NULL);
  int a = tu_connect (d->port);
  int b = tu_connect (d->port);
  int c;
  g_autofree char *line = NULL;

  tu_assert_ping (a);
  tu_assert_ping (b);
  c = tu_connect (d->port);
  line = tu_read_line (c);
  tu_assert_err (line, "503");
  tu_expect_eof (c);
  close (c);
  tu_assert_ping (a);

  close (a);
  c = tu_connect_when_free (d->port, TU_IO_TIMEOUT_S);
  tu_assert_ping (b);
  close (b);
  close (c);
  tu_daemon_stop (d);
}

/* ---- timeouts ---- */

static void
test_timeout_partial_line (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "1",
                                 "--idle-timeout", "30", NULL);
  int fd = tu_connect (d->port);
  guint64 discarded = 1;

  tu_send_str (fd, "GE");
  g_assert_true (tu_wait_closed (fd, 8000, &discarded));
  g_assert_cmpuint (discarded, ==, 0);
  close (fd);
  tu_daemon_stop (d);
}

/* A byte now and then must not restart the request clock. */
static void
test_timeout_trickled_line (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "1",
                                 "--idle-timeout", "30", NULL);
  int fd = tu_connect (d->port);
  gint64 deadline = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  gboolean closed = FALSE;

  tu_send_str (fd, "GET ");
  while (!closed && g_get_monotonic_time () < deadline)
    {
      closed = tu_wait_closed (fd, 200, NULL);
      if (!closed && send (fd, "a", 1, MSG_NOSIGNAL) != 1)
        closed = TRUE;
    }
  g_assert_true (closed);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_timeout_split_line_completes (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "5", NULL);
  int fd = tu_connect (d->port);

  tu_send_str (fd, "PI");
  g_usleep (300 * 1000);
  assert_reply (fd, "NG\n", "OK PONG\n");
  close (fd);
  tu_daemon_stop (d);
}

static void
test_timeout_idle (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "30",
                                 "--idle-timeout", "1", NULL);
  int fd = tu_connect (d->port);
  int fresh = tu_connect (d->port);

  tu_assert_ping (fd);
  g_assert_true (tu_wait_closed (fd, 8000, NULL));
  g_assert_true (tu_wait_closed (fresh, 8000, NULL));
  close (fd);
  close (fresh);
  tu_daemon_stop (d);
}

static void
test_timeout_active_stays_open (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "1",
                                 "--idle-timeout", "2", NULL);
  int fd = tu_connect (d->port);

  /* 4 s in all, twice the idle timeout, with a request every 250 ms. */
  for (guint i = 0; i < 16; i++)
    {
      tu_assert_ping (fd);
      g_usleep (250 * 1000);
    }
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

/* Whether the daemon's end of our connection is gone or closing. Its FIN
 * queues behind the bytes we refuse to read, so our own socket cannot
 * tell; the kernel can, asked for that one socket by its addresses
 * (sock_diag), at the same cost however many sockets the host holds. */
static gboolean
server_side_closed (int client_fd)
{
  int state = tu_tcp_peer_state (client_fd);

  return state < 0 || state != TCP_ESTABLISHED;
}

/* A reply written whole into the socket's queue (a loopback send buffer
 * starts at about 1 MiB) has not ended while its client has not taken
 * it: the connection is not idle meanwhile, only held to the send
 * timeout, and idle from when the queue empties. Was: closed an idle
 * timeout after the write, under the reply, which the client then read
 * to a FIN no `Connection: close` had announced, its next request met
 * by a reset. */
/* On a connection with a small receive buffer: @request, which begins
 * with `GET big`, of @size bytes, then @stall_us of not reading, and
 * @check run; then the reply read whole and compared. */
static int
stalled_get_big (TuDaemon   *d,
                 gsize       size,
                 const char *request,
                 gulong      stall_us,
                 gboolean  (*check) (int fd))
{
  g_autofree guint8 *big = tu_put_seeded (d, "big", 7, size);
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  int fd = tu_connect_full ("127.0.0.1", d->port, 4096);
  g_autofree char *status = NULL;
  g_autofree guint8 *body = NULL;

  tu_send_str (fd, request);
  g_usleep (stall_us);
  if (check != NULL)
    g_assert_true (check (fd));
  status = tu_read_line (fd);
  g_assert_cmpstr (status, ==, expected);
  body = tu_read_exact (fd, size);
  g_assert_true (memcmp (body, big, size) == 0);
  return fd;
}

static gboolean
server_side_open (int fd)
{
  return !server_side_closed (fd);
}

static void
test_timeout_idle_after_queued_reply (void)
{
  TuDaemon *d = tu_daemon_start ("--idle-timeout", "1", "--send-timeout", "30", NULL);
  /* Three idle timeouts without reading. */
  int fd = stalled_get_big (d, 512 * KiB, "GET big\n", 3 * G_USEC_PER_SEC, server_side_open);

  tu_assert_ping (fd);
  /* Idle now, and closed as such. */
  g_assert_true (tu_wait_closed (fd, 8000, NULL));
  close (fd);
  tu_daemon_stop (d);
}

/* A request begun behind a reply longer than the request timeout has
 * that timeout from when the reply has gone: was closed unanswered as
 * soon as the reply ended, its first bytes being older than the timeout. */
static void
test_timeout_request_behind_long_reply (void)
{
  TuDaemon *d = tu_daemon_start ("--request-timeout", "1", "--send-timeout", "30", NULL);
  /* More than twice the request timeout with the reply under way. */
  int fd = stalled_get_big (d, 8 * MiB, "GET big\nPI", 2500 * 1000, NULL);
  g_autofree char *pong = NULL;

  tu_send_str (fd, "NG\n");
  pong = tu_read_line_timeout (fd, 5000);
  g_assert_cmpstr (pong, ==, "OK PONG\n");
  close (fd);
  tu_daemon_stop (d);
}

/* ...and a client that takes nothing of such a reply is closed at the
 * send timeout, not held for the idle timeout. */
static void
test_timeout_send_after_queued_reply (void)
{
  TuDaemon *d = tu_daemon_start ("--idle-timeout", "60", "--send-timeout", "1", NULL);
  g_autofree guint8 *big = tu_put_seeded (d, "big", 7, 512 * KiB);
  int fd = tu_connect_full ("127.0.0.1", d->port, 4096);
  gint64 deadline;

  tu_send_str (fd, "GET big\n");
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (!server_side_closed (fd))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
  close (fd);
  tu_daemon_stop (d);
}

static void
stalled_reader (const char *cache_size)
{
  TuDaemon *d = tu_daemon_start ("--send-timeout", "1",
                                 "--cache-size", cache_size, NULL);
  gsize size = 32 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 9, size);
  int stalled, other;
  gint64 deadline;
  guint64 received = 0;
  g_autofree char *line = NULL;

  stalled = tu_connect_full ("127.0.0.1", d->port, 4096);
  /* The lookup finds the daemon's end, open, before the send timeout. */
  g_assert_cmpint (tu_tcp_peer_state (stalled), ==, TCP_ESTABLISHED);
  tu_send_str (stalled, "GET big\n");

  other = tu_connect (d->port);
  tu_send_str (other, "PING\n");
  line = tu_read_line_timeout (other, 5000);
  g_assert_cmpstr (line, ==, "OK PONG\n");

  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (!server_side_closed (stalled))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  /* Whatever was in flight arrives, then the close: never the whole body. */
  g_assert_true (tu_wait_closed (stalled, 10000, &received));
  g_assert_cmpuint (received, <, size);
  close (stalled);

  tu_assert_get (other, "big", big, size);
  close (other);
  tu_daemon_stop (d);
}

static void
test_send_timeout_streamed (void)
{
  stalled_reader ("64K");
}

static void
test_send_timeout_cached (void)
{
  stalled_reader ("64M");
}

/* A reader slow but steady is never cut, however long its reply takes:
 * 5 MiB at 1 MB/s against a send timeout of 1 s. The socket says it is
 * writable again only once much of its send buffer (up to 4 MiB) has
 * drained, longer than the timeout at that pace; the daemon counted that
 * as reading nothing and closed after about 4 MiB (black-box test). */
static void
test_send_timeout_slow_reader (void)
{
  TuDaemon *d = tu_daemon_start ("--send-timeout", "1", NULL);
  gsize size = 5 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 10, size);
  g_autofree guint8 *got = g_malloc (size);
  g_autofree char *line = NULL;
  int fd = tu_connect (d->port);
  gsize have = 0;

  tu_send_str (fd, "GET big\n");
  line = tu_read_line (fd);
  g_assert_cmpstr (line, ==, "OK 5242880\n");
  while (have < size)
    {
      ssize_t n = recv (fd, got + have, MIN (size - have, 50000), 0);

      g_assert_cmpint (n, >, 0);
      have += (gsize) n;
      g_usleep (50 * 1000);
    }
  g_assert_cmpmem (got, size, big, size);
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
}

/* ---- disconnects ---- */

static void
abandon_transfers (const char *cache_size)
{
  TuDaemon *d = tu_daemon_start ("--cache-size", cache_size, NULL);
  gsize size = 8 * MiB;
  g_autofree guint8 *big = tu_put_seeded (d, "big", 10, size);
  int fd;

  put (d, "small", "small\n");
  for (guint i = 0; i < 3; i++)
    {
      g_autofree guint8 *head = NULL;

      fd = tu_connect (d->port);
      tu_send_str (fd, "GET big\n");
      head = tu_read_exact (fd, 4096);
      g_assert_cmpmem (head, 11, "OK 8388608\n", 11);
      close (fd);
    }
  fd = tu_connect (d->port);
  assert_get_str (fd, "small", "small\n");
  tu_assert_get (fd, "big", big, size);
  close (fd);
  tu_daemon_stop (d);
}

static void
test_disconnect_mid_transfer_streamed (void)
{
  abandon_transfers ("64K");
}

static void
test_disconnect_mid_transfer_cached (void)
{
  abandon_transfers ("64M");
}

/* ---- command line and signals ---- */

static void
assert_daemon_refuses (const char *const *options, const char *root,
                       const char *mentioned)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) g_getenv ("FILECACHED"));
  g_ptr_array_add (argv, "--no-dbus");
  g_ptr_array_add (argv, "--host");
  g_ptr_array_add (argv, "127.0.0.1");
  for (gsize i = 0; options[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) options[i]);
  g_ptr_array_add (argv, (gpointer) root);
  g_ptr_array_add (argv, NULL);

  status = tu_run ((const char *const *) argv->pdata, 10, NULL, &err);
  g_assert_cmpint (status, >, 0);
  g_assert_cmpstr (g_strstrip (err), !=, "");
  if (mentioned != NULL && strstr (err, mentioned) == NULL)
    g_error ("stderr does not mention \"%s\": %s", mentioned, err);
}

static void
test_cli_missing_dir (void)
{
  const char *options[] = { "--port", "0", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("filecached-test-XXXXXX", &error);
  g_autofree char *missing = g_build_filename (base, "no-such-dir", NULL);

  g_assert_no_error (error);
  assert_daemon_refuses (options, missing, "no-such-dir");
  tu_rm_rf (base);
}

static void
test_cli_dir_is_file (void)
{
  const char *options[] = { "--port", "0", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("filecached-test-XXXXXX", &error);
  g_autofree char *file = g_build_filename (base, "plain-file", NULL);

  g_assert_no_error (error);
  tu_write_file_str (base, "plain-file", "x");
  assert_daemon_refuses (options, file, "plain-file");
  tu_rm_rf (base);
}

typedef struct {
  const char *path;
  const char *options[4];
} BadOption;

static const BadOption bad_options[] = {
  { "/server/cli/bad-port", { "--port", "abc", NULL } },
  { "/server/cli/port-out-of-range", { "--port", "70000", NULL } },
  { "/server/cli/bad-cache-size", { "--port", "0", "--cache-size", "12Q" } },
  { "/server/cli/negative-cache-size", { "--port", "0", "--cache-size", "-1" } },
  { "/server/cli/bad-max-clients", { "--port", "0", "--max-clients", "many" } },
  { "/server/cli/unknown-option", { "--port", "0", "--frobnicate", NULL } },
  /* Decimal only: GLib's own integer options would take these as hex. */
  { "/server/cli/hex-port", { "--port", "0x10", NULL } },
  { "/server/cli/hex-timeout", { "--port", "0", "--idle-timeout", "0x3c" } },
  { "/server/cli/zero-max-clients", { "--port", "0", "--max-clients", "0" } },
};

static void
test_cli_bad_option (gconstpointer data)
{
  const BadOption *bad = data;
  const char *options[5] = { NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("filecached-test-XXXXXX", &error);

  g_assert_no_error (error);
  memcpy (options, bad->options, sizeof bad->options);
  assert_daemon_refuses (options, base, NULL);
  tu_rm_rf (base);
}

static void
test_cli_version (void)
{
  const char *argv[] = { g_getenv ("FILECACHED"), "--version", NULL };
  g_autofree char *out = NULL;

  g_assert_cmpint (tu_run (argv, 10, &out, NULL), ==, 0);
  g_assert_cmpstr (g_strstrip (out), !=, "");
}

static void
test_signal_sigint (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  int fd = tu_connect (d->port);

  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop_with (d, SIGINT);
}

/* An idle keep-alive client must not hold up shutdown. */
static void
test_signal_with_open_connection (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  int fd = tu_connect (d->port);

  tu_assert_ping (fd);
  tu_daemon_stop (d);
  g_assert_true (tu_wait_closed (fd, 5000, NULL));
  close (fd);
}

static gboolean
have_ipv6_loopback (void)
{
  int fd = socket (AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  return ok;
}

/* Both loopbacks, each asked at once: a client may connect the moment the
 * port is printed, so every listener must be accepting by then. Several
 * rounds, as a startup race shows only some of the time. */
static void
test_listen_default_host (void)
{
  const char *no_args[] = { NULL };

  if (!have_ipv6_loopback ())
    {
      g_test_skip ("no IPv6 loopback here");
      return;
    }
  for (guint round = 0; round < 5; round++)
    {
      TuDaemon *d = tu_daemon_start_argv (no_args);
      int v4 = tu_connect_full ("127.0.0.1", d->port, 0);
      int v6 = tu_connect_full ("::1", d->port, 0);

      tu_assert_ping (v4);
      tu_assert_ping (v6);
      close (v4);
      close (v6);
      tu_daemon_stop (d);
    }
}

/* A supervisor may stop the daemon as soon as it has announced its port. */
static void
test_signal_right_after_start (void)
{
  for (guint round = 0; round < 10; round++)
    tu_daemon_stop (tu_daemon_start (NULL));
}

/* In a child of the test (so that the daemon's stops are told to it, not
 * to GLib's child watch, which would take one for an exit): stops the
 * thread @tid alone, says 1 on @done (0 when ptrace is not allowed
 * here), and lets it go on once @go is written or closed.
 * Async-signal-safe calls only, as in any child of a threaded process. */
static void G_GNUC_NORETURN
hold_thread (pid_t tid,
             int   done,
             int   go)
{
  char byte = 1;
  int status;

  if (ptrace (PTRACE_SEIZE, tid, NULL, NULL) != 0 ||
      ptrace (PTRACE_INTERRUPT, tid, NULL, NULL) != 0 ||
      waitpid (tid, &status, __WALL) != tid)
    byte = 0;
  if (write (done, &byte, 1) != 1 || read (go, &byte, 1) < 0)
    byte = 0;
  ptrace (PTRACE_DETACH, tid, NULL, NULL);
  _exit (0);
}

/* The workers accept, not the main thread: a new connection is served,
 * over either dialect, while the main thread (whose thread id is the
 * process's) is stopped. */
static void
test_accept_without_main_thread (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  pid_t pid = (pid_t) atoi (g_subprocess_get_identifier (d->proc));
  int done[2];
  int go[2];
  pid_t holder;
  char held = 0;
  int fd;

  g_assert_cmpint (pipe (done), ==, 0);
  g_assert_cmpint (pipe (go), ==, 0);
  holder = fork ();
  g_assert_cmpint (holder, >=, 0);
  if (holder == 0)
    {
      close (go[1]);
      hold_thread (pid, done[1], go[0]);
    }
  close (done[1]);
  close (go[0]);
  g_assert_cmpint (read (done[0], &held, 1), ==, 1);

  if (held)
    {
      fd = tu_connect (d->port);
      tu_assert_ping (fd);
      close (fd);
      fd = tu_connect (d->port);
      tu_send_str (fd, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
      {
        g_autoptr(TuHttpResponse) r = tu_http_read_response (fd, FALSE);

        g_assert_cmpint (r->status, ==, 404);
      }
      close (fd);
    }
  close (go[1]);
  close (done[0]);
  g_assert_cmpint (waitpid (holder, NULL, 0), ==, holder);
  tu_daemon_stop (d);
  if (!held)
    g_test_skip ("ptrace is not allowed here");
}

/* The thread ids of the daemon @pid's workers, by their names. */
static GArray *
worker_tids (pid_t pid)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  GArray *tids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  const char *entry;

  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm_path = g_strdup_printf ("%s/%s/comm", dir_path, entry);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (comm_path, &comm, NULL, NULL) &&
          g_str_has_prefix (comm, "fc-worker-"))
        {
          pid_t tid = (pid_t) atoi (entry);

          g_array_append_val (tids, tid);
        }
    }
  return tids;
}

/* How many of @fds answer a PING within @timeout_ms, all asked at once. */
static guint
count_answering (const int *fds, guint n, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_autofree gboolean *answered = g_new0 (gboolean, n);
  guint count = 0;

  for (guint i = 0; i < n; i++)
    tu_send_str (fds[i], "PING\n");
  while (count < n && g_get_monotonic_time () < deadline)
    {
      g_autofree struct pollfd *pfds = g_new0 (struct pollfd, n);

      for (guint i = 0; i < n; i++)
        {
          pfds[i].fd = answered[i] ? -1 : fds[i];
          pfds[i].events = POLLIN;
        }
      if (poll (pfds, n, 50) <= 0)
        continue;
      for (guint i = 0; i < n; i++)
        if (pfds[i].revents & POLLIN)
          {
            g_autofree char *line = tu_read_line (fds[i]);

            g_assert_cmpstr (line, ==, "OK PONG\n");
            answered[i] = TRUE;
            count++;
          }
    }
  return count;
}

/* Connections opened one after another wake whichever worker sleeps
 * first on the listening socket: a worker over its share of them stops
 * accepting (worker_balance()), so each of two workers serves some.
 * Seen by stopping each worker in turn: the connections that still
 * answer are the other's. */
static void
test_accept_spread (void)
{
  enum { N = 40 };
  TuDaemon *d = tu_daemon_start ("--threads", "2", NULL);
  pid_t pid = (pid_t) atoi (g_subprocess_get_identifier (d->proc));
  g_autoptr(GArray) tids = NULL;
  gboolean held = TRUE;

  for (guint w = 0; w < 2 && held; w++)
    {
      int fds[N];
      int done[2];
      int go[2];
      pid_t holder;
      char byte = 0;

      for (guint i = 0; i < N; i++)
        {
          fds[i] = tu_connect (d->port);
          tu_assert_ping (fds[i]);
        }
      /* Named by the threads themselves, so only once they have run. */
      if (tids == NULL)
        tids = worker_tids (pid);
      g_assert_cmpuint (tids->len, ==, 2);
      g_assert_cmpint (pipe (done), ==, 0);
      g_assert_cmpint (pipe (go), ==, 0);
      holder = fork ();
      g_assert_cmpint (holder, >=, 0);
      if (holder == 0)
        {
          close (go[1]);
          hold_thread (g_array_index (tids, pid_t, w), done[1], go[0]);
        }
      close (done[1]);
      close (go[0]);
      g_assert_cmpint (read (done[0], &byte, 1), ==, 1);
      held = byte != 0;
      if (held)
        {
          guint others = count_answering (fds, N, 2000);

          g_test_message ("worker %u held: %u of %u connections answered", w, others, N);
          /* Over share + 8 + share / 8 (share = N / 2) a worker stops
           * accepting: each serves at most 31 of 40. */
          g_assert_cmpuint (others, >=, 8);
          g_assert_cmpuint (others, <=, N - 8);
        }
      close (go[1]);
      close (done[0]);
      g_assert_cmpint (waitpid (holder, NULL, 0), ==, holder);
      for (guint i = 0; i < N; i++)
        close (fds[i]);
    }
  tu_daemon_stop (d);
  if (!held)
    g_test_skip ("ptrace is not allowed here");
}

/* Under a low limit on open files, threads that would hold most of it
 * are fewer, with a warning, and max-clients leaves them what they hold:
 * each client admitted is served, the next refused with ERR 503, never
 * left without a reply by an accept() out of descriptors. */
static void
test_fd_limit_threads (void)
{
  enum { LIMIT = 256 };
  TuDaemon *d;
  g_autofree char *warning = NULL;
  g_autofree char *serving = NULL;
  g_autoptr(GPtrArray) fds = g_ptr_array_new ();
  guint clients = 0;
  guint threads = 0;
  const char *at;

  tu_daemon_set_nofile (LIMIT);
  d = tu_daemon_start_logged ("--threads", "100", NULL);
  tu_daemon_set_nofile (0);

  warning = tu_daemon_await_stderr (d, "threads 100 needs more open files");
  serving = tu_daemon_await_stderr (d, "Serving");
  at = strstr (serving, "at most ");
  g_assert_nonnull (at);
  g_assert_cmpint (sscanf (at, "at most %u clients, %u threads", &clients, &threads), ==, 2);
  g_assert_cmpuint (threads, <, 100);
  g_assert_cmpuint (clients, >=, 1);
  /* The reserve (128), 4 per worker, 2 per bulk sender, 2 per client. */
  g_assert_cmpuint (128 + 4 * threads + 2 * g_get_num_processors () + 2 * clients, <=, LIMIT);

  for (guint i = 0; i < clients; i++)
    {
      int fd = tu_connect (d->port);

      tu_assert_ping (fd);
      g_ptr_array_add (fds, GINT_TO_POINTER (fd));
    }
  {
    int fd = tu_connect (d->port);
    g_autofree char *line = tu_read_line (fd);

    tu_assert_err (line, "503");
    close (fd);
  }
  for (guint i = 0; i < fds->len; i++)
    close (GPOINTER_TO_INT (g_ptr_array_index (fds, i)));
  tu_daemon_stop (d);
}

/* A limit on open files too low to serve one client is said at once, by
 * its figure, and the daemon does not start: it used to start, then die
 * in GLib (SIGTRAP) on its first connection. */
static void
test_fd_limit_too_low (void)
{
  const char *options[] = { "--port", "0", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("filecached-test-XXXXXX", &error);

  g_assert_no_error (error);
  tu_daemon_set_nofile (16);
  assert_daemon_refuses (options, root, "limit on open files (16)");
  tu_daemon_set_nofile (0);
  tu_rm_rf (root);
}

/* A turn that ends with a request half received (its budget spent on a
 * reply of more than FC_TURN_BYTES, or on FC_TURN_REQUESTS requests)
 * keeps that half for the next. Its request timeout ran from the
 * connection's first partial line: the next turn found it expired and
 * closed the connection, its reply unread (a reset: the client lost
 * the first reply too). Both replies now come, whole and in order. */
static void
test_pipeline_partial_after_yield (void)
{
  TuDaemon *d = tu_daemon_start (NULL);
  gsize big_len = 2 * 1000 * 1000;
  g_autofree guint8 *big = g_malloc (big_len);

  for (gsize i = 0; i < big_len; i++)
    big[i] = (guint8) (i * 7 + i / 251);
  tu_write_file (d->root, "big", big, big_len);
  tu_write_file_str (d->root, "small", "small\n");

  /* After a reply past the turn's bytes. */
  for (guint http = 0; http < 2; http++)
    {
      int fd = tu_connect (d->port);

      if (http)
        {
          g_autoptr(TuHttpResponse) first = NULL;
          g_autoptr(TuHttpResponse) second = NULL;

          tu_send_str (fd, "GET /big HTTP/1.1\r\nHost: h\r\n\r\nGET /sm");
          g_usleep (50 * 1000);
          tu_send_str (fd, "all HTTP/1.1\r\nHost: h\r\n\r\n");
          first = tu_http_read_response (fd, FALSE);
          g_assert_cmpuint (first->status, ==, 200);
          g_assert_cmpmem (first->body, first->body_len, big, big_len);
          second = tu_http_read_response (fd, FALSE);
          g_assert_cmpmem (second->body, second->body_len, "small\n", 6);
        }
      else
        {
          tu_send_str (fd, "GET big\nGET sm");
          g_usleep (50 * 1000);
          tu_send_str (fd, "all\n");
          tu_assert_get_reply (fd, big, big_len);
          tu_assert_get_reply (fd, "small\n", 6);
        }
      close (fd);
    }

  /* After a turn's worth of requests. */
  {
    int fd = tu_connect (d->port);
    g_autoptr(GString) lines = g_string_new (NULL);

    for (guint i = 0; i < 64; i++)
      g_string_append (lines, "GET small\n");
    g_string_append (lines, "GET sm");
    tu_send_str (fd, lines->str);
    g_usleep (50 * 1000);
    tu_send_str (fd, "all\n");
    for (guint i = 0; i < 65; i++)
      tu_assert_get_reply (fd, "small\n", 6);
    close (fd);
  }

  tu_daemon_stop (d);
}

int
main (int argc, char **argv)
{
  tu_init (&argc, &argv);

  tu_add ("/server/get/small", NULL, test_get_small);
  tu_add ("/server/get/empty-file", NULL, test_get_empty_file);
  tu_add ("/server/get/binary", NULL, test_get_binary);
  tu_add ("/server/get/name-trailing-space", "hello.txt ", test_get_name_with_space);
  tu_add ("/server/get/name-leading-space", " hello.txt", test_get_name_with_space);
  tu_add ("/server/get/name-not-trimmed", NULL, test_get_name_only_spaces_missing);
  tu_add ("/server/get/crlf", NULL, test_get_crlf);
  tu_add ("/server/get/subdir", NULL, test_get_subdir);
  tu_add ("/server/get/utf8-name", NULL, test_get_utf8_name);
  tu_add ("/server/get/name-4000-bytes", NULL, test_get_name_4000_bytes);
  tu_add ("/server/get/big-cached", NULL, test_big_cached);
  g_test_add_func ("/server/get/big-streamed", test_big_streamed);
  g_test_add_func ("/server/pipeline/partial-after-yield", test_pipeline_partial_after_yield);
  g_test_add_func ("/server/get/big-streamed-rewritten", test_big_streamed_rewritten);

  tu_add ("/server/ping", NULL, test_ping);
  tu_add ("/server/quit", NULL, test_quit);
  tu_add ("/server/list/empty", NULL, test_list_empty);
  tu_add ("/server/list/format-mru-first", NULL, test_list_format_mru_first);
  tu_add ("/server/list/hits", NULL, test_list_hits);
  g_test_add_func ("/server/list/bigger-than-cache", test_list_bigger_than_cache);
  g_test_add_func ("/server/list/evicts-to-capacity", test_list_evicts_to_capacity);

  for (gsize i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    g_test_add_data_func (bad_requests[i].path, &bad_requests[i], test_bad_request);
  tu_add ("/server/error/400/name-4001-bytes", NULL, test_bad_name_4001_bytes);
  tu_add ("/server/error/403/directory", NULL, test_forbidden_directory);
  tu_add ("/server/error/403/fifo", NULL, test_forbidden_fifo);
  tu_add ("/server/error/403/fifo-writer-waits", NULL, test_forbidden_fifo_writer_waits);
  for (gsize i = 0; i < G_N_ELEMENTS (escapes); i++)
    tu_add (escapes[i].path, &escapes[i], test_forbidden_escape);
  tu_add ("/server/error/403/symlink-chain-outside", NULL, test_forbidden_symlink_chain);
  g_test_add_func ("/server/error/403/unreadable", test_forbidden_unreadable);
  tu_add ("/server/error/404/missing", NULL, test_not_found);
  tu_add ("/server/error/414/line-4095-accepted", NULL, test_line_4095_accepted);
  tu_add ("/server/error/414/line-4094-crlf-accepted", NULL, test_line_4094_crlf_accepted);
  tu_add ("/server/error/414/line-4096-closes", NULL, test_line_4096_too_long);
  tu_add ("/server/error/414/limit-per-line", NULL, test_line_limit_pipelined);
  tu_add ("/server/error/414/after-pipelined-request", NULL, test_line_too_long_after_request);
  g_test_add_func ("/server/error/503/max-clients", test_max_clients);
  g_test_add_func ("/server/error/503/fd-limit-threads", test_fd_limit_threads);
  g_test_add_func ("/server/error/fd-limit-too-low", test_fd_limit_too_low);

  tu_add ("/server/get/pipelined-in-order", NULL, test_pipeline_in_order);
  tu_add ("/server/symlink/inside-root", NULL, test_symlink_inside);
  tu_add ("/server/symlink/out-and-back", NULL, test_symlink_out_and_back);
  g_test_add_func ("/server/concurrency/clients-while-evicting",
                   test_concurrent_clients_evicting);

  tu_add ("/server/freshness/atomic-replace", &by_rename, test_fresh_versions);
  tu_add ("/server/freshness/rewrite-in-place", &in_place, test_fresh_versions);
  tu_add ("/server/freshness/delete", NULL, test_fresh_delete);
  tu_add ("/server/freshness/replaced-by-escaping-symlink", NULL,
          test_fresh_replaced_by_escaping_symlink);
  tu_add ("/server/freshness/moved-out-linked-back", NULL, test_fresh_moved_out_linked_back);
  tu_add ("/server/freshness/moved-out-listed", NULL, test_fresh_moved_out_listed);
  tu_add ("/server/freshness/trusted/mapped-write", NULL, test_fresh_trusted_mapped_write);
  tu_add ("/server/freshness/trusted/outside-link", NULL, test_fresh_trusted_outside_link);
  tu_add ("/server/freshness/trusted/truncated", NULL, test_fresh_trusted_truncated);
  tu_add ("/server/freshness/trusted/moved-out", NULL, test_fresh_trusted_moved_out);

  g_test_add_func ("/server/timeout/partial-line", test_timeout_partial_line);
  g_test_add_func ("/server/timeout/trickled-line", test_timeout_trickled_line);
  g_test_add_func ("/server/timeout/split-line-completes", test_timeout_split_line_completes);
  g_test_add_func ("/server/timeout/idle", test_timeout_idle);
  g_test_add_func ("/server/timeout/active-stays-open", test_timeout_active_stays_open);
  g_test_add_func ("/server/timeout/idle-after-queued-reply", test_timeout_idle_after_queued_reply);
  g_test_add_func ("/server/timeout/send-after-queued-reply", test_timeout_send_after_queued_reply);
  g_test_add_func ("/server/timeout/request-behind-long-reply", test_timeout_request_behind_long_reply);
  g_test_add_func ("/server/timeout/send-streamed", test_send_timeout_streamed);
  g_test_add_func ("/server/timeout/send-cached", test_send_timeout_cached);
  g_test_add_func ("/server/timeout/send-slow-reader", test_send_timeout_slow_reader);
  g_test_add_func ("/server/disconnect/mid-transfer-streamed",
                   test_disconnect_mid_transfer_streamed);
  g_test_add_func ("/server/disconnect/mid-transfer-cached",
                   test_disconnect_mid_transfer_cached);

  g_test_add_func ("/server/cli/missing-dir", test_cli_missing_dir);
  g_test_add_func ("/server/cli/dir-is-file", test_cli_dir_is_file);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_options); i++)
    g_test_add_data_func (bad_options[i].path, &bad_options[i], test_cli_bad_option);
  g_test_add_func ("/server/cli/version", test_cli_version);
  g_test_add_func ("/server/signal/sigint", test_signal_sigint);
  g_test_add_func ("/server/signal/with-open-connection", test_signal_with_open_connection);
  g_test_add_func ("/server/signal/right-after-start", test_signal_right_after_start);
  g_test_add_func ("/server/accept/without-main-thread", test_accept_without_main_thread);
  g_test_add_func ("/server/accept/spread", test_accept_spread);
  g_test_add_func ("/server/listen/default-host", test_listen_default_host);

  return g_test_run ();
}
