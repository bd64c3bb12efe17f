/* Large replies leave their worker (README, "A turn has a budget"; the
 * bulk senders): the real daemon with one worker thread, and a body whose
 * file reads past 4 MiB are held by tests/stall-preload.c for as long as
 * the test keeps "stall.hold". Whichever thread sends that part of the
 * body is held with it; what else is answered meanwhile tells which.
 * Nothing here is timed. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutil.h"
#include "thread-sched.h"

#define MiB (G_GUINT64_CONSTANT (1024) * 1024)
/* Larger than FC_BULK_BODY_MIN (4 MiB), where the stall begins. */
#define STALL_SIZE (16 * MiB)

/* Starts a daemon with tests/stall-preload.c, --threads 1 and a cache
 * too small for STALL_SIZE, so that the file is streamed through
 * pread(). */
static TuDaemon *
start_stalling (void)
{
  char *saved_asan = tu_preload_begin ("STALL_PRELOAD");
  TuDaemon *d = tu_daemon_start ("--threads", "1", "--cache-size", "1M", NULL);

  tu_preload_end (saved_asan);
  return d;
}

/* Holds the reads of "stall" past 4 MiB from now on. */
static void
hold (TuDaemon *d)
{
  g_autofree char *path = tu_daemon_path (d, "stall.hold");

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
}

static void
release (TuDaemon *d)
{
  g_autofree char *path = tu_daemon_path (d, "stall.hold");

  g_assert_cmpint (g_unlink (path), ==, 0);
}

/* Reads what comes on @fd into @got until the daemon's read of "stall"
 * past 4 MiB is held (the preload says so with "stall.held"): the
 * thread sending the body waits there from now on. */
static void
read_until_held (TuDaemon   *d,
                 int         fd,
                 GByteArray *got)
{
  g_autofree char *held = tu_daemon_path (d, "stall.held");
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  guint8 buf[64 * 1024];

  while (!g_file_test (held, G_FILE_TEST_EXISTS))
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (poll (&p, 1, 10) == 1)
        {
          ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

          g_assert_cmpint (n, >, 0);
          g_byte_array_append (got, buf, (guint) n);
        }
    }
}

/* Reads the rest of `OK <size>` and @content after @got, already read. */
static void
assert_rest_of_get (int           fd,
                    GByteArray   *got,
                    const guint8 *content,
                    gsize         size)
{
  g_autofree char *status = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", size);
  gsize head = strlen (status);
  g_autofree guint8 *rest = NULL;

  /* The socket's buffers may hold the MiBs before the hold: nothing
   * read yet is no sign of anything. */
  g_assert_cmpuint (got->len, <, head + size);
  rest = tu_read_exact (fd, head + size - got->len);
  g_byte_array_append (got, rest, (guint) (head + size - got->len));
  g_assert_cmpmem (got->data, head, status, head);
  g_assert_cmpmem (got->data + head, size, content, size);
}

/* The processors the daemon may run on, as it counts them. */
static guint
processors (void)
{
  cpu_set_t set;

  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    return (guint) CPU_COUNT (&set);
  return g_get_num_processors ();
}

/* The ids of the daemon's threads named @prefix... */
static GArray *
thread_ids (TuDaemon   *d,
            const char *prefix)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/task", g_subprocess_get_identifier (d->proc));
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  const char *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm_path = g_build_filename (path, tid, "comm", NULL);
      g_autofree char *comm = NULL;
      pid_t id = (pid_t) atoi (tid);

      if (g_file_get_contents (comm_path, &comm, NULL, NULL) && g_str_has_prefix (comm, prefix))
        g_array_append_val (ids, id);
    }
  return ids;
}

/* The nice value of the daemon's thread @tid. */
static int
thread_nice (TuDaemon *d,
             pid_t     tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/task/%d/stat", g_subprocess_get_identifier (d->proc), (int) tid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;

  /* Field 19 is the nice value; the name (field 2) has no space. */
  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  fields = g_strsplit (stat, " ", 0);
  g_assert_cmpuint (g_strv_length (fields), >, 19);
  return atoi (fields[18]);
}

/* How many of the daemon's threads named @prefix... run at nice @nice
 * (and, when @slice is not 0, with that time slice); how many there are
 * in @n. */
static guint
count_threads (TuDaemon   *d,
               const char *prefix,
               int         nice,
               guint64     slice,
               guint      *n)
{
  g_autoptr(GArray) ids = thread_ids (d, prefix);
  guint matching = 0;

  for (guint i = 0; i < ids->len; i++)
    {
      pid_t tid = g_array_index (ids, pid_t, i);

      if (thread_nice (d, tid) == nice && (slice == 0 || fc_thread_slice (tid) == slice))
        matching++;
    }
  *n = ids->len;
  return matching;
}

/* Waits until the daemon has @senders bulk senders and @workers workers,
 * each at the nice value it started with (this test's: `nice -n 19 meson
 * test` runs it all at 19), with the time slice of their kind when @slices (each
 * thread names itself, and asks for its slice, once it runs); asserts it
 * once it is so or the time is up. */
static void
assert_threads (TuDaemon *d,
                guint     senders,
                guint     workers,
                gboolean  slices)
{
  gint64 deadline = g_get_monotonic_time () + TU_IO_TIMEOUT_S * G_USEC_PER_SEC;
  guint64 sender_slice = slices ? FC_THREAD_BULK_SLICE_NS : 0;
  guint64 worker_slice = slices ? FC_THREAD_WORKER_SLICE_NS : 0;
  int nice = getpriority (PRIO_PROCESS, 0);
  guint n_senders, n_workers, senders_ok, workers_ok;

  for (;;)
    {
      senders_ok = count_threads (d, "fc-bulk-", nice, sender_slice, &n_senders);
      workers_ok = count_threads (d, "fc-worker-", nice, worker_slice, &n_workers);
      if ((n_senders == senders && senders_ok == senders && n_workers == workers && workers_ok == workers) ||
          g_get_monotonic_time () > deadline)
        break;
      g_usleep (10 * 1000);
    }
  g_assert_cmpuint (n_senders, ==, senders);
  g_assert_cmpuint (senders_ok, ==, senders);
  g_assert_cmpuint (n_workers, ==, workers);
  g_assert_cmpuint (workers_ok, ==, workers);
}

/* Fixed at start, whatever --threads says: one bulk sender per
 * processor; senders and workers at the daemon's own nice, the senders
 * not lowered as long work is. */
static void
test_threads (void)
{
  TuDaemon *d = tu_daemon_start ("--threads", "3", NULL);

  assert_threads (d, processors (), 3, FALSE);
  tu_daemon_stop (d);
}

static gpointer
slice_kept (gpointer data G_GNUC_UNUSED)
{
  fc_thread_sched_enter (FC_THREAD_WORKER);
  return GINT_TO_POINTER (fc_thread_slice (0) == FC_THREAD_WORKER_SLICE_NS);
}

/* Workers ask for the shortest time slice, bulk senders for a long one
 * (src/thread-sched.c): a worker woken by a request goes before a
 * sender, or any thread of the default slice, that is running. Only on
 * a kernel that keeps a slice asked for (Linux 6.12 on), as a thread of
 * this test finds out. */
static void
test_slices (void)
{
  TuDaemon *d;

  if (!GPOINTER_TO_INT (g_thread_join (g_thread_new ("slice-probe", slice_kept, NULL))))
    {
      g_test_skip ("this kernel keeps no time slice a thread asks for (Linux 6.12 on)");
      return;
    }
  d = tu_daemon_start ("--threads", "2", NULL);
  assert_threads (d, processors (), 2, TRUE);
  tu_daemon_stop (d);
}

/* A stalled daemon, "stall" of @seed in its root, connection a holding
 * the body of `GET stall` with a PING pipelined behind it, c idle. */
typedef struct {
  TuDaemon *d;
  guint8 *content; /* (owned) */
  GByteArray *got; /* (owned): what a has read of the reply */
  int a;
  int c;
} Held;

static void
held_start (Held *h, guint32 seed)
{
  h->d = start_stalling ();
  h->content = tu_put_seeded (h->d, "stall", seed, STALL_SIZE);
  h->got = g_byte_array_new ();
  h->a = tu_connect (h->d->port);
  h->c = tu_connect (h->d->port);

  tu_assert_ping (h->c);
  hold (h->d);
  tu_send_str (h->a, "GET stall\nPING\n");
  read_until_held (h->d, h->a, h->got);
}

/* Releases the body: it arrives whole on a, then the PING's answer. */
static void
held_release (Held *h)
{
  g_autofree char *pong = NULL;

  release (h->d);
  assert_rest_of_get (h->a, h->got, h->content, STALL_SIZE);
  pong = tu_read_line (h->a);
  g_assert_cmpstr (pong, ==, "OK PONG\n");
}

static void
held_clear (Held *h)
{
  close (h->a);
  close (h->c);
  g_byte_array_unref (h->got);
  g_free (h->content);
}

/* While the body of a large reply is held past 4 MiB, a PING on another
 * connection of the same (only) worker is answered: the body is no
 * longer that worker's to send. Once released, the body arrives whole
 * and the PING pipelined behind it comes after it, from the worker
 * again; the connection goes on as usual. */
static void
test_ping_while_held (void)
{
  Held h;

  held_start (&h, 3);
  tu_assert_ping (h.c);
  held_release (&h);
  tu_assert_ping (h.a);
  tu_assert_get (h.a, "stall", h.content, STALL_SIZE);
  held_clear (&h);
  tu_daemon_stop (h.d);
}

/* SIGTERM while a large body is held: the worker closes its idle
 * connection at once (it is free), the held reply ends whole once
 * released, and the PING pipelined behind it (received before the stop)
 * is answered before the orderly close; the daemon exits 0. */
static void
test_drain_while_held (void)
{
  Held h;

  held_start (&h, 4);
  g_subprocess_send_signal (h.d->proc, SIGTERM);
  tu_expect_eof (h.c);
  held_release (&h);
  tu_expect_eof (h.a);
  held_clear (&h);
  g_assert_cmpint (tu_daemon_finish (h.d, 0, TU_IO_TIMEOUT_S, NULL), ==, 0);
}

/* Reads an HTTP response head; returns its Content-Length. */
static gsize
read_http_head (int fd)
{
  gsize length = G_MAXSIZE;
  g_autofree char *status = tu_read_line (fd);

  g_assert_cmpstr (status, ==, "HTTP/1.1 200 OK\r\n");
  for (;;)
    {
      g_autofree char *line = tu_read_line (fd);

      g_assert_nonnull (line);
      if (g_str_equal (line, "\r\n"))
        break;
      if (g_ascii_strncasecmp (line, "Content-Length: ", strlen ("Content-Length: ")) == 0)
        length = (gsize) g_ascii_strtoull (line + strlen ("Content-Length: "), NULL, 10);
    }
  g_assert_cmpuint (length, !=, G_MAXSIZE);
  return length;
}

static void
assert_http_body (int           fd,
                  const guint8 *content,
                  gsize         size)
{
  g_autofree guint8 *body = NULL;

  g_assert_cmpuint (read_http_head (fd), ==, size);
  body = tu_read_exact (fd, size);
  g_assert_cmpmem (body, size, content, size);
}

/* Reads the rest of a 200 response with @content after @got, already
 * read: its head and part of its body. */
static void
assert_rest_of_http (int           fd,
                     GByteArray   *got,
                     const guint8 *content,
                     gsize         size)
{
  const char *end;
  g_autofree char *length = g_strdup_printf ("\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n", size);
  g_autofree char *head = NULL;
  g_autofree guint8 *rest = NULL;
  gsize head_len;

  /* The head may not have been read yet (see assert_rest_of_get()). */
  while (got->len == 0 || (end = g_strstr_len ((const char *) got->data, got->len, "\r\n\r\n")) == NULL)
    {
      g_autofree guint8 *byte = tu_read_exact (fd, 1);

      g_byte_array_append (got, byte, 1);
    }
  head_len = (gsize) (end - (const char *) got->data) + 4;
  head = g_strndup ((const char *) got->data, head_len);
  g_assert_true (g_str_has_prefix (head, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (head, length));
  g_assert_cmpuint (got->len, <, head_len + size);
  rest = tu_read_exact (fd, head_len + size - got->len);
  g_byte_array_append (got, rest, (guint) (head_len + size - got->len));
  g_assert_cmpmem (got->data + head_len, size, content, size);
}

/* HTTP keep-alive, pipelined: a large body held past 4 MiB, a small file
 * behind it, the large one again and a small one: while the first is
 * held, another connection of the same worker is answered; then all four
 * come whole and in order. */
static void
test_http_pipelined (void)
{
  TuDaemon *d = start_stalling ();
  g_autofree guint8 *content = tu_put_seeded (d, "stall", 5, STALL_SIZE);
  g_autofree guint8 *small = tu_put_seeded (d, "small", 6, 100);
  g_autoptr(GByteArray) got = g_byte_array_new ();
  int a = tu_connect (d->port);
  int c = tu_connect (d->port);

  tu_assert_ping (c);
  hold (d);
  tu_send_str (a, "GET /stall HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /small HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /stall HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /small HTTP/1.1\r\nHost: t\r\n\r\n");
  read_until_held (d, a, got);
  tu_assert_ping (c);
  release (d);

  assert_rest_of_http (a, got, content, STALL_SIZE);
  assert_http_body (a, small, 100);
  assert_http_body (a, content, STALL_SIZE);
  assert_http_body (a, small, 100);
  close (a);
  close (c);
  tu_daemon_stop (d);
}

int
main (int argc, char *argv[])
{
  tu_init (&argc, &argv);
  g_test_add_func ("/bulk/threads", test_threads);
  g_test_add_func ("/bulk/slices", test_slices);
  g_test_add_func ("/bulk/ping-while-held", test_ping_while_held);
  g_test_add_func ("/bulk/drain-while-held", test_drain_while_held);
  g_test_add_func ("/bulk/http-pipelined", test_http_pipelined);
  return g_test_run ();
}
