/* The D-Bus control interface of DBUS.md, used the way an admin's tool
 * would use it. One private session bus (GTestDBus) serves the whole
 * program; every test starts its own daemon on it and checks what the
 * interface says against what TCP clients see. The names below are
 * DBUS.md's, spelled out rather than taken from the daemon's headers, so
 * that a renamed constant there shows here. */
#define G_LOG_DOMAIN "test"

#include "testutil.h"

#include <gio/gunixinputstream.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DAEMON_NAME "org.filecached.Daemon"
#define DAEMON_PATH "/org/filecached/Daemon"
#define DAEMON_IFACE "org.filecached.Cache1"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"
#define INVALID_ARGUMENT "org.filecached.Error.InvalidArgument"

/* Bounds for a slow, busy machine: they only decide how long a broken
 * daemon takes to fail a test, never whether a working one passes. */
#define WAIT_S 20
#define CALL_TIMEOUT_MS (WAIT_S * 1000)

#define KiB ((gsize) 1024)
#define MiB (1024 * KiB)
#define DEFAULT_CAPACITY (64 * MiB)

static GTestDBus *test_bus;

/* ---- the bus ---- */

/* A private connection per test, not the g_bus_get() singleton:
 * g_test_dbus_down() waits for the singleton to be finalized, and a
 * connection closed at each teardown leaves nothing behind. */
static GDBusConnection *
bus_connect_to (const char *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus;

  bus = g_dbus_connection_new_for_address_sync (address,
                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                NULL, NULL, &error);
  g_assert_no_error (error);
  return bus;
}

static GDBusConnection *
bus_connect (void)
{
  return bus_connect_to (g_test_dbus_get_bus_address (test_bus));
}

/* A dbus-daemon of one test's own, which it may kill or give a smaller
 * max_message_size than GTestDBus's bus has. */
typedef struct {
  GSubprocess *proc; /* (owned) */
  char *dir;         /* (owned) */
  char *address;     /* (owned) */
} OwnBus;

/* @max_message_size: the bus's limit in bytes; 0 for dbus-daemon's own */
static OwnBus *
own_bus_start (gsize max_message_size)
{
  OwnBus *bus = g_new0 (OwnBus, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *limit = NULL;
  g_autofree char *config = NULL;
  g_autofree char *config_path = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GDataInputStream) out = NULL;

  bus->dir = g_dir_make_tmp ("filecached-bus-XXXXXX", &error);
  g_assert_no_error (error);
  limit = max_message_size == 0 ? g_strdup ("")
          : g_strdup_printf ("<limit name=\"max_message_size\">%" G_GSIZE_FORMAT "</limit>",
                             max_message_size);
  config = g_strdup_printf ("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                            "<busconfig><type>session</type><listen>unix:dir=%s</listen>"
                            "<policy context=\"default\"><allow send_destination=\"*\"/>"
                            "<allow receive_sender=\"*\"/><allow own=\"*\"/></policy>"
                            "%s</busconfig>\n",
                            bus->dir, limit);
  config_path = g_build_filename (bus->dir, "bus.conf", NULL);
  g_file_set_contents (config_path, config, -1, &error);
  g_assert_no_error (error);

  launcher = tu_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  bus->proc = g_subprocess_launcher_spawn (launcher, &error, "dbus-daemon",
                                           "--config-file", config_path, "--nofork",
                                           "--nopidfile", "--print-address", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus->proc));
  bus->address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bus->address);
  return bus;
}

/* Kills the bus daemon (if still alive) and frees @bus. */
static void
own_bus_stop (OwnBus *bus)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (bus->proc, SIGTERM);
  g_subprocess_wait (bus->proc, NULL, &error);
  g_assert_no_error (error);
  tu_rm_rf (bus->dir);
  g_object_unref (bus->proc);
  g_free (bus->dir);
  g_free (bus->address);
  g_free (bus);
}

static void
bus_close (GDBusConnection *bus)
{
  g_autoptr(GError) error = NULL;

  g_dbus_connection_close_sync (bus, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (bus);
}

/* Asks the bus daemon about DAEMON_NAME; @out receives the reply's one
 * value, as g_variant_get() does with @reply_type. */
static void
bus_query (GDBusConnection *bus, const char *method, const char *reply_type, gpointer out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", method,
                                       g_variant_new ("(s)", DAEMON_NAME),
                                       G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, reply_type, out);
}

static gboolean
name_has_owner (GDBusConnection *bus)
{
  gboolean owned = FALSE;

  bus_query (bus, "NameHasOwner", "(b)", &owned);
  return owned;
}

static guint32
name_owner_pid (GDBusConnection *bus)
{
  guint32 pid = 0;

  bus_query (bus, "GetConnectionUnixProcessID", "(u)", &pid);
  return pid;
}

/* The daemon asks for its name after it has printed its port, so the
 * name shows up a little later than TCP does. */
static void
wait_name_owned (GDBusConnection *bus, gboolean owned)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  while (name_has_owner (bus) != owned)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s is %s after %d s", DAEMON_NAME,
                 owned ? "still not owned" : "still owned", WAIT_S);
      g_usleep (20 * 1000);
    }
}

/* ---- the daemon's interface ---- */

typedef struct {
  TuDaemon *d;
  GDBusConnection *bus; /* (owned) */
} Fixture;

static GVariant *
call_full (Fixture *f, const char *iface, const char *method, GVariant *params,
           const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (f->bus, DAEMON_NAME, DAEMON_PATH, iface, method, params,
                                      G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                      CALL_TIMEOUT_MS, NULL, error);
}

/* (transfer full): the reply of a call that must succeed, of @reply_type */
static GVariant *
call (Fixture *f, const char *iface, const char *method, GVariant *params,
      const char *reply_type)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call_full (f, iface, method, params, reply_type, &error);

  g_assert_no_error (error);
  return reply;
}

/* (transfer full): the single value of a method's reply, unwrapped */
static GVariant *
call_for_value (Fixture *f, const char *method, GVariant *params, const char *reply_type)
{
  g_autoptr(GVariant) reply = call (f, DAEMON_IFACE, method, params, reply_type);

  return g_variant_get_child_value (reply, 0);
}

/* (transfer full): a{sv} */
static GVariant *
get_stats (Fixture *f)
{
  return call_for_value (f, "Stats", NULL, "(a{sv})");
}

/* (transfer full): a(sttx) */
static GVariant *
list_cache (Fixture *f)
{
  return call_for_value (f, "ListCache", NULL, "(a(sttx))");
}

/* (transfer full): a(sttx) */
static GVariant *
list_cache_range (Fixture *f, guint offset, guint count)
{
  return call_for_value (f, "ListCacheRange", g_variant_new ("(uu)", offset, count), "(a(sttx))");
}

static gboolean
evict (Fixture *f, const char *name)
{
  g_autoptr(GVariant) evicted = call_for_value (f, "Evict", g_variant_new ("(s)", name), "(b)");

  return g_variant_get_boolean (evicted);
}

static guint32
clear (Fixture *f)
{
  g_autoptr(GVariant) count = call_for_value (f, "Clear", NULL, "(u)");

  return g_variant_get_uint32 (count);
}

/* (transfer full): the property's value, asserted to be of @type */
static GVariant *
get_property (Fixture *f, const char *name, const char *type)
{
  g_autoptr(GVariant) reply = call (f, PROPERTIES_IFACE, "Get",
                                    g_variant_new ("(ss)", DAEMON_IFACE, name), "(v)");
  GVariant *value = NULL;

  g_variant_get (reply, "(v)", &value);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, type);
  return value;
}

static gboolean
set_property (Fixture *f, const char *name, GVariant *value, GError **error)
{
  g_autoptr(GVariant) reply = call_full (f, PROPERTIES_IFACE, "Set",
                                         g_variant_new ("(ssv)", DAEMON_IFACE, name, value),
                                         "()", error);

  return reply != NULL;
}

static void
set_capacity (Fixture *f, guint64 capacity)
{
  g_autoptr(GError) error = NULL;

  set_property (f, "Capacity", g_variant_new_uint64 (capacity), &error);
  g_assert_no_error (error);
}

static guint64
get_capacity (Fixture *f)
{
  g_autoptr(GVariant) value = get_property (f, "Capacity", "t");

  return g_variant_get_uint64 (value);
}

/* DBUS.md's table: every key, with its fixed type. */
static const struct {
  const char *key;
  const char *type;
} stat_keys[] = {
  { "hits", "t" }, { "misses", "t" }, { "loads", "t" }, { "evictions", "t" },
  { "invalidations", "t" }, { "entries", "u" }, { "size", "t" }, { "capacity", "t" },
  { "requests", "t" }, { "errors", "t" }, { "refused", "t" }, { "bytes-sent", "t" },
  { "clients", "u" }, { "clients-total", "t" }, { "uptime", "t" },
  { "max-entry-size", "t" }, { "pinned", "t" },
  { "misses-cold", "t" }, { "misses-evicted", "t" }, { "misses-changed", "t" },
  { "requests-http", "t" },
};

static const char *
stat_type (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (stat_keys); i++)
    if (g_str_equal (stat_keys[i].key, key))
      return stat_keys[i].type;
  g_assert_not_reached ();
}

/* Checks the key's presence and type on every read, so that no test can
 * pass on a counter of the wrong width. */
static guint64
stat_value (GVariant *stats, const char *key)
{
  const char *type = stat_type (key);
  g_autoptr(GVariant) value = g_variant_lookup_value (stats, key, NULL);

  g_assert_nonnull (value);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, type);
  return g_str_equal (type, "u") ? g_variant_get_uint32 (value) : g_variant_get_uint64 (value);
}

/* Compared as "key=value" text, so that a failure names the counter. */
static void
assert_stat (GVariant *stats, const char *key, guint64 expected)
{
  g_autofree char *got_text = g_strdup_printf ("%s=%" G_GUINT64_FORMAT, key,
                                               stat_value (stats, key));
  g_autofree char *expected_text = g_strdup_printf ("%s=%" G_GUINT64_FORMAT, key, expected);

  g_assert_cmpstr (got_text, ==, expected_text);
}

static guint64
stat_growth (GVariant *before, GVariant *after, const char *key)
{
  return stat_value (after, key) - stat_value (before, key);
}

/* For the counters that follow a close on the daemon's side, some time
 * after the client's close() returned. */
static void
wait_stat (Fixture *f, const char *key, guint64 expected)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GVariant) stats = get_stats (f);

      if (stat_value (stats, key) == expected || g_get_monotonic_time () > deadline)
        {
          assert_stat (stats, key, expected);
          return;
        }
      g_usleep (20 * 1000);
    }
}

/* (transfer full): the names of a(sttx) @entries, joined by commas, so
 * that a failure shows the whole list */
static char *
entry_names (GVariant *entries)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GVariantIter iter;
  const char *name;

  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_next (&iter, "(&sttx)", &name, NULL, NULL, NULL))
    g_ptr_array_add (names, (gpointer) name);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

/* (transfer full): the names ListCache gives, in its order */
static char *
cached_names (Fixture *f)
{
  g_autoptr(GVariant) entries = list_cache (f);

  return entry_names (entries);
}

/* The same for the TCP `LIST` on @fd. */
static char *
listed_names (int fd)
{
  g_autoptr(GPtrArray) entries = tu_list (fd);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (names, ((TuListEntry *) g_ptr_array_index (entries, i))->name);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

static void
assert_cached (Fixture *f, int fd, const char *expected)
{
  g_autofree char *cached = cached_names (f);
  g_autofree char *listed = listed_names (fd);

  g_assert_cmpstr (cached, ==, expected);
  g_assert_cmpstr (listed, ==, expected);
}

/* ---- fixtures ---- */

static TuDaemon *
start_owner (GDBusConnection *bus, const char *const *args)
{
  TuDaemon *d = tu_daemon_start_dbus (NULL, args);

  wait_name_owned (bus, TRUE);
  return d;
}

/* @data: (nullable): extra daemon options, NULL-terminated */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->bus = bus_connect ();
  f->d = start_owner (f->bus, data);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tu_daemon_stop (f->d);
  /* The bus drops a dead peer's names asynchronously: the next test's
   * daemon would be refused a name that is still listed. */
  wait_name_owned (f->bus, FALSE);
  bus_close (f->bus);
}

#define add_test(path, args, func) \
  g_test_add (path, Fixture, args, fixture_setup, func, fixture_teardown)

static const char *const cache_1m[] = { "--cache-size", "1M", NULL };
static const char *const one_client[] = { "--max-clients", "1", NULL };
static const char *const advisor_cache[] = { "--cache-size", "128K", NULL };

/* ---- files ---- */

/* (transfer full): content of its own for @name, written under the root */
static guint8 *
put (Fixture *f, const char *name, guint32 seed, gsize len)
{
  guint8 *data = tu_make_content (seed, len);

  tu_write_file (f->d->root, name, data, len);
  return data;
}

/* Caches @name by one GET, checking its content on the way. */
static void
put_and_get (Fixture *f, int fd, const char *name, guint32 seed, gsize len)
{
  g_autofree guint8 *data = put (f, name, seed, len);

  tu_assert_get (fd, name, data, len);
}

/* ---- threads ---- */

/* Lets the main thread act at a known point of every worker: workers
 * arrive and block until the main thread, having seen them all arrive,
 * opens it. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint expected;
  guint arrived; /* guarded by lock */
  gboolean open; /* guarded by lock */
} Gate;

static void
gate_init (Gate *gate, guint expected)
{
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
  gate->expected = expected;
  gate->arrived = 0;
  gate->open = FALSE;
}

static void
gate_clear (Gate *gate)
{
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
}

static gboolean
gate_is_open (const Gate *gate)
{
  return gate->open;
}

static gboolean
gate_is_full (const Gate *gate)
{
  return gate->arrived >= gate->expected;
}

/* With the lock held. */
static void
gate_wait_locked (Gate *gate, gboolean (*ready) (const Gate *), const char *what)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  while (!ready (gate))
    if (!g_cond_wait_until (&gate->cond, &gate->lock, deadline))
      g_error ("%s within %d s (%u of %u threads arrived)",
               what, WAIT_S, gate->arrived, gate->expected);
}

/* In a worker: blocks until the main thread opens the gate. */
static void
gate_meet (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->arrived++;
  g_cond_broadcast (&gate->cond);
  gate_wait_locked (gate, gate_is_open, "the gate did not open");
  g_mutex_unlock (&gate->lock);
}

/* In the main thread: blocks until every worker waits at the gate. */
static void
gate_wait_all (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  gate_wait_locked (gate, gate_is_full, "not every thread reached the gate");
  g_mutex_unlock (&gate->lock);
}

static void
gate_open (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->open = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* Runs @func in a thread for each of the @n items of @item_size bytes at
 * @items, whose first member, a Gate pointer, this sets. @between
 * (nullable) runs once every thread waits at the gate, before it opens. */
static void
run_gated (Fixture *f, GThreadFunc func, gpointer items, gsize item_size, guint n,
           void (*between) (Fixture *f))
{
  g_autofree GThread **threads = g_new0 (GThread *, n);
  Gate gate;

  gate_init (&gate, n);
  for (guint i = 0; i < n; i++)
    {
      gpointer item = (guint8 *) items + i * item_size;

      *(Gate **) item = &gate;
      threads[i] = g_thread_new ("client", func, item);
    }
  gate_wait_all (&gate);
  if (between != NULL)
    between (f);
  gate_open (&gate);
  for (guint i = 0; i < n; i++)
    g_thread_join (threads[i]);
  gate_clear (&gate);
}

/* Reads the body from offset @from to @to in slices, each checked
 * against @content, so that many large downloads need no large buffers. */
static void
assert_body_range (int fd, const guint8 *content, gsize from, gsize to)
{
  while (from < to)
    {
      gsize n = MIN (to - from, MiB);
      g_autofree guint8 *slice = tu_read_exact (fd, n);

      g_assert_cmpmem (slice, n, content + from, n);
      from += n;
    }
}

/* The body bytes a paused download reads before it meets the gate. */
#define DOWNLOAD_HEAD (4 * KiB)

typedef struct {
  Gate *gate; /* first, for run_gated() */
  guint16 port;
  int rcvbuf;
  const char *name;
  const guint8 *content; /* (unowned) */
  gsize len;
  /* Meets the gate after DOWNLOAD_HEAD bytes of the body, not before
   * sending its GET. */
  gboolean pause_mid_body;
} Download;

static gpointer
download_thread (gpointer user_data)
{
  const Download *dl = user_data;
  int fd = tu_connect_full ("127.0.0.1", dl->port, dl->rcvbuf);
  g_autofree char *request = g_strdup_printf ("GET %s\n", dl->name);
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", dl->len);
  g_autofree char *status = NULL;
  gsize head = dl->pause_mid_body ? DOWNLOAD_HEAD : 0;

  if (!dl->pause_mid_body)
    gate_meet (dl->gate);
  tu_send_str (fd, request);
  status = tu_read_line (fd);
  g_assert_cmpstr (status, ==, expected);
  assert_body_range (fd, dl->content, 0, head);
  if (dl->pause_mid_body)
    gate_meet (dl->gate);
  assert_body_range (fd, dl->content, head, dl->len);
  /* Nothing extra may follow the body. */
  tu_assert_ping (fd);
  close (fd);
  return NULL;
}

/* Runs @n copies of @proto at once; for @between see run_gated(). */
static void
run_downloads (Fixture *f, guint n, const Download *proto,
               void (*between) (Fixture *f))
{
  g_autofree Download *dls = g_new (Download, n);

  for (guint i = 0; i < n; i++)
    dls[i] = *proto;
  run_gated (f, download_thread, dls, sizeof *dls, n, between);
}

/* ---- ListCache ---- */

typedef struct {
  const char *name;
  gsize len;
  gint64 before; /* UNIX µs, just before the last GET was sent */
  gint64 after;  /* UNIX µs, just after its reply was read */
} Used;

static void
test_list_cache_matches_tcp (Fixture *f, gconstpointer data)
{
  Used files[] = { { "a", 100 }, { "dir/b", 2000 }, { "c", 30000 } };
  /* "a" again last: MRU order a, c, dir/b is not the order of loading. */
  static const guint sequence[] = { 0, 1, 2, 0 };
  int fd = tu_connect (f->d->port);
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GPtrArray) listed = NULL;

  /* All written first: rewriting a cached file would invalidate it. */
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_free (put (f, files[i].name, i, files[i].len));
  for (gsize i = 0; i < G_N_ELEMENTS (sequence); i++)
    {
      Used *file = &files[sequence[i]];
      g_autofree guint8 *content = tu_make_content (sequence[i], file->len);

      file->before = g_get_real_time ();
      tu_assert_get (fd, file->name, content, file->len);
      file->after = g_get_real_time ();
    }

  entries = list_cache (f);
  listed = tu_list (fd);
  g_assert_cmpuint (listed->len, ==, 3);
  g_assert_cmpuint (g_variant_n_children (entries), ==, listed->len);
  for (guint i = 0; i < listed->len; i++)
    {
      const TuListEntry *tcp = g_ptr_array_index (listed, i);
      const Used *file = NULL;
      const char *name;
      guint64 size, hits;
      gint64 last_use;

      g_variant_get_child (entries, i, "(&sttx)", &name, &size, &hits, &last_use);
      g_assert_cmpstr (name, ==, tcp->name);
      g_assert_cmpuint (size, ==, tcp->size);
      g_assert_cmpuint (hits, ==, tcp->hits);
      for (gsize j = 0; j < G_N_ELEMENTS (files); j++)
        if (g_str_equal (files[j].name, name))
          file = &files[j];
      g_assert_nonnull (file);
      g_assert_cmpuint (size, ==, file->len);
      g_assert_cmpint (last_use, >=, file->before);
      g_assert_cmpint (last_use, <=, file->after);
    }
  /* Both could agree on a wrong order; this is the right one. */
  assert_cached (f, fd, "a,c,dir/b");
  g_assert_cmpuint (((TuListEntry *) g_ptr_array_index (listed, 0))->hits, ==, 2);
  close (fd);
}

/* ---- bounded list replies (DBUS.md 1.1) ---- */

#define TOO_LARGE "org.filecached.Error.TooLarge"

/* Asserts that @error is the daemon's refusal @name. */
static void
assert_remote_error (const GError *error, const char *name)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  g_assert_true (g_dbus_error_is_remote_error (error));
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
}

/* (transfer full): the name of the @i-th of many files: @prefix, then @i
 * in 5 digits. */
static char *
many_name (const char *prefix, guint i)
{
  return g_strdup_printf ("%s%05u", prefix, i);
}

/* Writes @n one-byte files named by many_name() and caches them with one
 * batch of pipelined GETs, in order: the last one is the most recently
 * used. One byte each, so that thousands cost little but their names. */
static void
cache_many (Fixture *f, const char *prefix, guint n)
{
  int fd = tu_connect (f->d->port);
  g_autoptr(GString) requests = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = many_name (prefix, i);

      tu_write_file (f->d->root, name, "x", 1);
      g_string_append_printf (requests, "GET %s\n", name);
    }
  tu_send (fd, requests->str, requests->len);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *status = tu_read_line (fd);
      g_autofree guint8 *body = NULL;

      g_assert_cmpstr (status, ==, "OK 1\n");
      body = tu_read_exact (fd, 1);
    }
  close (fd);
}

/* Whether the TCP `LIST` shows @n entries named by many_name(), most
 * recently used first. */
static void
assert_listed_many (Fixture *f, const char *prefix, guint n)
{
  int fd = tu_connect (f->d->port);
  g_autoptr(GPtrArray) listed = tu_list (fd);

  g_assert_cmpuint (listed->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = many_name (prefix, n - 1 - i);

      g_assert_cmpstr (((TuListEntry *) g_ptr_array_index (listed, i))->name, ==, name);
    }
  close (fd);
}

/* Names of 3990 bytes (in 19 directories, each component under 255
 * bytes) take 4024 bytes each in an a(sttx) on the wire (the string's
 * length, its bytes and NUL padded to 8, three numbers): 2084 of them
 * make a body of 8,386,024 bytes, the most under DBUS.md's 8 MiB; 2200
 * make 8.85 MB, over it, yet a message a stock bus carries, so that only
 * the daemon's bound refuses it. */
#define HUGE_FITS 2084
#define HUGE_COUNT 2200

static char *
huge_prefix (void)
{
  g_autoptr(GString) prefix = g_string_new (NULL);

  for (guint i = 0; i < 19; i++)
    {
      for (guint j = 0; j < 198; j++)
        g_string_append_c (prefix, 'd');
      g_string_append_printf (prefix, "%02u/", i);
    }
  while (prefix->len < 3985)
    g_string_append_c (prefix, 'n');
  return g_string_free (g_steal_pointer (&prefix), FALSE);
}

/* The bound is of the bytes on the bus, not of GVariant's serialized
 * form, which has framing offsets too (about 4036 bytes an entry here):
 * was TooLarge from 2079 entries on. A ListCacheRange page has no such
 * bound: was TooLarge over 8 MiB too. */
static void
test_list_cache_over_8mib (Fixture *f, gconstpointer data)
{
  g_autofree char *prefix = huge_prefix ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) all = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) page = NULL;
  g_autoptr(GVariant) stats = NULL;

  cache_many (f, prefix, HUGE_FITS);
  all = list_cache (f);
  g_assert_cmpuint (g_variant_n_children (all), ==, HUGE_FITS);

  cache_many (f, prefix, HUGE_FITS + 1);
  reply = call_full (f, DAEMON_IFACE, "ListCache", NULL, "(a(sttx))", &error);
  g_assert_null (reply);
  assert_remote_error (error, TOO_LARGE);

  /* Refused whole, and nothing else lost: the pages still come, one
   * over 8 MiB too. */
  cache_many (f, prefix, HUGE_COUNT);
  page = list_cache_range (f, 0, HUGE_COUNT);
  g_assert_cmpuint (g_variant_n_children (page), ==, HUGE_COUNT);
  stats = get_stats (f);
  assert_stat (stats, "entries", HUGE_COUNT);
}

static const char *const cache_1g[] = { "--cache-size", "1G", NULL };

static void
test_list_cache_range_pages (Fixture *f, gconstpointer data)
{
  static const struct {
    guint offset;
    guint count;
    const char *expected;
  } pages[] = {
    { 0, 2, "e,d" }, { 2, 2, "c,b" }, { 4, 2, "a" }, { 1, 0, "" },
    { 0, 10000, "e,d,c,b,a" }, { 5, 1, "" }, { G_MAXUINT32, 10000, "" },
  };
  static const char *const names[] = { "a", "b", "c", "d", "e" };
  int fd = tu_connect (f->d->port);
  g_autoptr(GVariant) all = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    put_and_get (f, fd, names[i], i, 10 + i);

  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autoptr(GVariant) page = list_cache_range (f, pages[i].offset, pages[i].count);
      g_autofree char *got = entry_names (page);

      g_test_message ("ListCacheRange (%u, %u)", pages[i].offset, pages[i].count);
      g_assert_cmpstr (got, ==, pages[i].expected);
    }

  /* A page holds the very entries of ListCache, numbers included. */
  all = list_cache (f);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GVariant) page = list_cache_range (f, i, 1);
      g_autoptr(GVariant) entry = g_variant_get_child_value (all, i);
      g_autoptr(GVariant) paged = g_variant_get_child_value (page, 0);

      g_assert_cmpuint (g_variant_n_children (page), ==, 1);
      g_assert_true (g_variant_equal (paged, entry));
    }
  close (fd);
}

static void
test_list_cache_range_count_limit (Fixture *f, gconstpointer data)
{
  static const guint32 too_many[] = { 10001, G_MAXUINT32 };
  int fd = tu_connect (f->d->port);

  put_and_get (f, fd, "a", 1, 10);
  for (gsize i = 0; i < G_N_ELEMENTS (too_many); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = call_full (f, DAEMON_IFACE, "ListCacheRange",
                                             g_variant_new ("(uu)", 0, too_many[i]),
                                             "(a(sttx))", &error);

      g_assert_null (reply);
      assert_remote_error (error, INVALID_ARGUMENT);
    }
  assert_cached (f, fd, "a");
  close (fd);
}

/* A bus that carries at most 64 KiB, a daemon on it, and more cached
 * files than one reply of 64 KiB can list: 2000 names of 45 bytes take
 * 160 KB on the wire. */
#define SMALL_BUS_LIMIT (64 * KiB)
#define SMALL_BUS_COUNT 2000
#define SMALL_BUS_PREFIX "file-with-a-name-long-enough-to-fill-a-bus"

typedef struct {
  Fixture f;     /* first, for the helpers that take a Fixture */
  OwnBus *bus;   /* (owned) */
} SmallBus;

static void
small_bus_setup (SmallBus *s, gconstpointer data)
{
  s->bus = own_bus_start (SMALL_BUS_LIMIT);
  s->f.bus = bus_connect_to (s->bus->address);
  s->f.d = tu_daemon_start_dbus (s->bus->address, NULL);
  wait_name_owned (s->f.bus, TRUE);
  cache_many (&s->f, SMALL_BUS_PREFIX, SMALL_BUS_COUNT);
}

static void
small_bus_teardown (SmallBus *s, gconstpointer data)
{
  g_autofree char *rest = NULL;

  g_assert_cmpint (tu_daemon_finish (s->f.d, SIGTERM, WAIT_S, &rest), ==, 0);
  /* Never disconnected, never told to stop. */
  g_assert_null (strstr (rest, "WARNING"));
  bus_close (s->f.bus);
  own_bus_stop (s->bus);
}

#define add_small_bus_test(path, func) \
  g_test_add (path, SmallBus, NULL, small_bus_setup, func, small_bus_teardown)

static void
test_list_cache_too_large_for_bus (SmallBus *s, gconstpointer data)
{
  Fixture *f = &s->f;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) page = NULL;
  g_autoptr(GVariant) stats = NULL;

  reply = call_full (f, DAEMON_IFACE, "ListCache", NULL, "(a(sttx))", &error);
  g_assert_null (reply);
  assert_remote_error (error, TOO_LARGE);

  /* Still on the bus with its name, answering, and serving TCP. */
  g_assert_true (name_has_owner (f->bus));
  page = list_cache_range (f, 0, 100);
  g_assert_cmpuint (g_variant_n_children (page), ==, 100);
  stats = get_stats (f);
  assert_stat (stats, "entries", SMALL_BUS_COUNT);
  assert_listed_many (f, SMALL_BUS_PREFIX, SMALL_BUS_COUNT);
}

/* ---- Evict ---- */

static void
test_evict_cached (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a = put (f, "a", 1, 500);
  g_autoptr(GVariant) stats = NULL;

  tu_assert_get (fd, "a", a, 500);
  put_and_get (f, fd, "b", 2, 700);
  assert_cached (f, fd, "b,a");

  g_assert_true (evict (f, "a"));
  assert_cached (f, fd, "b");
  g_assert_false (evict (f, "a"));

  /* Gone for real, not just unlisted: the next GET loads it again. */
  tu_assert_get (fd, "a", a, 500);
  stats = get_stats (f);
  assert_stat (stats, "loads", 3);
  assert_stat (stats, "hits", 0);
  close (fd);
}

static void
test_evict_not_cached (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);

  put_and_get (f, fd, "cached", 1, 300);
  g_free (put (f, "on-disk", 2, 300));

  g_assert_false (evict (f, "on-disk"));
  g_assert_false (evict (f, "missing"));
  g_assert_false (evict (f, "dir/missing"));
  assert_cached (f, fd, "cached");
  close (fd);
}

static const char *const invalid_names[] = {
  "../x", "/abs", "/x", "a//b", "", "a/b/", "./x", "a/./b", "a/../x", "..",
  "x\001", "x\177",
};

static void
test_evict_invalid_name (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);

  /* Each refused name is one normalization away from a cached one. */
  put_and_get (f, fd, "a/b", 1, 100);
  put_and_get (f, fd, "x", 2, 100);

  for (gsize i = 0; i < G_N_ELEMENTS (invalid_names); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *remote = NULL;

      g_test_message ("Evict \"%s\"", invalid_names[i]);
      reply = call_full (f, DAEMON_IFACE, "Evict", g_variant_new ("(s)", invalid_names[i]),
                         "(b)", &error);
      g_assert_null (reply);
      g_assert_nonnull (error);
      g_assert_true (g_dbus_error_is_remote_error (error));
      remote = g_dbus_error_get_remote_error (error);
      g_assert_cmpstr (remote, ==, INVALID_ARGUMENT);
    }
  assert_cached (f, fd, "x,a/b");
  close (fd);
}

/* ---- Clear ---- */

static void
test_clear (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a = put (f, "a", 1, 100);
  g_autoptr(GVariant) stats = NULL;

  tu_assert_get (fd, "a", a, 100);
  put_and_get (f, fd, "b", 2, 200);
  put_and_get (f, fd, "dir/c", 3, 300);

  g_assert_cmpuint (clear (f), ==, 3);
  assert_cached (f, fd, "");
  stats = get_stats (f);
  assert_stat (stats, "entries", 0);
  assert_stat (stats, "size", 0);
  g_assert_cmpuint (clear (f), ==, 0);

  /* Clearing the cache does not stop the service. */
  tu_assert_get (fd, "a", a, 100);
  assert_cached (f, fd, "a");
  close (fd);
}

/* ---- Stats ---- */

static void
test_stats_keys_fresh (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) stats = get_stats (f);

  g_assert_cmpuint (g_variant_n_children (stats), ==, G_N_ELEMENTS (stat_keys));
  for (gsize i = 0; i < G_N_ELEMENTS (stat_keys); i++)
    {
      const char *key = stat_keys[i].key;

      /* The largest entry is the capacity, on any machine with 256 MiB. */
      if (g_str_equal (key, "capacity") || g_str_equal (key, "max-entry-size"))
        assert_stat (stats, key, DEFAULT_CAPACITY);
      else if (g_str_equal (key, "uptime"))
        g_assert_cmpuint (stat_value (stats, key), <, 120);
      else
        assert_stat (stats, key, 0);
    }
}

static void
test_stats_scripted (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a = put (f, "a", 1, 1000);
  g_autofree char *not_found = NULL;
  g_autofree char *bogus = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) again = NULL;

  tu_assert_get (fd, "a", a, 1000);
  tu_assert_get (fd, "a", a, 1000);
  not_found = tu_get_err (fd, "nope");
  tu_assert_err (not_found, "404");
  tu_assert_ping (fd);
  tu_send_str (fd, "BOGUS\n");
  bogus = tu_read_line (fd);
  tu_assert_err (bogus, "400");

  stats = get_stats (f);
  assert_stat (stats, "hits", 1);
  assert_stat (stats, "misses", 2);
  assert_stat (stats, "loads", 1);
  assert_stat (stats, "evictions", 0);
  assert_stat (stats, "invalidations", 0);
  assert_stat (stats, "entries", 1);
  assert_stat (stats, "size", 1000);
  assert_stat (stats, "requests", 5);
  assert_stat (stats, "errors", 2);
  assert_stat (stats, "refused", 0);
  assert_stat (stats, "bytes-sent", 2000);
  assert_stat (stats, "clients", 1);
  assert_stat (stats, "clients-total", 1);

  /* Calls over D-Bus are not requests. */
  again = get_stats (f);
  assert_stat (again, "requests", 5);
  close (fd);
}

static void
test_stats_evictions (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autoptr(GVariant) after_evict = NULL;
  g_autoptr(GVariant) after_clear = NULL;

  put_and_get (f, fd, "a", 1, 100);
  put_and_get (f, fd, "b", 2, 100);
  put_and_get (f, fd, "c", 3, 100);

  g_assert_true (evict (f, "a"));
  g_assert_false (evict (f, "a"));
  after_evict = get_stats (f);
  assert_stat (after_evict, "evictions", 1);

  g_assert_cmpuint (clear (f), ==, 2);
  after_clear = get_stats (f);
  assert_stat (after_clear, "evictions", 3);
  assert_stat (after_clear, "invalidations", 0);
  close (fd);
}

static void
test_stats_invalidations (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *v2 = NULL;
  g_autoptr(GVariant) stats = NULL;

  put_and_get (f, fd, "a", 1, 100);
  /* A new size: a change any freshness check must see. */
  v2 = put (f, "a", 2, 150);
  tu_assert_get (fd, "a", v2, 150);

  stats = get_stats (f);
  assert_stat (stats, "invalidations", 1);
  assert_stat (stats, "evictions", 0);
  assert_stat (stats, "misses", 2);
  assert_stat (stats, "hits", 0);
  assert_stat (stats, "loads", 2);
  assert_stat (stats, "entries", 1);
  assert_stat (stats, "size", 150);
  close (fd);
}

static void
test_stats_refused (Fixture *f, gconstpointer data)
{
  int held = tu_connect (f->d->port);
  int turned_away;
  g_autofree char *line = NULL;
  g_autoptr(GVariant) stats = NULL;

  /* Answered, so the daemon has surely counted it as its one client. */
  tu_assert_ping (held);
  turned_away = tu_connect (f->d->port);
  line = tu_read_line (turned_away);
  tu_assert_err (line, "503");
  close (turned_away);

  stats = get_stats (f);
  assert_stat (stats, "refused", 1);
  assert_stat (stats, "requests", 1);
  assert_stat (stats, "errors", 0);
  assert_stat (stats, "clients", 1);
  tu_assert_ping (held);
  close (held);
}

static void
test_stats_clients (Fixture *f, gconstpointer data)
{
  int fds[3];
  g_autoptr(GVariant) stats = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      fds[i] = tu_connect (f->d->port);
      tu_assert_ping (fds[i]);
    }
  stats = get_stats (f);
  assert_stat (stats, "clients", 3);
  assert_stat (stats, "clients-total", 3);

  close (fds[0]);
  wait_stat (f, "clients", 2);
  close (fds[1]);
  close (fds[2]);
  wait_stat (f, "clients", 0);
  wait_stat (f, "clients-total", 3);
}

#define N_SMALL 4
#define GET_THREADS 16
#define GETS_PER_THREAD 25

static char *
small_name (guint i)
{
  return g_strdup_printf ("small-%u", i);
}

static gsize
small_len (guint i)
{
  return 100 + 37 * i;
}

typedef struct {
  Gate *gate; /* first, for run_gated() */
  guint16 port;
  guint index; /* spreads the threads over the files */
} Getter;

static gpointer
getter_thread (gpointer user_data)
{
  const Getter *getter = user_data;
  int fd = tu_connect (getter->port);

  gate_meet (getter->gate);
  for (guint r = 0; r < GETS_PER_THREAD; r++)
    {
      guint i = (getter->index + r) % N_SMALL;
      g_autofree char *name = small_name (i);
      g_autofree guint8 *content = tu_make_content (i, small_len (i));

      tu_assert_get (fd, name, content, small_len (i));
    }
  close (fd);
  return NULL;
}

static void
test_stats_concurrent_exact (Fixture *f, gconstpointer data)
{
  Getter getters[GET_THREADS];
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;
  g_autoptr(GVariant) entries = NULL;
  GVariantIter iter;
  guint64 hits, entry_hits = 0;
  const guint64 total = GET_THREADS * GETS_PER_THREAD;

  for (guint i = 0; i < N_SMALL; i++)
    {
      g_autofree char *name = small_name (i);

      g_free (put (f, name, i, small_len (i)));
    }

  before = get_stats (f);
  for (guint t = 0; t < GET_THREADS; t++)
    getters[t] = (Getter) { NULL, f->d->port, t };
  run_gated (f, getter_thread, getters, sizeof getters[0], GET_THREADS, NULL);

  after = get_stats (f);
  g_assert_cmpuint (stat_growth (before, after, "hits") + stat_growth (before, after, "misses"),
                    ==, total);
  g_assert_cmpuint (stat_growth (before, after, "requests"), ==, total);
  g_assert_cmpuint (stat_growth (before, after, "loads"), ==, N_SMALL);
  g_assert_cmpuint (stat_growth (before, after, "errors"), ==, 0);

  /* Every GET was answered by a cached copy, so the entries' hits
   * account for all of them too. */
  entries = list_cache (f);
  g_assert_cmpuint (g_variant_n_children (entries), ==, N_SMALL);
  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_next (&iter, "(&sttx)", NULL, NULL, &hits, NULL))
    entry_hits += hits;
  g_assert_cmpuint (entry_hits, ==, total);
}

/* ---- single flight ---- */

#define LOADERS 16

static void
test_single_flight (Fixture *f, gconstpointer data)
{
  const gsize len = 16 * MiB;
  g_autofree guint8 *content = put (f, "big", 7, len);
  const Download proto = { NULL, f->d->port, 0, "big", content, len, FALSE };
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) entries = NULL;
  const char *name;
  guint64 hits;

  /* Released together, so that the GETs overlap the one slow load. */
  run_downloads (f, LOADERS, &proto, NULL);

  stats = get_stats (f);
  assert_stat (stats, "loads", 1);
  g_assert_cmpuint (stat_value (stats, "hits") + stat_value (stats, "misses"), ==, LOADERS);
  g_assert_cmpuint (stat_value (stats, "misses"), >=, 1);
  assert_stat (stats, "entries", 1);
  assert_stat (stats, "size", len);

  entries = list_cache (f);
  g_assert_cmpuint (g_variant_n_children (entries), ==, 1);
  g_variant_get_child (entries, 0, "(&sttx)", &name, NULL, &hits, NULL);
  g_assert_cmpstr (name, ==, "big");
  g_assert_cmpuint (hits, ==, LOADERS);
}

/* ---- Evict during transfers ---- */

#define READERS 8

static void
evict_and_clear (Fixture *f)
{
  g_autofree char *names = NULL;

  g_assert_true (evict (f, "big"));
  g_assert_cmpuint (clear (f), ==, 0);
  names = cached_names (f);
  g_assert_cmpstr (names, ==, "");
}

static void
test_evict_while_sending (Fixture *f, gconstpointer data)
{
  const gsize len = 32 * MiB;
  g_autofree guint8 *content = put (f, "big", 9, len);
  /* A small receive window keeps most of each body in the daemon until
   * after the eviction. */
  const Download proto = { NULL, f->d->port, 16 * KiB, "big", content, len, TRUE };
  int fd = tu_connect (f->d->port);
  g_autofree char *names = NULL;
  g_autoptr(GVariant) stats = NULL;

  tu_assert_get (fd, "big", content, len);
  names = cached_names (f);
  g_assert_cmpstr (names, ==, "big");

  run_downloads (f, READERS, &proto, evict_and_clear);

  stats = get_stats (f);
  assert_stat (stats, "hits", READERS);
  assert_stat (stats, "entries", 0);
  assert_stat (stats, "bytes-sent", (READERS + 1) * (guint64) len);
  close (fd);
}

/* ---- properties ---- */

static void
test_property_root (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) root = get_property (f, "Root", "s");
  char real[PATH_MAX];

  g_assert_nonnull (realpath (f->d->root, real));
  g_assert_cmpstr (g_variant_get_string (root, NULL), ==, real);
}

static void
test_property_port (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) port = get_property (f, "Port", "q");

  g_assert_cmpuint (g_variant_get_uint16 (port), ==, f->d->port);
}

static void
test_property_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) root_error = NULL;
  g_autoptr(GError) port_error = NULL;
  g_autoptr(GVariant) port = NULL;
  g_autoptr(GVariant) root = NULL;
  char real[PATH_MAX];

  g_assert_false (set_property (f, "Root", g_variant_new_string ("/"), &root_error));
  g_assert_nonnull (root_error);
  g_assert_false (set_property (f, "Port", g_variant_new_uint16 (1), &port_error));
  g_assert_nonnull (port_error);

  root = get_property (f, "Root", "s");
  g_assert_nonnull (realpath (f->d->root, real));
  g_assert_cmpstr (g_variant_get_string (root, NULL), ==, real);
  port = get_property (f, "Port", "q");
  g_assert_cmpuint (g_variant_get_uint16 (port), ==, f->d->port);
}

static void
test_property_capacity_option (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) stats = get_stats (f);

  g_assert_cmpuint (get_capacity (f), ==, 1048576);
  assert_stat (stats, "capacity", 1048576);
}

static void
on_properties_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *iface, const char *signal_name, GVariant *parameters,
                       gpointer user_data)
{
  GArray *capacities = user_data;
  g_autoptr(GVariant) changed = NULL;
  const char *changed_iface;
  guint64 capacity;

  g_variant_get (parameters, "(&s@a{sv}@as)", &changed_iface, &changed, NULL);
  if (g_str_equal (changed_iface, DAEMON_IFACE) &&
      g_variant_lookup (changed, "Capacity", "t", &capacity))
    g_array_append_val (capacities, capacity);
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* (transfer full): the Capacity values of PropertiesChanged signals, as
 * they arrive in the default main context once it is iterated. */
static GArray *
watch_capacity (Fixture *f, guint *subscription)
{
  GArray *capacities = g_array_new (FALSE, FALSE, sizeof (guint64));

  *subscription = g_dbus_connection_signal_subscribe (f->bus, NULL, PROPERTIES_IFACE,
                                                      "PropertiesChanged", DAEMON_PATH,
                                                      DAEMON_IFACE, G_DBUS_SIGNAL_FLAGS_NONE,
                                                      on_properties_changed, capacities, NULL);
  return capacities;
}

static void
wait_capacity_signal (Fixture *f, guint subscription, GArray *capacities, guint64 expected)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add_seconds (WAIT_S, set_flag, &timed_out);

  while (capacities->len == 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
  g_dbus_connection_signal_unsubscribe (f->bus, subscription);

  g_assert_cmpuint (capacities->len, >=, 1);
  g_assert_cmpuint (g_array_index (capacities, guint64, 0), ==, expected);
}

static void
test_property_capacity_shrink (Fixture *f, gconstpointer data)
{
  const gsize len = 200 * KiB;
  const guint64 capacity = 450 * KiB;
  int fd = tu_connect (f->d->port);
  guint subscription;
  g_autoptr(GArray) capacities = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autofree guint8 *f1 = put (f, "f1", 1, len);

  tu_assert_get (fd, "f1", f1, len);
  put_and_get (f, fd, "f2", 2, len);
  put_and_get (f, fd, "f3", 3, len);
  put_and_get (f, fd, "f4", 4, len);
  /* Used again: the oldest in load order is not the least recently used. */
  tu_assert_get (fd, "f1", f1, len);
  assert_cached (f, fd, "f1,f4,f3,f2");

  capacities = watch_capacity (f, &subscription);
  set_capacity (f, capacity);
  /* At once: already done when the Set call returns. */
  assert_cached (f, fd, "f1,f4");
  stats = get_stats (f);
  assert_stat (stats, "capacity", capacity);
  assert_stat (stats, "evictions", 2);
  assert_stat (stats, "entries", 2);
  assert_stat (stats, "size", 2 * len);
  g_assert_cmpuint (get_capacity (f), ==, capacity);
  wait_capacity_signal (f, subscription, capacities, capacity);
  close (fd);
}

/* DBUS.md: "Setting Capacity emits PropertiesChanged", a set to the
 * value it already has included. */
static void
test_property_capacity_same_value (Fixture *f, gconstpointer data)
{
  guint64 capacity = get_capacity (f);
  guint subscription;
  g_autoptr(GArray) capacities = watch_capacity (f, &subscription);

  set_capacity (f, capacity);
  wait_capacity_signal (f, subscription, capacities, capacity);
}

static void
test_property_capacity_zero (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a = put (f, "a", 1, 100);
  guint subscription;
  g_autoptr(GArray) capacities = NULL;
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;

  tu_assert_get (fd, "a", a, 100);
  put_and_get (f, fd, "b", 2, 100);

  capacities = watch_capacity (f, &subscription);
  set_capacity (f, 0);
  assert_cached (f, fd, "");
  before = get_stats (f);
  assert_stat (before, "capacity", 0);
  assert_stat (before, "evictions", 2);

  /* Still served, but no longer kept. */
  tu_assert_get (fd, "a", a, 100);
  assert_cached (f, fd, "");
  after = get_stats (f);
  assert_stat (after, "entries", 0);
  assert_stat (after, "size", 0);
  g_assert_cmpuint (stat_growth (before, after, "misses"), ==, 1);
  g_assert_cmpuint (stat_growth (before, after, "hits"), ==, 0);
  g_assert_cmpuint (get_capacity (f), ==, 0);
  wait_capacity_signal (f, subscription, capacities, 0);
  close (fd);
}

/* ---- the name ---- */

static void
test_name_second_daemon_refused (Fixture *f, gconstpointer data)
{
  const char *argv[] = { g_getenv ("FILECACHED"), "--port", "0", "--host", "127.0.0.1",
                         f->d->root, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *owner = NULL;
  int status;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) port = NULL;

  status = tu_run (argv, WAIT_S, &out, &err);
  g_assert_cmpint (status, >, 0);
  g_assert_nonnull (strstr (err, DAEMON_NAME));
  /* A daemon that will not stay up announces no port to a supervisor. */
  g_assert_cmpstr (out, ==, "");

  /* The first one kept the name and still answers on it. */
  owner = g_strdup_printf ("%u", name_owner_pid (f->bus));
  g_assert_cmpstr (owner, ==, g_subprocess_get_identifier (f->d->proc));
  port = get_property (f, "Port", "q");
  g_assert_cmpuint (g_variant_get_uint16 (port), ==, f->d->port);
  stats = get_stats (f);
  assert_stat (stats, "requests", 0);
}

static gboolean
is_warning (const char *line)
{
  return strstr (line, "WARNING") != NULL || strstr (line, "CRITICAL") != NULL;
}

/* Waits for the daemon's one warning, of a bus it went without, and
 * checks that it serves TCP after it, and warns of nothing else until it
 * stops, cleanly, when told to. */
static void
assert_serves_without_bus (TuDaemon *d)
{
  g_autofree char *warning = NULL;
  g_autofree char *rest = NULL;
  g_autofree guint8 *a = tu_make_content (1, 100);
  g_autoptr(GPtrArray) listed = NULL;
  int fd;

  for (;;)
    {
      g_autofree char *line = tu_daemon_read_stderr_line (d, WAIT_S);

      g_assert_nonnull (line);
      /* Other warnings (an open-file limit that lowers --max-clients)
       * may come first. */
      if (is_warning (line) && strstr (line, "bus") != NULL)
        {
          warning = g_steal_pointer (&line);
          break;
        }
    }
  g_assert_nonnull (strstr (warning, "WARNING"));
  g_assert_nonnull (strstr (warning, "bus"));

  fd = tu_connect (d->port);
  tu_assert_ping (fd);
  tu_write_file (d->root, "a", a, 100);
  tu_assert_get (fd, "a", a, 100);
  listed = tu_list (fd);
  g_assert_cmpuint (listed->len, ==, 1);
  close (fd);

  g_assert_cmpint (tu_daemon_finish (d, SIGTERM, WAIT_S, &rest), ==, 0);
  g_assert_false (is_warning (rest));
}

static void
test_bus_unreachable (void)
{
  /* The port is announced once the bus has failed; the warning is still
   * awaited, so that TCP is checked after the failure, not before it. */
  assert_serves_without_bus (tu_daemon_start_dbus ("unix:path=/nonexistent/bus", NULL));
}

/* DBUS.md 1.1: a bus lost after start is one warning too. */
static void
test_bus_lost (void)
{
  OwnBus *bus = own_bus_start (0);
  GDBusConnection *watcher = bus_connect_to (bus->address);
  TuDaemon *d = tu_daemon_start_dbus (bus->address, NULL);

  wait_name_owned (watcher, TRUE);
  bus_close (watcher);
  own_bus_stop (bus);
  assert_serves_without_bus (d);
}

static void
test_no_dbus (void)
{
  GDBusConnection *bus = bus_connect ();
  TuDaemon *d = tu_daemon_start (NULL);
  int fd = tu_connect (d->port);
  g_autofree guint8 *a = tu_make_content (1, 100);

  tu_assert_ping (fd);
  tu_write_file (d->root, "a", a, 100);
  tu_assert_get (fd, "a", a, 100);
  /* Time the daemon would need to show up on the bus, had it tried. */
  g_usleep (500 * 1000);
  g_assert_false (name_has_owner (bus));
  tu_assert_ping (fd);
  close (fd);
  tu_daemon_stop (d);
  bus_close (bus);
}

/* ---- the client ---- */

/* Runs `filecache` with the given arguments (NULL-terminated) against the
 * test's bus; returns its exit status. */
static int
run_client (char **out, char **err, const char *first_arg, ...)
{
  const char *client = g_getenv ("FILECACHE");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  g_assert_nonnull (client);
  g_ptr_array_add (argv, (gpointer) client);
  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return tu_run ((const char *const *) argv->pdata, WAIT_S, out, err);
}

/* (transfer full): the first word after "@key:" on a line of @text */
static char *
field_value (const char *text, const char *key)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *prefix = g_strdup_printf ("%s:", key);

  for (char **line = lines; *line != NULL; line++)
    if (g_str_has_prefix (*line, prefix))
      {
        g_auto(GStrv) words = g_strsplit (g_strstrip (*line + strlen (prefix)), " ", 2);

        return g_strdup (words[0]);
      }
  g_test_message ("no \"%s\" in:\n%s", prefix, text);
  return NULL;
}

static void
assert_field (const char *text, const char *key, const char *expected)
{
  g_autofree char *value = field_value (text, key);

  g_assert_cmpstr (value, ==, expected);
}

static void
test_client_stats (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a = put (f, "a", 1, 1234);
  g_autofree char *out = NULL;
  g_autofree char *port = g_strdup_printf ("%u", f->d->port);
  g_autoptr(GVariant) stats = NULL;
  char real[PATH_MAX];
  static const char *const keys[] = {
    "hits", "misses", "loads", "entries", "size", "requests", "errors", "bytes-sent", "clients",
  };

  tu_assert_get (fd, "a", a, 1234);
  tu_assert_get (fd, "a", a, 1234);
  tu_assert_get (fd, "a", a, 1234);
  g_free (tu_get_err (fd, "nope"));

  g_assert_cmpint (run_client (&out, NULL, "stats", NULL), ==, 0);
  stats = get_stats (f);
  /* Values chosen to differ from each other and from zero. */
  assert_stat (stats, "hits", 2);
  assert_stat (stats, "misses", 2);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *expected = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                   stat_value (stats, keys[i]));

      assert_field (out, keys[i], expected);
    }
  g_assert_nonnull (realpath (f->d->root, real));
  assert_field (out, "root", real);
  assert_field (out, "port", port);
  close (fd);
}

static void
test_client_evict (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree char *out = NULL;

  put_and_get (f, fd, "a", 1, 100);
  put_and_get (f, fd, "b", 2, 100);
  g_assert_cmpint (run_client (&out, NULL, "evict", "a", "missing", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "a: evicted\nmissing: not cached\n");
  assert_cached (f, fd, "b");
  close (fd);
}

static void
test_client_evict_invalid (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  put_and_get (f, fd, "x", 1, 100);
  g_assert_cmpint (run_client (&out, &err, "evict", "../x", NULL), >, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, !=, "");
  assert_cached (f, fd, "x");
  close (fd);
}

static void
test_client_clear (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree char *out = NULL;

  put_and_get (f, fd, "a", 1, 100);
  put_and_get (f, fd, "b", 2, 100);
  g_assert_cmpint (run_client (&out, NULL, "clear", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "2 "));
  g_assert_true (g_str_has_suffix (out, "\n"));
  g_assert_cmpuint (strlen (strchr (out, '\n')), ==, 1);
  assert_cached (f, fd, "");
  close (fd);
}

/* ---- memory bounds ---- */

static const char *const max_entry_1000[] = { "--cache-size", "1M", "--max-entry-size", "1000", NULL };

static void
test_max_entry_size (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *over = put (f, "over", 1, 1001);
  g_autoptr(GVariant) stats = get_stats (f);

  assert_stat (stats, "max-entry-size", 1000);
  tu_assert_get (fd, "over", over, 1001);
  put_and_get (f, fd, "at", 2, 1000);
  assert_cached (f, fd, "at");

  /* Never above the capacity; back to the option's value after. */
  set_capacity (f, 500);
  wait_stat (f, "max-entry-size", 500);
  set_capacity (f, 2 * MiB);
  wait_stat (f, "max-entry-size", 1000);
  close (fd);
}

/* Sends "GET @name" and reads nothing: the reply stays in the daemon. */
static int
stalled_get (Fixture *f, const char *name)
{
  int fd = tu_connect_full ("127.0.0.1", f->d->port, 16 * KiB);
  g_autofree char *line = g_strdup_printf ("GET %s\n", name);

  tu_send_str (fd, line);
  return fd;
}

static void
test_stats_pinned (Fixture *f, gconstpointer data)
{
  const gsize len = 32 * MiB;
  g_autoptr(GVariant) before = NULL;
  int loader, reader;

  g_free (put (f, "big", 3, len));
  loader = stalled_get (f, "big");
  wait_stat (f, "loads", 1);
  reader = stalled_get (f, "big");
  wait_stat (f, "hits", 1);
  before = get_stats (f);
  assert_stat (before, "pinned", 0);

  g_assert_true (evict (f, "big"));
  wait_stat (f, "pinned", len);
  close (loader);
  close (reader);
  wait_stat (f, "pinned", 0);
}

static const char *const huge_capacity[] = { "--cache-size", "100G", "--max-entry-size", "1M", NULL };

static guint64
daemon_peak_rss (Fixture *f)
{
  g_autofree char *path = g_strdup_printf ("/proc/%u/status", name_owner_pid (f->bus));
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "\nVmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10) * KiB;
}

/* A capacity far beyond memory does not make a file beyond the largest
 * entry load: a 1 GiB sparse file is streamed whole, and the daemon's
 * memory stays far below its size. */
static void
test_stream_over_max_entry_size (Fixture *f, gconstpointer data)
{
  const gsize len = 1024 * MiB;
  g_autofree char *path = g_build_filename (f->d->root, "sparse", NULL);
  g_autofree char *status = NULL;
  g_autofree char *expected = g_strdup_printf ("OK %" G_GSIZE_FORMAT "\n", len);
  g_autofree guint8 *buffer = g_malloc (MiB);
  g_autoptr(GVariant) stats = NULL;
  int file = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  int fd = tu_connect (f->d->port);

  g_assert_cmpint (file, >=, 0);
  g_assert_cmpint (ftruncate (file, (off_t) len), ==, 0);
  close (file);

  tu_send_str (fd, "GET sparse\n");
  status = tu_read_line (fd);
  g_assert_cmpstr (status, ==, expected);
  for (gsize got = 0; got < len; )
    {
      ssize_t n = recv (fd, buffer, MIN (MiB, len - got), 0);

      g_assert_cmpint (n, >, 0);
      g_assert_true (buffer[0] == 0 && memcmp (buffer, buffer + 1, (gsize) n - 1) == 0);
      got += (gsize) n;
    }
  tu_assert_ping (fd);

  stats = get_stats (f);
  assert_stat (stats, "capacity", G_GUINT64_CONSTANT (100) << 30);
  assert_stat (stats, "max-entry-size", MiB);
  assert_stat (stats, "loads", 0);
  assert_stat (stats, "entries", 0);
  g_assert_cmpuint (daemon_peak_rss (f), <, len / 2);
  close (fd);
}

/* `filecache list --dbus` prints what `filecache list` prints. */
static void
assert_client_lists_alike (Fixture *f, const char *bus_address)
{
  g_autofree char *port = g_strdup_printf ("%u", f->d->port);
  const char *tcp_argv[] = { g_getenv ("FILECACHE"), "list", "--host", "127.0.0.1",
                             "--port", port, NULL };
  g_autofree char *env = g_strdup_printf ("DBUS_SESSION_BUS_ADDRESS=%s", bus_address);
  const char *dbus_argv[] = { "env", env, g_getenv ("FILECACHE"), "list", "--dbus", NULL };
  g_autofree char *tcp_out = NULL;
  g_autofree char *dbus_out = NULL;
  g_autofree char *dbus_err = NULL;

  g_assert_cmpint (tu_run (tcp_argv, WAIT_S, &tcp_out, NULL), ==, 0);
  g_assert_cmpint (tu_run (dbus_argv, WAIT_S, &dbus_out, &dbus_err), ==, 0);
  g_assert_cmpstr (dbus_err, ==, "");
  g_assert_cmpstr (dbus_out, ==, tcp_out);
}

static void
test_client_list (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);

  put_and_get (f, fd, "a", 1, 100);
  put_and_get (f, fd, "dir/b c", 2, 2000);
  put_and_get (f, fd, "a", 1, 100);
  assert_client_lists_alike (f, g_test_dbus_get_bus_address (test_bus));
  close (fd);
}

/* More entries than one page, and pages of 1000 too large for the bus. */
static void
test_client_list_small_bus (SmallBus *s, gconstpointer data)
{
  assert_client_lists_alike (&s->f, s->bus->address);
}

/* ---- Evicted, the miss split, the capacity advisor (DBUS.md 1.1) ---- */

typedef struct {
  GString *entries;   /* (owned): "name:reason,…" in arrival order */
  guint64 received;   /* entries + dropped of every signal */
  guint64 dropped;
  guint signals;
  guint largest;      /* the most entries in one signal */
} EvictedLog;

static void
on_evicted (GDBusConnection *connection, const char *sender, const char *path,
            const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  EvictedLog *log = user_data;
  g_autoptr(GVariant) entries = NULL;
  GVariantIter iter;
  const char *name, *reason;
  guint32 dropped;

  g_variant_get (params, "(@a(ss)u)", &entries, &dropped);
  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_next (&iter, "(&s&s)", &name, &reason))
    g_string_append_printf (log->entries, "%s%s:%s", log->entries->len > 0 ? "," : "",
                            name, reason);
  log->signals++;
  log->largest = MAX (log->largest, (guint) g_variant_n_children (entries));
  log->received += g_variant_n_children (entries) + dropped;
  log->dropped += dropped;
}

static guint
evicted_subscribe (Fixture *f, EvictedLog *log)
{
  log->entries = g_string_new (NULL);
  return g_dbus_connection_signal_subscribe (f->bus, DAEMON_NAME, DAEMON_IFACE, "Evicted",
                                             DAEMON_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                             on_evicted, log, NULL);
}

/* Receives signals until they account for every eviction and
 * invalidation Stats counts. */
static void
evicted_wait_all (Fixture *f, EvictedLog *log)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  guint64 expected;

  do
    {
      g_autoptr(GVariant) stats = get_stats (f);

      expected = stat_value (stats, "evictions") + stat_value (stats, "invalidations");
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (log->received < expected)
        g_usleep (20 * 1000);
    }
  while (log->received < expected && g_get_monotonic_time () < deadline);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (log->received, ==, expected);
}

static void
test_evicted_reasons (Fixture *f, gconstpointer data)
{
  EvictedLog log = { NULL };
  guint id = evicted_subscribe (f, &log);
  int fd = tu_connect (f->d->port);
  g_autofree char *gone = NULL;
  g_autofree char *path = NULL;
  g_autofree guint8 *d2 = NULL;

  put_and_get (f, fd, "a", 1, 600 * KiB);
  put_and_get (f, fd, "b", 2, 600 * KiB);   /* a makes room */
  g_assert_true (evict (f, "b"));
  put_and_get (f, fd, "c", 3, 10);
  g_assert_cmpuint (clear (f), ==, 1);
  put_and_get (f, fd, "d", 4, 10);
  d2 = put (f, "d", 5, 11);                 /* d changed */
  tu_assert_get (fd, "d", d2, 11);
  put_and_get (f, fd, "e", 6, 10);
  path = g_build_filename (f->d->root, "e", NULL);
  g_assert_cmpint (unlink (path), ==, 0);   /* e deleted */
  gone = tu_get_err (fd, "e");
  tu_assert_err (gone, "404");

  evicted_wait_all (f, &log);
  g_assert_cmpstr (log.entries->str, ==, "a:capacity,b:evict,c:clear,d:changed,e:deleted");
  g_assert_cmpuint (log.dropped, ==, 0);
  g_dbus_connection_signal_unsubscribe (f->bus, id);
  g_string_free (log.entries, TRUE);
  close (fd);
}

#define BURST 10000

static void
test_evicted_burst (Fixture *f, gconstpointer data)
{
  EvictedLog log = { NULL };
  guint id = evicted_subscribe (f, &log);
  int fd = tu_connect (f->d->port);
  gint64 start;
  double elapsed_s;

  /* All written first: a file changed within the clock's current tick
   * makes its loader wait for the next. */
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%05u", i);

      tu_write_file_str (f->d->root, name, "x");
    }
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%05u", i);

      tu_assert_get (fd, name, "x", 1);
    }
  start = g_get_monotonic_time ();
  g_assert_cmpuint (clear (f), ==, BURST);
  evicted_wait_all (f, &log);
  elapsed_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

  /* Every eviction is sent or counted as dropped, in signals of at most
   * 1000 entries, at most 10 a second: a lower bound on the time the
   * signals took, whatever the machine's speed. */
  g_assert_cmpuint (log.received, ==, BURST);
  g_assert_cmpuint (log.largest, <=, 1000);
  g_assert_cmpuint (log.dropped, >, 0);
  g_assert_cmpfloat (log.signals, <=, 10 * elapsed_s + 1);
  g_dbus_connection_signal_unsubscribe (f->bus, id);
  g_string_free (log.entries, TRUE);
  close (fd);
}

static void
assert_miss_split (GVariant *stats, guint64 cold, guint64 evicted, guint64 changed)
{
  assert_stat (stats, "misses-cold", cold);
  assert_stat (stats, "misses-evicted", evicted);
  assert_stat (stats, "misses-changed", changed);
  assert_stat (stats, "misses", cold + evicted + changed);
}

static void
test_stats_miss_split (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree guint8 *a2 = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  g_autoptr(GVariant) third = NULL;
  g_autoptr(GVariant) history = NULL;

  put_and_get (f, fd, "a", 1, 100);         /* cold */
  first = get_stats (f);
  assert_miss_split (first, 1, 0, 0);
  g_assert_true (evict (f, "a"));
  put_and_get (f, fd, "a", 1, 100);         /* evicted */
  second = get_stats (f);
  assert_miss_split (second, 1, 1, 0);
  a2 = put (f, "a", 2, 101);
  tu_assert_get (fd, "a", a2, 101);         /* changed */
  tu_assert_get (fd, "a", a2, 101);         /* a hit */
  third = get_stats (f);
  assert_miss_split (third, 1, 1, 1);
  assert_stat (third, "hits", 1);

  history = get_property (f, "History", "u");
  g_assert_cmpuint (g_variant_get_uint32 (history), ==, 4);
  close (fd);
}

/* Zipf-like requests over files of several sizes, the same for every
 * daemon that replays them. */
#define ADVISOR_FILES 40
#define ADVISOR_REQUESTS 1500

static void
advisor_replay (TuDaemon *d)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  int fd = tu_connect (d->port);
  guint8 *contents[ADVISOR_FILES];
  gsize sizes[ADVISOR_FILES];

  for (guint i = 0; i < ADVISOR_FILES; i++)
    {
      g_autofree char *name = g_strdup_printf ("file%02u", i);

      sizes[i] = 4 * KiB + (i * 7919 % 13) * 5 * KiB;
      contents[i] = tu_make_content (i, sizes[i]);
      tu_write_file (d->root, name, contents[i], sizes[i]);
    }
  for (guint r = 0; r < ADVISOR_REQUESTS; r++)
    {
      /* Skewed to the first files, as real requests are. */
      double u = g_rand_double (rand);
      guint i = MIN ((guint) (u * u * u * ADVISOR_FILES), ADVISOR_FILES - 1);
      g_autofree char *name = g_strdup_printf ("file%02u", i);

      tu_assert_get (fd, name, contents[i], sizes[i]);
    }
  for (guint i = 0; i < ADVISOR_FILES; i++)
    g_free (contents[i]);
  close (fd);
}

static double
measured_ratio (Fixture *f)
{
  g_autoptr(GVariant) stats = get_stats (f);

  return (double) stat_value (stats, "hits") /
         (double) (stat_value (stats, "hits") + stat_value (stats, "misses"));
}

static void
test_simulate_matches_measured (Fixture *f, gconstpointer data)
{
  const guint64 capacities[] = { 128 * KiB, 256 * KiB };
  const char *const at_double[] = { "--cache-size", "256K", NULL };
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) history = NULL;
  double simulated[2], measured;

  advisor_replay (f->d);
  history = get_property (f, "History", "u");
  g_assert_cmpuint (g_variant_get_uint32 (history), ==, ADVISOR_REQUESTS);
  measured = measured_ratio (f);
  reply = call_for_value (f, "SimulateCapacity",
                          g_variant_new ("(@at)", g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64,
                                                                             capacities, 2, sizeof (guint64))),
                          "(a(td))");
  g_assert_cmpuint (g_variant_n_children (reply), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      guint64 capacity;

      g_variant_get_child (reply, i, "(td)", &capacity, &simulated[i]);
      g_assert_cmpuint (capacity, ==, capacities[i]);
    }
  g_test_message ("128K: measured %.4f, simulated %.4f", measured, simulated[0]);
  g_assert_cmpfloat_with_epsilon (simulated[0], measured, 0.02);

  /* The same requests against a daemon started at the other capacity. */
  tu_daemon_stop (f->d);
  wait_name_owned (f->bus, FALSE);
  f->d = start_owner (f->bus, at_double);
  advisor_replay (f->d);
  measured = measured_ratio (f);
  g_test_message ("256K: measured %.4f, simulated %.4f", measured, simulated[1]);
  g_assert_cmpfloat_with_epsilon (simulated[1], measured, 0.02);
}

static void
test_simulate_too_many (Fixture *f, gconstpointer data)
{
  guint64 capacities[65] = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *remote = NULL;

  reply = call_full (f, DAEMON_IFACE, "SimulateCapacity",
                     g_variant_new ("(@at)", g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64,
                                                                        capacities, 65, sizeof (guint64))),
                     "(a(td))", &error);
  g_assert_null (reply);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, INVALID_ARGUMENT);

  /* 64 are fine, and an empty history gives 0. */
  g_clear_error (&error);
  reply = call_full (f, DAEMON_IFACE, "SimulateCapacity",
                     g_variant_new ("(@at)", g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64,
                                                                        capacities, 64, sizeof (guint64))),
                     "(a(td))", &error);
  g_assert_no_error (error);
}

static void
test_client_stats_advise (Fixture *f, gconstpointer data)
{
  int fd = tu_connect (f->d->port);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_autofree guint8 *a = put (f, "a", 1, 100);

  tu_assert_get (fd, "a", a, 100);           /* a cold miss */
  tu_assert_get (fd, "a", a, 100);           /* a hit */
  g_assert_cmpint (run_client (&out, &err, "stats", "--advise", NULL), ==, 0);
  g_test_message ("%s", out);
  /* g_format_size() puts a no-break space before the unit; the column
   * is padded by characters, not bytes. */
  g_assert_nonnull (strstr (out, "256.0\u00a0KiB         50.0 %\n"));
  g_assert_nonnull (strstr (out, "1.0\u00a0MiB           50.0 %  (now)\n"));
  g_assert_nonnull (strstr (out, "8.0\u00a0MiB           50.0 %\n"));
  g_assert_nonnull (strstr (out, "misses: 1 cold, 0 evicted, 0 changed, of 1\n"));
  close (fd);
}

static void
test_client_watch (Fixture *f, gconstpointer data)
{
  const char *argv[] = { g_getenv ("FILECACHE"), "watch", NULL };
  g_autoptr(GSubprocessLauncher) launcher = tu_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) watch = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) seen = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  int fd = tu_connect (f->d->port);
  int out;

  watch = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  out = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_subprocess_get_stdout_pipe (watch)));

  /* Evicts until the watcher, subscribed at some point, prints a line. */
  while (strchr (seen->str, '\n') == NULL && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { out, POLLIN, 0 };
      char buffer[256];

      put_and_get (f, fd, "a", 1, 10);
      g_assert_true (evict (f, "a"));
      if (poll (&pfd, 1, 100) == 1)
        {
          gssize n = read (out, buffer, sizeof buffer);

          g_assert_cmpint (n, >, 0);
          g_string_append_len (seen, buffer, n);
        }
    }
  /* "<ISO 8601 time> evict a" */
  g_assert_nonnull (strstr (seen->str, " evict a\n"));
  g_assert_true (g_ascii_isdigit (seen->str[0]));

  g_subprocess_send_signal (watch, SIGINT);
  g_assert_true (g_subprocess_wait (watch, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (watch));
  g_assert_cmpint (g_subprocess_get_exit_status (watch), ==, 0);
  close (fd);
}

int
main (int argc, char **argv)
{
  int status;

  tu_init (&argc, &argv);
  tu_start_bus_watcher ();

  add_test ("/dbus/list-cache/matches-tcp-list", NULL, test_list_cache_matches_tcp);
  add_test ("/dbus/list-cache/over-8mib-too-large", cache_1g, test_list_cache_over_8mib);
  add_small_bus_test ("/dbus/list-cache/too-large-for-bus", test_list_cache_too_large_for_bus);
  add_test ("/dbus/list-cache-range/pages", NULL, test_list_cache_range_pages);
  add_test ("/dbus/list-cache-range/count-limit", NULL, test_list_cache_range_count_limit);
  add_test ("/dbus/evict/cached", NULL, test_evict_cached);
  add_test ("/dbus/evict/not-cached", NULL, test_evict_not_cached);
  add_test ("/dbus/evict/invalid-name", NULL, test_evict_invalid_name);
  add_test ("/dbus/evict/while-sending", NULL, test_evict_while_sending);
  add_test ("/dbus/clear", NULL, test_clear);

  add_test ("/dbus/stats/keys-and-types", NULL, test_stats_keys_fresh);
  add_test ("/dbus/stats/scripted-sequence", NULL, test_stats_scripted);
  add_test ("/dbus/stats/evictions", NULL, test_stats_evictions);
  add_test ("/dbus/stats/miss-split", NULL, test_stats_miss_split);
  add_test ("/dbus/evicted/five-reasons", cache_1m, test_evicted_reasons);
  add_test ("/dbus/evicted/burst-rate-bound", NULL, test_evicted_burst);
  add_test ("/dbus/simulate/matches-measured", advisor_cache, test_simulate_matches_measured);
  add_test ("/dbus/simulate/too-many-capacities", NULL, test_simulate_too_many);
  add_test ("/dbus/client/stats-advise", cache_1m, test_client_stats_advise);
  add_test ("/dbus/client/watch", NULL, test_client_watch);
  add_test ("/dbus/stats/invalidations", NULL, test_stats_invalidations);
  add_test ("/dbus/stats/refused", one_client, test_stats_refused);
  add_test ("/dbus/stats/clients", NULL, test_stats_clients);
  add_test ("/dbus/stats/concurrent-exact", NULL, test_stats_concurrent_exact);
  add_test ("/dbus/stats/single-flight", NULL, test_single_flight);
  add_test ("/dbus/stats/max-entry-size", max_entry_1000, test_max_entry_size);
  add_test ("/dbus/stats/pinned", NULL, test_stats_pinned);
  add_test ("/dbus/stream/over-max-entry-size", huge_capacity, test_stream_over_max_entry_size);

  add_test ("/dbus/property/root", NULL, test_property_root);
  add_test ("/dbus/property/port", NULL, test_property_port);
  add_test ("/dbus/property/read-only", NULL, test_property_read_only);
  add_test ("/dbus/property/capacity-from-option", cache_1m, test_property_capacity_option);
  add_test ("/dbus/property/capacity-shrink-evicts-lru", cache_1m, test_property_capacity_shrink);
  add_test ("/dbus/property/capacity-same-value-announced", NULL, test_property_capacity_same_value);
  add_test ("/dbus/property/capacity-zero-disables", NULL, test_property_capacity_zero);

  add_test ("/dbus/client/stats", NULL, test_client_stats);
  add_test ("/dbus/client/evict", NULL, test_client_evict);
  add_test ("/dbus/client/evict-invalid-name", NULL, test_client_evict_invalid);
  add_test ("/dbus/client/clear", NULL, test_client_clear);
  add_test ("/dbus/client/list", NULL, test_client_list);
  add_small_bus_test ("/dbus/client/list-pages-on-small-bus", test_client_list_small_bus);

  add_test ("/dbus/name/second-daemon-refused", NULL, test_name_second_daemon_refused);
  g_test_add_func ("/dbus/name/no-dbus", test_no_dbus);
  g_test_add_func ("/dbus/name/bus-unreachable", test_bus_unreachable);
  g_test_add_func ("/dbus/name/bus-lost-keeps-serving", test_bus_lost);

  test_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (test_bus);
  status = g_test_run ();
  g_test_dbus_down (test_bus);
  g_object_unref (test_bus);
  return status;
}
