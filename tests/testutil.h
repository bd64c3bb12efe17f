/* Helpers shared by the integration suites: they start the real built
 * daemon over a temporary directory and talk to it over plain blocking
 * sockets, so a test sees exactly the bytes a client would see. */
#pragma once

#include <gio/gio.h>
#include <sys/resource.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Every blocking socket read gives up after this long, so a daemon bug
 * fails one test instead of hanging the whole suite. */
#define TU_IO_TIMEOUT_S 20

typedef struct {
  GSubprocess *proc; /* (owned) */
  char *base;        /* (owned): temporary directory holding root */
  char *root;        /* (owned): the directory the daemon serves */
  guint16 port;
} TuDaemon;

void tu_init (int *argc, char ***argv);
void tu_start_bus_watcher (void);

/* Starts the daemon on 127.0.0.1 with a free port, `--no-dbus`, the given
 * extra options (NULL-terminated) and a fresh empty root; aborts the test
 * if it does not report its port. */
TuDaemon *tu_daemon_start (const char *first_arg, ...);
/* Same, with @args given as is: no `--host` is added. */
TuDaemon *tu_daemon_start_argv (const char *const *args);
/* The hard and soft limit on open files of the daemons started, and of
 * the programs tu_run() runs, from now on (set in the child, before
 * exec); 0: the test's own. */
void tu_daemon_set_nofile (rlim_t nofile);
void tu_daemon_set_fsize (rlim_t bytes);
/* Like tu_daemon_start(), with its stderr kept for
 * tu_daemon_read_stderr_line() and tu_daemon_finish(). */
TuDaemon *tu_daemon_start_logged (const char *first_arg, ...);
/* Like tu_daemon_start(), but with D-Bus: the daemon owns its name on the
 * session bus at @bus_address, or (NULL) on the test's own, as GTestDBus
 * sets it. Its stderr is kept for tu_daemon_read_stderr_line() and
 * tu_daemon_finish(). @args: (nullable): extra options, NULL-terminated. */
TuDaemon *tu_daemon_start_dbus (const char *bus_address, const char *const *args);
/* (transfer full) (nullable): the next line of a kept stderr, LF stripped;
 * NULL at EOF. Fails the test after @timeout_s. */
char *tu_daemon_read_stderr_line (TuDaemon *d, guint timeout_s);
/* (transfer full): the next line of a kept stderr containing @needle;
 * fails the test at EOF or after TU_IO_TIMEOUT_S without one. */
char *tu_daemon_await_stderr (TuDaemon *d, const char *needle);
/* Sends @signum (0: none), waits at most @timeout_s for the daemon to exit
 * and frees @d as tu_daemon_stop() does, asserting nothing about the exit.
 * Returns the exit status, or -1 if a signal killed it; @out_stderr gets
 * the rest of a kept stderr ("" if none was kept). */
int tu_daemon_finish (TuDaemon *d, int signum, guint timeout_s, char **out_stderr);
/* Sends @signum, asserts a clean exit (status 0), removes the directories. */
void tu_daemon_stop_with (TuDaemon *d, int signum);
void tu_daemon_stop (TuDaemon *d);
char *tu_daemon_path (TuDaemon *d, const char *name);
/* The daemon's thread count now, from /proc. */
guint tu_daemon_threads (TuDaemon *d);

/* The common case: a daemon with default options, one connection to it and
 * an empty directory beside the root for the client to write into. */
typedef struct {
  TuDaemon *d;
  int fd;
  char *out; /* (owned) */
} TuFixture;

void tu_fixture_setup (TuFixture *f, gconstpointer data);
void tu_fixture_teardown (TuFixture *f, gconstpointer data);

#define tu_add(path, data, func) \
  g_test_add (path, TuFixture, data, tu_fixture_setup, func, tu_fixture_teardown)

/* (transfer full): a launcher whose children are killed if the test dies,
 * for helpers (a bus daemon) that must not outlive a failed test. */
GSubprocessLauncher *tu_launcher_new (GSubprocessFlags flags);

/* Runs @argv to completion, capturing stdout and stderr; fails the test if
 * it runs longer than @timeout_s.  Returns the exit status, or -1 if the
 * process died from a signal. */
int tu_run (const char *const *argv, guint timeout_s,
            char **out_stdout, char **out_stderr);

/* (transfer full): deterministic pseudo-random bytes for @seed. */
guint8 *tu_make_content (guint32 seed, gsize len);
/* Writes @name (parents created) under @dir, replacing it in place. */
void tu_write_file (const char *dir, const char *name,
                    const void *data, gsize len);
/* Waits until the coarse clock, which stamps local files, has passed
 * the ctime of every file tu_write_file() wrote: the daemon caches a
 * version only once a change would stamp another ctime, and serves one
 * changed within the clock's current tick from disk. tu_send() and
 * tu_run() call it, so a test's first GET of a file it wrote loads it. */
void tu_wait_written (void);
/* Counts the file open on @fd, written by other means, for tu_wait_written(). */
void tu_note_written (int fd);
void tu_write_file_str (const char *dir, const char *name, const char *text);
/* (transfer full): writes @len bytes of tu_make_content (@seed) as @name
 * in @d's root and returns them. */
guint8 *tu_put_seeded (TuDaemon *d, const char *name, guint32 seed, gsize len);
/* Asserts that the file at @path holds exactly @data. */
void tu_assert_file_contents (const char *path, const void *data, gsize len);
void tu_rm_rf (const char *path);

int tu_connect (guint16 port);
/* The TCP state (TCP_ESTABLISHED...) of the other end of the loopback
 * connection @fd, looked up by its addresses (sock_diag), or -1 if the
 * kernel holds no such socket any more. Per socket: never a scan of the
 * host's socket table, whose cost depends on the rest of the machine. */
int tu_tcp_peer_state (int fd);
/* A socket listening on 127.0.0.1 on a port free until then, stored in
 * @port: closed at once, the port is one to hand to an option that has
 * no "pick one" (--metrics-port); kept, it is a port taken. */
int tu_listen_loopback (guint16 *port);
/* @rcvbuf > 0 sets SO_RCVBUF before connecting. */
int tu_connect_full (const char *address, guint16 port, int rcvbuf);
void tu_send (int fd, const void *data, gsize len);
void tu_send_str (int fd, const char *text);
/* (transfer full) (nullable): one line, LF included; NULL on EOF, reset
 * or timeout before a LF. */
char *tu_read_line (int fd);
/* Like tu_read_line() but gives up after @timeout_ms. */
char *tu_read_line_timeout (int fd, int timeout_ms);
/* (transfer full): asserts that exactly @len more bytes arrive. */
guint8 *tu_read_exact (int fd, gsize len);
/* Asserts the peer closed (EOF or reset) with no further bytes sent. */
void tu_expect_eof (int fd);
/* Reads into @buf (@size bytes) until the peer closes, the buffer is full
 * or a read fails; returns how many bytes came. */
gsize tu_recv_until_closed (int fd, guint8 *buf, gsize size);
/* Discards whatever arrives until the peer closes or @timeout_ms pass.
 * Returns whether it closed; stores the number of discarded bytes. */
gboolean tu_wait_closed (int fd, int timeout_ms, guint64 *out_discarded);

/* Asserts @line is `ERR <code> <non-empty text>` LF. */
void tu_assert_err (const char *line, const char *code);
/* Sends `GET name` and asserts the reply is `OK <len>` and @data. */
void tu_assert_get (int fd, const char *name, const void *data, gsize len);
/* Asserts the next reply on @fd is `OK <len>` and @data. */
void tu_assert_get_reply (int fd, const void *data, gsize len);
/* Sends `GET name`; returns the `ERR` line or fails on an `OK`. */
char *tu_get_err (int fd, const char *name);
void tu_assert_ping (int fd);
/* Connects until a PING is answered rather than refused with ERR 503
 * (the daemon frees a client's slot on its own schedule), for at most
 * @timeout_s; returns the connection served. */
int tu_connect_when_free (guint16 port, guint timeout_s);

typedef struct {
  guint64 size;
  guint64 hits;
  char *name; /* (owned) */
} TuListEntry;

/* (transfer full) (element-type TuListEntry): sends `LIST` and parses the
 * reply strictly. */
GPtrArray *tu_list (int fd);
/* The same for a reply to a `LIST` already sent. */
GPtrArray *tu_read_list (int fd);
/* (nullable) (transfer none) */
TuListEntry *tu_list_find (GPtrArray *entries, const char *name);

/* A local writer waiting on a FIFO: a thread blocked in open(O_WRONLY)
 * until some reader comes, which then writes a message. */
typedef struct _TuFifoWriter TuFifoWriter;

/* Returns once the thread is blocked in open() on the FIFO @path. */
TuFifoWriter *tu_fifo_writer_start (const char *path);
/* Comes as the reader, then asserts that no one came before (the writer
 * was still blocked) and that the message arrived whole. Frees @writer. */
void tu_fifo_writer_finish (TuFifoWriter *writer);

/* (transfer full): $ASAN_OPTIONS with @option added, for a child. */
char *tu_asan_options_with (const char *option);
/* For the processes started until tu_preload_end(): LD_PRELOAD is the
 * library in $@preload_var, and ASan accepts being loaded after it.
 * Returns (transfer full) (nullable) the ASAN_OPTIONS to put back. */
char *tu_preload_begin (const char *preload_var);
/* Puts back the environment tu_preload_begin() changed; frees @saved_asan. */
void tu_preload_end (char *saved_asan);

/* One HTTP/1.1 response as a client reads it. */
typedef struct {
  guint status;
  char *status_line;            /* (owned): without CR LF */
  GHashTable *fields;           /* (owned): lowercase name -> value; a field twice fails the test */
  guint n_fields;
  char *body;                   /* (owned) (nullable): body_len bytes, then a NUL */
  gsize body_len;
} TuHttpResponse;

void tu_http_response_free (TuHttpResponse *r);
/* Reads one response; its body by Content-Length unless @head_only or
 * the status has none (304). Fails the test on anything malformed. */
TuHttpResponse *tu_http_read_response (int fd, gboolean head_only);
TuHttpResponse *tu_http_refused_at_accept (TuDaemon *d, const char *request);
char tu_proc_state (const char *stat_path);
void tu_daemon_pause (TuDaemon *d);
void tu_daemon_resume (TuDaemon *d);
/* (nullable): the value of the field @name (lowercase). */
const char *tu_http_field (TuHttpResponse *r, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TuHttpResponse, tu_http_response_free)

G_END_DECLS
