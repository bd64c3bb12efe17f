#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir-index.h"
#include "errors.h"
#include "jsoncheck.h"
#include "listing-budget.h"
#include "testutil.h"

#define MTIME G_GINT64_CONSTANT (1796068170)  /* 2026-11-30T19:49:30Z, HTTP.md's example */
#define ODD_NAME "b c<&\">'\xc3\xa9.txt"

typedef struct {
  char *base;      /* (owned): holds root and outside */
  char *root;      /* (owned) */
  int root_fd;
} Fixture;

static void
put_file (Fixture    *fixture,
          const char *name,
          gsize       size)
{
  g_autofree char *path = g_build_filename (fixture->root, name, NULL);
  struct timespec times[2] = { { MTIME, 0 }, { MTIME, 0 } };
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) size), ==, 0);
  g_assert_cmpint (futimens (fd, times), ==, 0);
  g_close (fd, NULL);
}

static void
put_link (Fixture    *fixture,
          const char *target,
          const char *name)
{
  g_autofree char *path = g_build_filename (fixture->root, name, NULL);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
put_dir (Fixture    *fixture,
         const char *name)
{
  g_autofree char *path = g_build_filename (fixture->root, name, NULL);

  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *outside = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *fifo = NULL;

  fixture->base = g_dir_make_tmp ("fc-dir-index-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->root = g_build_filename (fixture->base, "root", NULL);
  outside = g_build_filename (fixture->base, "outside", NULL);
  secret = g_build_filename (outside, "secret", NULL);
  g_assert_cmpint (g_mkdir (fixture->root, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
  g_file_set_contents (secret, "secret\n", -1, &error);
  g_assert_no_error (error);

  put_file (fixture, "a.txt", 12);
  put_file (fixture, "Z.txt", 0);
  put_file (fixture, ODD_NAME, 1);
  put_file (fixture, "big.bin", 1536);
  put_dir (fixture, "sub");
  put_file (fixture, "sub/inner.txt", 3);
  put_link (fixture, "../a.txt", "sub/up");
  put_link (fixture, "a.txt", "to-a");
  put_link (fixture, "sub", "to-sub");
  /* Left out: outside the root, dangling, neither file nor directory,
   * names the name rules refuse. */
  put_link (fixture, "../outside/secret", "out");
  put_link (fixture, "../outside", "outdir");
  put_link (fixture, "/etc/passwd", "abs");
  put_link (fixture, "missing", "dangling");
  put_link (fixture, "loop", "loop");
  fifo = g_build_filename (fixture->root, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  put_file (fixture, "ctl\x01", 1);
  put_file (fixture, "bad\xff.bin", 1);
  put_dir (fixture, "six");
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *name = g_strdup_printf ("six/%u", i);

      put_file (fixture, name, i);
    }

  fixture->root_fd = open (fixture->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fixture->root_fd, >=, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_close (fixture->root_fd, NULL);
  tu_rm_rf (fixture->base);
  g_free (fixture->root);
  g_free (fixture->base);
}

/* The listings' budget of these tests: each page is given back at once,
 * so it is 0 between them. */
static atomic_size_t held;

static GString *
page_given_back (GString *page,
                 GError  *error)
{
  g_assert_no_error (error);
  g_assert_nonnull (page);
  g_assert_true (fc_listing_charge (&held, -(gssize) page->allocated_len, 0, NULL));
  g_assert_cmpuint (held, ==, 0);
  return page;
}

static GString *
html_of (const char *dir_name,
         GArray     *entries)
{
  GError *error = NULL;

  return page_given_back (fc_dir_index_html (dir_name, entries, &held, &error), error);
}

static GString *
json_of (GArray *entries)
{
  GError *error = NULL;

  return page_given_back (fc_dir_index_json (entries, &held, &error), error);
}

static GArray *
read_ok (Fixture    *fixture,
         const char *name)
{
  g_autoptr(GError) error = NULL;
  GArray *entries = fc_dir_index_read (fixture->root_fd, name, FC_DIR_INDEX_MAX_ENTRIES, &error);

  g_assert_no_error (error);
  g_assert_nonnull (entries);
  return entries;
}

static void
assert_names (GArray            *entries,
              const char *const *names)
{
  g_assert_cmpuint (entries->len, ==, g_strv_length ((char **) names));
  for (guint i = 0; i < entries->len; i++)
    g_assert_cmpstr (g_array_index (entries, FcDirEntry, i).name, ==, names[i]);
}

static void
test_read_root (Fixture       *fixture,
                gconstpointer  data)
{
  /* Bytewise: uppercase before lowercase, SP before letters. */
  const char *const names[] = {
    "Z.txt", "a.txt", ODD_NAME, "big.bin", "six", "sub", "to-a", "to-sub", NULL,
  };
  g_autoptr(GArray) entries = read_ok (fixture, "");
  const FcDirEntry *to_a = &g_array_index (entries, FcDirEntry, 6);
  const FcDirEntry *to_sub = &g_array_index (entries, FcDirEntry, 7);

  assert_names (entries, names);
  /* A link is shown as what it resolves to. */
  g_assert_false (to_a->is_dir);
  g_assert_cmpuint (to_a->size, ==, 12);
  g_assert_cmpint (to_a->mtime, ==, MTIME);
  g_assert_true (to_sub->is_dir);
  g_assert_false (g_array_index (entries, FcDirEntry, 1).is_dir);
  g_assert_cmpuint (g_array_index (entries, FcDirEntry, 3).size, ==, 1536);
}

static void
test_read_sub (Fixture       *fixture,
               gconstpointer  data)
{
  const char *const names[] = { "inner.txt", "up", NULL };
  g_autoptr(GArray) entries = read_ok (fixture, "sub");
  g_autoptr(GArray) via_link = read_ok (fixture, "to-sub");

  assert_names (entries, names);
  /* sub/up is ../a.txt: a link through `..` that stays inside. */
  g_assert_cmpuint (g_array_index (entries, FcDirEntry, 1).size, ==, 12);
  assert_names (via_link, names);
}

static void
test_read_refused (Fixture       *fixture,
                   gconstpointer  data)
{
  static const struct {
    const char *name;
    FcError code;
  } cases[] = {
    { "a.txt", FC_ERROR_NOT_FOUND },
    { "missing", FC_ERROR_NOT_FOUND },
    { "fifo", FC_ERROR_NOT_FOUND },
    { "outdir", FC_ERROR_OUTSIDE_ROOT },
    { "loop", FC_ERROR_LINK_LOOP },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("name: %s", cases[i].name);
      g_assert_null (fc_dir_index_read (fixture->root_fd, cases[i].name, 10, &error));
      g_assert_error (error, FC_ERROR, (gint) cases[i].code);
    }
}

static void
test_read_bound (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = fc_dir_index_read (fixture->root_fd, "six", 6, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 6);

  g_assert_null (fc_dir_index_read (fixture->root_fd, "six", 5, &error));
  g_assert_error (error, FC_DIR_INDEX_ERROR, FC_DIR_INDEX_ERROR_TOO_MANY);
  g_assert_cmpstr (error->message, ==, "Directory /six/ has more than 5 entries, too many to list");
  g_clear_error (&error);

  /* Entries left out count too: the bound is on the reading. */
  g_assert_null (fc_dir_index_read (fixture->root_fd, "", 8, &error));
  g_assert_error (error, FC_DIR_INDEX_ERROR, FC_DIR_INDEX_ERROR_TOO_MANY);
  g_assert_cmpstr (error->message, ==, "Directory / has more than 8 entries, too many to list");
}

static void
test_json_tree (Fixture       *fixture,
                gconstpointer  data)
{
  static const char expected[] =
    "[{\"name\": \"inner.txt\", \"type\": \"file\", \"size\": 3, \"mtime\": \"2026-11-30T19:49:30Z\"}, "
    "{\"name\": \"up\", \"type\": \"file\", \"size\": 12, \"mtime\": \"2026-11-30T19:49:30Z\"}]";
  g_autoptr(GArray) entries = read_ok (fixture, "sub");
  g_autoptr(GArray) root = read_ok (fixture, "");
  g_autoptr(GString) json = json_of (entries);
  g_autoptr(GString) root_json = json_of (root);
  JsonCursor c = { root_json->str, 0 };

  g_assert_cmpstr (json->str, ==, expected);
  /* Directories carry neither size nor time; the odd name escaped. */
  g_assert_nonnull (strstr (root_json->str, "{\"name\": \"to-sub\", \"type\": \"directory\"}]"));
  g_assert_nonnull (strstr (root_json->str, "{\"name\": \"b c<&\\\">'\xc3\xa9.txt\", \"type\": \"file\", \"size\": 1, "));
  g_assert_true (json_value (&c, NULL));
  g_assert_cmpint (*c.p, ==, '\0');
}

static void
clear_name (gpointer data)
{
  g_free (((FcDirEntry *) data)->name);
}

static GArray *
synthetic (const char *name,
           gboolean    is_dir,
           guint64     size)
{
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (FcDirEntry));
  FcDirEntry entry = { g_strdup (name), is_dir, size, MTIME };

  g_array_set_clear_func (entries, clear_name);
  g_array_append_val (entries, entry);
  return entries;
}

/* RFC 8259's escapes, whatever bytes a name holds, and output any strict
 * parser takes back to the same name. */
static void
test_json_escapes (void)
{
  static const struct {
    const char *name;
    const char *json;
  } cases[] = {
    { "plain", "\"plain\"" },
    { "q\"uote", "\"q\\\"uote\"" },
    { "back\\slash", "\"back\\\\slash\"" },
    { "c\x01tl\x1f", "\"c\\u0001tl\\u001f\"" },
    { "tab\tnl\n", "\"tab\\u0009nl\\u000a\"" },
    { "\xc3\xa9\xe2\x82\xac/", "\"\xc3\xa9\xe2\x82\xac/\"" },
    { "</script>", "\"</script>\"" },
  };

  g_autoptr(GArray) none = g_array_new (FALSE, FALSE, sizeof (FcDirEntry));
  g_autoptr(GString) empty = json_of (none);

  g_assert_cmpstr (empty->str, ==, "[]");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GArray) entries = synthetic (cases[i].name, TRUE, 0);
      g_autoptr(GString) json = json_of (entries);
      g_autofree char *expected = g_strdup_printf ("[{\"name\": %s, \"type\": \"directory\"}]", cases[i].json);
      g_autofree char *object = g_strndup (json->str + 1, json->len - 2);
      g_autoptr(GHashTable) members = json_parse_object (object);
      g_autofree char *decoded = NULL;
      JsonCursor c;

      g_assert_cmpstr (json->str, ==, expected);
      g_assert_nonnull (members);
      c = (JsonCursor) { g_hash_table_lookup (members, "name"), 0 };
      g_assert_true (json_string (&c, &decoded));
      g_assert_cmpstr (decoded, ==, cases[i].name);
    }
}

static void
assert_contains (const GString *page,
                 const char    *needle)
{
  g_test_message ("looking for: %s", needle);
  g_assert_nonnull (strstr (page->str, needle));
}

static void
test_html_root (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GArray) entries = read_ok (fixture, "");
  g_autoptr(GString) page = html_of ("", entries);

  g_assert_true (g_str_has_prefix (page->str, "<!DOCTYPE html>\n"));
  assert_contains (page, "<meta charset=\"utf-8\">");
  assert_contains (page, "<title>Index of /</title>");
  assert_contains (page, "<h1>Index of /</h1>");
  assert_contains (page, "<a href=\"a.txt\">a.txt</a></td><td class=\"size\">12 B</td><td>2026-11-30 19:49</td>");
  assert_contains (page, "<a href=\"b%20c%3C%26%22%3E%27%C3%A9.txt\">b c&lt;&amp;&quot;&gt;&#39;\xc3\xa9.txt</a>");
  assert_contains (page, "<a href=\"big.bin\">big.bin</a></td><td class=\"size\">1.5 KiB</td>");
  assert_contains (page, "<a href=\"sub/\">sub/</a></td><td class=\"size\">-</td>");
  assert_contains (page, "<a href=\"to-sub/\">to-sub/</a>");
  g_assert_null (strstr (page->str, "../"));
  /* Self-contained: no script, nothing fetched from elsewhere. */
  g_assert_null (strstr (page->str, "<script"));
  g_assert_null (strstr (page->str, "src="));
  g_assert_null (strstr (page->str, "http"));
  g_assert_null (strstr (page->str, "secret"));
}

static void
test_html_sub (void)
{
  g_autoptr(GArray) entries = synthetic ("x:y?#%", FALSE, 0);
  g_autoptr(GString) page = html_of ("a <b>/c&d", entries);

  assert_contains (page, "<title>Index of /a &lt;b&gt;/c&amp;d/</title>");
  assert_contains (page, "<h1>Index of /a &lt;b&gt;/c&amp;d/</h1>");
  assert_contains (page, "<tr><td><a href=\"../\">../</a></td>");
  /* A `:` cannot pass for a scheme, nor `?` and `#` end the path. */
  assert_contains (page, "<a href=\"x%3Ay%3F%23%25\">x:y?#%</a>");
}

/* IEC units in plain ASCII: a `.` and an ordinary space, whatever the
 * locale (no g_format_size(): its separator is the locale's and its
 * space a no-break one). */
static void
test_html_sizes (void)
{
  static const struct {
    guint64 size;
    const char *text;
  } cases[] = {
    { 0, "0 B" },
    { 1023, "1023 B" },
    { 1024, "1.0 KiB" },
    { 1536, "1.5 KiB" },
    { 1075, "1.0 KiB" },
    { 1997, "2.0 KiB" },
    { 1048524, "1023.9 KiB" },
    { 1048575, "1.0 MiB" },   /* 1023.999 KiB rounds up into the next unit */
    { 1048576, "1.0 MiB" },
    { G_GUINT64_CONSTANT (5905580032), "5.5 GiB" },
    { G_GUINT64_CONSTANT (1) << 50, "1.0 PiB" },
    { G_MAXUINT64, "16.0 EiB" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GArray) entries = synthetic ("f", FALSE, cases[i].size);
      g_autoptr(GString) page = html_of ("", entries);
      g_autofree char *cell = g_strdup_printf ("<td class=\"size\">%s</td>", cases[i].text);

      assert_contains (page, cell);
      /* Nothing but ASCII outside the names. */
      for (gsize j = 0; j < page->len; j++)
        g_assert_cmpuint ((guchar) page->str[j], <, 0x80);
    }
}

static void
test_accept (void)
{
  static const struct {
    const char *lines[3];
    gboolean json;
  } cases[] = {
    { { NULL }, FALSE },
    { { "application/json" }, TRUE },
    { { "Application/JSON" }, TRUE },
    { { "text/html" }, FALSE },
    { { "*/*" }, FALSE },
    { { "application/*" }, FALSE },
    { { "application/json, text/html" }, TRUE },
    { { "text/html, application/json" }, FALSE },
    { { "text/html;q=0.1, application/json" }, FALSE },
    { { "application/json;q=0.5, text/html" }, TRUE },
    { { "text/html;q=0, application/json" }, TRUE },
    { { "text/html ; q=0.000 , application/json" }, TRUE },
    { { "application/json;q=0" }, FALSE },
    { { "application/json;q=0.0, text/html" }, FALSE },
    { { "application/json;Q=0.00" }, FALSE },
    { { "application/json;q=0.001" }, TRUE },
    { { "application/json;q=0.0000" }, TRUE },   /* not a qvalue: not a refusal */
    { { "text/plain, application/json" }, TRUE },
    { { "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" }, FALSE },
    { { "application/json-seq" }, FALSE },
    { { "text/plain", "application/json" }, TRUE },
    { { "text/html", "application/json" }, FALSE },
    { { "application/json", "text/html" }, TRUE },
    /* A quoted `,` does not end an element. */
    { { "text/plain;foo=\"a, application/json;x=1\"", "text/html" }, FALSE },
    { { "text/x;foo=\"a,text/html\", application/json" }, TRUE },
    { { "text/x;foo=\"a;q=0\", application/json;bar=\"\\\";q=0\"" }, TRUE },
    { { ",, ,application/json" }, TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize lens[3];
      guint n = 0;

      for (; n < G_N_ELEMENTS (cases[i].lines) && cases[i].lines[n] != NULL; n++)
        lens[n] = strlen (cases[i].lines[n]);
      g_test_message ("Accept: %s ...", n > 0 ? cases[i].lines[0] : "(none)");
      g_assert_cmpint (fc_accept_prefers_json (cases[i].lines, lens, n), ==, cases[i].json);
    }
  /* @lens bounds each line. */
  g_assert_false (fc_accept_prefers_json ((const char *const[]) { "application/jsonx" },
                                          (const gsize[]) { 17 }, 1));
  g_assert_true (fc_accept_prefers_json ((const char *const[]) { "application/jsonx" },
                                         (const gsize[]) { 16 }, 1));
}

/* A page is charged to the listings' budget before it grows: one of
 * names that escape eightfold (an `&` is `%26` in the link, `&amp;`
 * shown) stops at the budget, not at the 80 MB it would take, and gives
 * its charge back. */
static void
test_budget_too_large (void)
{
  enum { N = 40000, LEN = 250 };
  g_autoptr(GArray) entries = g_array_sized_new (FALSE, FALSE, sizeof (FcDirEntry), N);
  g_autoptr(GError) error = NULL;

  g_array_set_clear_func (entries, clear_name);
  for (guint i = 0; i < N; i++)
    {
      FcDirEntry entry = { g_strnfill (LEN, '&'), FALSE, 1, MTIME };

      g_array_append_val (entries, entry);
    }
  g_assert_null (fc_dir_index_html ("", entries, &held, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_LISTING_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "67108864"));
  g_assert_cmpuint (held, ==, 0);
}

/* What the other listings hold leaves a page less: refused as busy (ask
 * again), with nothing of its own still charged. */
static void
test_budget_busy (void)
{
  g_autoptr(GArray) entries = synthetic ("a", FALSE, 1);
  g_autoptr(GError) error = NULL;

  held = FC_LISTING_BUDGET - 100;
  g_assert_null (fc_dir_index_json (entries, &held, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_LISTINGS_BUSY);
  g_assert_cmpuint (held, ==, FC_LISTING_BUDGET - 100);
  g_clear_error (&error);
  g_assert_null (fc_dir_index_html ("", entries, &held, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_LISTINGS_BUSY);
  g_assert_cmpuint (held, ==, FC_LISTING_BUDGET - 100);
  held = 0;
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/dir-index/read/root", Fixture, NULL, fixture_set_up, test_read_root, fixture_tear_down);
  g_test_add ("/dir-index/read/subdirectory", Fixture, NULL, fixture_set_up, test_read_sub, fixture_tear_down);
  g_test_add ("/dir-index/read/refused", Fixture, NULL, fixture_set_up, test_read_refused, fixture_tear_down);
  g_test_add ("/dir-index/read/bound", Fixture, NULL, fixture_set_up, test_read_bound, fixture_tear_down);
  g_test_add ("/dir-index/json/tree", Fixture, NULL, fixture_set_up, test_json_tree, fixture_tear_down);
  g_test_add_func ("/dir-index/json/escapes", test_json_escapes);
  g_test_add ("/dir-index/html/root", Fixture, NULL, fixture_set_up, test_html_root, fixture_tear_down);
  g_test_add_func ("/dir-index/html/subdirectory", test_html_sub);
  g_test_add_func ("/dir-index/html/sizes", test_html_sizes);
  g_test_add_func ("/dir-index/accept", test_accept);
  g_test_add_func ("/dir-index/budget/too-large", test_budget_too_large);
  g_test_add_func ("/dir-index/budget/busy", test_budget_busy);
  return g_test_run ();
}
