/* `filecache stats` output, as pure functions of the Stats a{sv}: JSON
 * that parses, and Prometheus's text exposition format. */
#define G_LOG_DOMAIN "test"

#include <locale.h>
#include <math.h>
#include <string.h>

#include "jsoncheck.h"
#include "stats-format.h"

/* All of DBUS.md's keys, 1.0 and 1.1, with values that differ, and keys
 * no version lists, of every kind. */
static GVariant *
make_stats (gboolean with_unknown)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "hits", g_variant_new_uint64 (12));
  g_variant_builder_add (&b, "{sv}", "misses", g_variant_new_uint64 (5));
  g_variant_builder_add (&b, "{sv}", "loads", g_variant_new_uint64 (4));
  g_variant_builder_add (&b, "{sv}", "evictions", g_variant_new_uint64 (1));
  g_variant_builder_add (&b, "{sv}", "invalidations", g_variant_new_uint64 (2));
  g_variant_builder_add (&b, "{sv}", "entries", g_variant_new_uint32 (3));
  g_variant_builder_add (&b, "{sv}", "size", g_variant_new_uint64 (3072));
  g_variant_builder_add (&b, "{sv}", "capacity", g_variant_new_uint64 (67108864));
  g_variant_builder_add (&b, "{sv}", "requests", g_variant_new_uint64 (30));
  g_variant_builder_add (&b, "{sv}", "errors", g_variant_new_uint64 (6));
  g_variant_builder_add (&b, "{sv}", "refused", g_variant_new_uint64 (0));
  g_variant_builder_add (&b, "{sv}", "bytes-sent", g_variant_new_uint64 (G_MAXUINT64));
  g_variant_builder_add (&b, "{sv}", "clients", g_variant_new_uint32 (7));
  g_variant_builder_add (&b, "{sv}", "clients-total", g_variant_new_uint64 (70));
  g_variant_builder_add (&b, "{sv}", "uptime", g_variant_new_uint64 (3600));
  g_variant_builder_add (&b, "{sv}", "misses-cold", g_variant_new_uint64 (3));
  g_variant_builder_add (&b, "{sv}", "misses-evicted", g_variant_new_uint64 (1));
  g_variant_builder_add (&b, "{sv}", "misses-changed", g_variant_new_uint64 (1));
  g_variant_builder_add (&b, "{sv}", "max-entry-size", g_variant_new_uint64 (8388608));
  g_variant_builder_add (&b, "{sv}", "pinned", g_variant_new_uint64 (0));
  if (with_unknown)
    {
      g_variant_builder_add (&b, "{sv}", "future-gauge", g_variant_new_int32 (-4));
      g_variant_builder_add (&b, "{sv}", "ratio", g_variant_new_double (0.25));
      g_variant_builder_add (&b, "{sv}", "not-a-number", g_variant_new_double (NAN));
      g_variant_builder_add (&b, "{sv}", "ready", g_variant_new_boolean (TRUE));
      g_variant_builder_add (&b, "{sv}", "say \"hi\"\\\n",
                             g_variant_new_string ("tab\there \x01 «quoted» \"x\""));
      g_variant_builder_add (&b, "{sv}", "list", g_variant_new_strv (NULL, 0));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
assert_member (GHashTable *members, const char *key, const char *raw)
{
  const char *value = g_hash_table_lookup (members, key);

  if (value == NULL)
    g_error ("no member “%s”", key);
  g_assert_cmpstr (value, ==, raw);
}

/* Every key, known or not, with its value; numbers as JSON numbers,
 * G_MAXUINT64 exactly; strings escaped so that the whole parses. */
static void
test_json_parses (void)
{
  g_autoptr(GVariant) stats = make_stats (TRUE);
  g_autofree char *json = fc_stats_format_json (stats);
  g_autoptr(GHashTable) members = json_parse_object (json);

  g_test_message ("%s", json);
  g_assert_nonnull (members);
  g_assert_true (g_str_has_suffix (json, "}\n"));
  g_assert_cmpuint (g_hash_table_size (members), ==, 26);
  assert_member (members, "hits", "12");
  assert_member (members, "entries", "3");
  assert_member (members, "bytes-sent", "18446744073709551615");
  assert_member (members, "max-entry-size", "8388608");
  assert_member (members, "pinned", "0");
  assert_member (members, "future-gauge", "-4");
  assert_member (members, "ratio", "0.25");
  assert_member (members, "not-a-number", "null");
  assert_member (members, "ready", "true");
  assert_member (members, "say \"hi\"\\\n", "\"tab\\u0009here \\u0001 «quoted» \\\"x\\\"\"");
  assert_member (members, "list", "\"@as []\"");
}

static void
test_json_empty (void)
{
  g_autoptr(GVariant) stats = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sv}"),
                                                                       NULL, 0));
  g_autofree char *json = fc_stats_format_json (stats);
  g_autoptr(GHashTable) members = json_parse_object (json);

  g_assert_nonnull (members);
  g_assert_cmpuint (g_hash_table_size (members), ==, 0);
}

/* The checker itself refuses what is not JSON, so the test above can
 * fail. */
static void
test_json_checker (void)
{
  static const char *const bad[] = {
    "", "{", "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": 01}", "{\"a\": \"\x01\"}",
    "{\"a\": \"\\x\"}", "{\"a\": 1} x", "{\"a\": 1, \"a\": 2}", "{a: 1}", "{\"a\": NaN}",
    "[1]",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GHashTable *members = json_parse_object (bad[i]);

      if (members != NULL)
        g_error ("accepted: %s", bad[i]);
    }
}

static gboolean
is_metric_name (const char *name, gsize len)
{
  if (len == 0 || g_ascii_isdigit (name[0]))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != ':')
      return FALSE;
  return TRUE;
}

/* A sample value: a Go float (what Prometheus parses). */
static gboolean
is_sample_value (const char *text)
{
  char *end;

  if (strcmp (text, "NaN") == 0 || strcmp (text, "+Inf") == 0 || strcmp (text, "-Inf") == 0)
    return TRUE;
  g_ascii_strtod (text, &end);
  return *text != '\0' && *end == '\0' && strpbrk (text, "xXpP") == NULL;
}

/* Checks @text line by line against the text exposition format 0.0.4:
 * each family "# HELP name text", "# TYPE name type", then its sample
 * "name value" (no labels, no timestamp); each family once. Returns
 * name -> "type value". */
static GHashTable *
parse_exposition (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GHashTable *families = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint n = g_strv_length (lines);

  g_assert_true (g_str_has_suffix (text, "\n"));
  g_assert_cmpstr (lines[n - 1], ==, "");
  g_assert_cmpuint ((n - 1) % 3, ==, 0);
  for (guint i = 0; i + 1 < n; i += 3)
    {
      const char *help = lines[i];
      const char *type = lines[i + 1];
      const char *sample = lines[i + 2];
      const char *name = help + strlen ("# HELP ");
      const char *space = strchr (name, ' ');
      gsize len;
      g_autofree char *type_prefix = NULL;
      const char *kind;

      g_test_message ("%s\n%s\n%s", help, type, sample);
      g_assert_true (g_str_has_prefix (help, "# HELP "));
      g_assert_nonnull (space);
      len = space - name;
      g_assert_true (is_metric_name (name, len));
      g_assert_cmpstr (space + 1, !=, "");
      g_assert_null (strchr (space + 1, '\\'));  /* none in these texts */

      type_prefix = g_strdup_printf ("# TYPE %.*s ", (int) len, name);
      g_assert_true (g_str_has_prefix (type, type_prefix));
      kind = type + strlen (type_prefix);
      g_assert_true (g_str_equal (kind, "counter") || g_str_equal (kind, "gauge") ||
                     g_str_equal (kind, "untyped"));
      /* Counters and only counters end in _total. */
      g_assert_cmpint (g_str_equal (kind, "counter"), ==,
                       len > 6 && strncmp (name + len - 6, "_total", 6) == 0);

      g_assert_true (strncmp (sample, name, len) == 0 && sample[len] == ' ');
      g_assert_true (is_sample_value (sample + len + 1));
      g_assert_true (g_hash_table_insert (families, g_strndup (name, len),
                                          g_strdup_printf ("%s %s", kind, sample + len + 1)));
    }
  return families;
}

static void
assert_family (GHashTable *families, const char *name, const char *type_value)
{
  const char *found = g_hash_table_lookup (families, name);

  if (found == NULL)
    g_error ("no family %s", name);
  g_assert_cmpstr (found, ==, type_value);
}

static void
test_prometheus_format (void)
{
  g_autoptr(GVariant) stats = make_stats (TRUE);
  g_autofree char *text = fc_stats_format_prometheus (stats);
  g_autoptr(GHashTable) families = parse_exposition (text);

  /* 20 of DBUS.md, 4 other numbers; the string and the array cannot be
   * samples. */
  g_assert_cmpuint (g_hash_table_size (families), ==, 24);
  assert_family (families, "filecached_hits_total", "counter 12");
  assert_family (families, "filecached_misses_total", "counter 5");
  assert_family (families, "filecached_misses_cold_total", "counter 3");
  assert_family (families, "filecached_sent_bytes_total", "counter 18446744073709551615");
  assert_family (families, "filecached_clients_accepted_total", "counter 70");
  assert_family (families, "filecached_entries", "gauge 3");
  assert_family (families, "filecached_clients", "gauge 7");
  assert_family (families, "filecached_size_bytes", "gauge 3072");
  assert_family (families, "filecached_capacity_bytes", "gauge 67108864");
  assert_family (families, "filecached_max_entry_size_bytes", "gauge 8388608");
  assert_family (families, "filecached_pinned_bytes", "gauge 0");
  assert_family (families, "filecached_uptime_seconds", "gauge 3600");
  assert_family (families, "filecached_future_gauge", "untyped -4");
  assert_family (families, "filecached_ratio", "untyped 0.25");
  assert_family (families, "filecached_not_a_number", "untyped NaN");
  assert_family (families, "filecached_ready", "untyped 1");
}

/* The table shows every key too, and "?" for a known one the daemon
 * (an older one) did not send. */
static void
test_text_all_keys (void)
{
  GVariantBuilder b;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autofree char *text = NULL;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "hits", g_variant_new_uint64 (3));
  g_variant_builder_add (&b, "{sv}", "misses", g_variant_new_uint64 (1));
  g_variant_builder_add (&b, "{sv}", "size", g_variant_new_uint64 (3 << 20));
  g_variant_builder_add (&b, "{sv}", "pinned", g_variant_new_uint64 (1536));
  g_variant_builder_add (&b, "{sv}", "zeta", g_variant_new_uint64 (9));
  stats = g_variant_ref_sink (g_variant_builder_end (&b));
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "Root", g_variant_new_string ("/srv"));
  g_variant_builder_add (&b, "{sv}", "Port", g_variant_new_uint16 (3030));
  properties = g_variant_ref_sink (g_variant_builder_end (&b));

  text = fc_stats_format_text (stats, properties);
  g_test_message ("%s", text);
  g_assert_true (g_str_has_prefix (text, "root:              /srv\nport:              3030\n"));
  g_assert_nonnull (strstr (text, "\nhits:              3\n"));
  g_assert_nonnull (strstr (text, "\nloads:             ?\n"));
  g_assert_nonnull (strstr (text, "\nsize:              3145728 (3.0\u00a0MiB)\n"));
  g_assert_nonnull (strstr (text, "\npinned:            1536 (1.5\u00a0KiB)\n"));
  g_assert_nonnull (strstr (text, "\nmax-entry-size:    ?\n"));
  g_assert_nonnull (strstr (text, "\nzeta:              9\n"));
  g_assert_true (g_str_has_suffix (text, "\nhit ratio:         75.0 %\n"));
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stats-format/json/parses", test_json_parses);
  g_test_add_func ("/stats-format/json/empty", test_json_empty);
  g_test_add_func ("/stats-format/json/checker-refuses", test_json_checker);
  g_test_add_func ("/stats-format/prometheus/exposition-format", test_prometheus_format);
  g_test_add_func ("/stats-format/text/every-key", test_text_all_keys);

  return g_test_run ();
}
