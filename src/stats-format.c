#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <math.h>
#include <string.h>

#include "i18n.h"
#include "json.h"
#include "stats-format.h"

/* The column where the values of the table start: past the longest
 * known label ("misses-evicted:") and a space. */
#define TEXT_VALUE_COLUMN 19

typedef enum {
  METRIC_COUNTER,  /* only grows while the daemon runs */
  METRIC_GAUGE,    /* a level now */
} MetricType;

typedef struct {
  const char *key;     /* DBUS.md's name */
  MetricType  type;
  gboolean    is_size; /* a number of bytes, worth a unit in the table */
  const char *metric;  /* Prometheus's name: counters end in _total, units are named */
  const char *help;    /* DBUS.md's meaning, for # HELP */
} StatsField;

/* DBUS.md's table order, which groups the counters by meaning, then the
 * keys of version 1.1. */
static const StatsField stats_fields[] = {
  { "hits", METRIC_COUNTER, FALSE, "filecached_hits_total",
    "Requests answered from the cache." },
  { "misses", METRIC_COUNTER, FALSE, "filecached_misses_total",
    "Requests that found no valid cached copy when they arrived." },
  { "loads", METRIC_COUNTER, FALSE, "filecached_loads_total",
    "Times a file was read from disk into the cache." },
  { "evictions", METRIC_COUNTER, FALSE, "filecached_evictions_total",
    "Entries dropped to make room, by Evict, Clear, or a smaller capacity." },
  { "invalidations", METRIC_COUNTER, FALSE, "filecached_invalidations_total",
    "Entries dropped because the file changed, was replaced or was deleted on disk." },
  { "entries", METRIC_GAUGE, FALSE, "filecached_entries",
    "Files in the cache now." },
  { "size", METRIC_GAUGE, TRUE, "filecached_size_bytes",
    "Bytes held in the cache now." },
  { "capacity", METRIC_GAUGE, TRUE, "filecached_capacity_bytes",
    "The cache's capacity in bytes." },
  { "requests", METRIC_COUNTER, FALSE, "filecached_requests_total",
    "Request lines answered, all commands and errors included." },
  { "errors", METRIC_COUNTER, FALSE, "filecached_errors_total",
    "Request lines answered with ERR." },
  { "refused", METRIC_COUNTER, FALSE, "filecached_refused_total",
    "Connections turned away with ERR 503 at the connection limit." },
  { "bytes-sent", METRIC_COUNTER, TRUE, "filecached_sent_bytes_total",
    "Body bytes sent to clients." },
  { "clients", METRIC_GAUGE, FALSE, "filecached_clients",
    "Connections open now." },
  { "clients-total", METRIC_COUNTER, FALSE, "filecached_clients_accepted_total",
    "Connections accepted since start." },
  { "requests-http", METRIC_COUNTER, FALSE, "filecached_requests_http_total",
    "Requests answered in the HTTP dialect; they count in filecached_requests_total too." },
  { "uptime", METRIC_GAUGE, FALSE, "filecached_uptime_seconds",
    "Seconds since start." },
  { "misses-cold", METRIC_COUNTER, FALSE, "filecached_misses_cold_total",
    "Misses of a name that was not recently in the cache." },
  { "misses-evicted", METRIC_COUNTER, FALSE, "filecached_misses_evicted_total",
    "Misses of a name that had left the cache through capacity, evict or clear." },
  { "misses-changed", METRIC_COUNTER, FALSE, "filecached_misses_changed_total",
    "Misses because the cached copy was stale or had left through changed or deleted." },
  { "max-entry-size", METRIC_GAUGE, TRUE, "filecached_max_entry_size_bytes",
    "The largest file the cache holds as one entry; larger ones are streamed." },
  { "pinned", METRIC_GAUGE, TRUE, "filecached_pinned_bytes",
    "Bytes no longer in the cache but still held by transfers in progress." },
};

static const StatsField *
find_field (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (stats_fields); i++)
    if (strcmp (stats_fields[i].key, key) == 0)
      return &stats_fields[i];
  return NULL;
}

static gint
compare_keys (gconstpointer a,
              gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Returns: (transfer full) (element-type utf8): DBUS.md's keys in its
 * order, then the keys of @stats that it does not list, sorted so that
 * the output is the same from run to run. The known keys come whether
 * or not @stats has them. */
static GPtrArray *
ordered_keys (GVariant *stats)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) unknown = g_ptr_array_new ();
  GVariantIter iter;
  char *key;

  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_next (&iter, "{sv}", &key, NULL))
    if (find_field (key) == NULL)
      g_ptr_array_add (unknown, key);
    else
      g_free (key);
  g_ptr_array_sort (unknown, compare_keys);

  for (gsize i = 0; i < G_N_ELEMENTS (stats_fields); i++)
    g_ptr_array_add (keys, g_strdup (stats_fields[i].key));
  for (guint i = 0; i < unknown->len; i++)
    g_ptr_array_add (keys, g_ptr_array_index (unknown, i));
  return keys;
}

/* Returns: (transfer full) (nullable): @value in decimal, if it is of an
 * integer type; a daemon may type a key otherwise than DBUS.md does. */
static char *
integer_text (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BYTE:
      return g_strdup_printf ("%u", g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return g_strdup_printf ("%d", g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return g_strdup_printf ("%u", g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return g_strdup_printf ("%" G_GINT32_FORMAT, g_variant_get_int32 (value));
    case G_VARIANT_CLASS_UINT32:
      return g_strdup_printf ("%" G_GUINT32_FORMAT, g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value));
    case G_VARIANT_CLASS_UINT64:
      return g_strdup_printf ("%" G_GUINT64_FORMAT, g_variant_get_uint64 (value));
    case G_VARIANT_CLASS_HANDLE:
      return g_strdup_printf ("%" G_GINT32_FORMAT, g_variant_get_handle (value));
    default:
      return NULL;
    }
}

static gboolean
is_string (GVariant *value)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ||
         g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH) ||
         g_variant_is_of_type (value, G_VARIANT_TYPE_SIGNATURE);
}

/* ---- the table ---- */

static void
append_text_line (GString    *table,
                  const char *label,
                  const char *value)
{
  int pad = MAX (1, TEXT_VALUE_COLUMN - (int) strlen (label) - 1);

  g_string_append_printf (table, "%s:%*s%s\n", label, pad, "", value);
}

static char *
text_value (GVariant         *value,
            const StatsField *field)
{
  g_autofree char *number = NULL;
  g_autofree char *size = NULL;

  /* An older daemon lacks the newer keys: "?" says so, and the other
   * values still show. */
  if (value == NULL)
    return g_strdup ("?");
  if (is_string (value))
    return g_strescape (g_variant_get_string (value, NULL), NULL);
  number = integer_text (value);
  if (number == NULL)
    return g_variant_print (value, FALSE);
  if (field == NULL || !field->is_size || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return g_steal_pointer (&number);

  size = fc_i18n_format_size (g_variant_get_uint64 (value));
  return g_strdup_printf ("%s (%s)", number, size);
}

static char *
format_hit_ratio (GVariant *stats)
{
  guint64 hits;
  guint64 misses;

  if (!g_variant_lookup (stats, "hits", "t", &hits) ||
      !g_variant_lookup (stats, "misses", "t", &misses))
    return g_strdup ("?");
  if (hits == 0 && misses == 0)
    return g_strdup ("-");
  /* In floating point, where hits + misses cannot wrap around. */
  return g_strdup_printf ("%.1f %%", 100.0 * hits / ((double) hits + misses));
}

/**
 * fc_stats_format_text:
 * @stats: the a{sv} of the daemon's Stats method
 * @properties: the a{sv} of its properties (Root and Port are shown)
 *
 * Returns: (transfer full): one "label: value" line for the root, the
 *   port and each counter, aligned, and the hit ratio. The labels are
 *   DBUS.md's names, the same in every language, for scripts to find.
 */
char *
fc_stats_format_text (GVariant *stats,
                       GVariant *properties)
{
  g_autoptr(GString) table = g_string_new (NULL);
  g_autoptr(GPtrArray) keys = ordered_keys (stats);
  const char *root;
  guint16 port;
  g_autofree char *port_text = NULL;
  g_autofree char *ratio = NULL;

  append_text_line (table, "root",
                    g_variant_lookup (properties, "Root", "&s", &root) ? root : "?");
  port_text = g_variant_lookup (properties, "Port", "q", &port)
              ? g_strdup_printf ("%u", port) : g_strdup ("?");
  append_text_line (table, "port", port_text);

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autoptr(GVariant) value = g_variant_lookup_value (stats, key, NULL);
      g_autofree char *text = text_value (value, find_field (key));
      g_autofree char *label = g_strescape (key, NULL);

      append_text_line (table, label, text);
    }

  ratio = format_hit_ratio (stats);
  append_text_line (table, "hit ratio", ratio);
  return g_string_free (g_steal_pointer (&table), FALSE);
}

/* ---- JSON ---- */

static void
append_json_value (GString  *out,
                   GVariant *value)
{
  g_autofree char *number = integer_text (value);
  g_autofree char *printed = NULL;
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (number != NULL)
    g_string_append (out, number);
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    g_string_append (out, g_variant_get_boolean (value) ? "true" : "false");
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    /* JSON has no NaN or infinity; and the decimal point is a point
     * whatever the locale. */
    g_string_append (out, isfinite (g_variant_get_double (value))
                          ? g_ascii_dtostr (buffer, sizeof buffer, g_variant_get_double (value))
                          : "null");
  else if (is_string (value))
    fc_json_append_string (out, g_variant_get_string (value, NULL));
  else
    {
      printed = g_variant_print (value, TRUE);
      fc_json_append_string (out, printed);
    }
}

/**
 * fc_stats_format_json:
 * @stats: the a{sv} of the daemon's Stats method
 *
 * Returns: (transfer full): one JSON object, and a line break: each key of
 *   @stats with its value, integers as numbers (whatever their size),
 *   booleans and strings as such, any other value as a string in
 *   GVariant's text format
 */
char *
fc_stats_format_json (GVariant *stats)
{
  g_autoptr(GString) out = g_string_new ("{");
  g_autoptr(GPtrArray) keys = ordered_keys (stats);
  gboolean first = TRUE;

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autoptr(GVariant) value = g_variant_lookup_value (stats, key, NULL);

      if (value == NULL)
        continue;
      g_string_append (out, first ? "\n  " : ",\n  ");
      first = FALSE;
      fc_json_append_string (out, key);
      g_string_append (out, ": ");
      append_json_value (out, value);
    }
  g_string_append (out, first ? "}\n" : "\n}\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- Prometheus ---- */

/* Returns: (transfer full) (nullable): @value as a Prometheus sample
 * value, if it is a number or a boolean. */
static char *
prometheus_value (GVariant *value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  char *number = integer_text (value);
  double d;

  if (number != NULL)
    return number;
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "1" : "0");
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return NULL;

  d = g_variant_get_double (value);
  if (isnan (d))
    return g_strdup ("NaN");
  if (isinf (d))
    return g_strdup (d > 0 ? "+Inf" : "-Inf");
  return g_strdup (g_ascii_dtostr (buffer, sizeof buffer, d));
}

/* A name Prometheus accepts ([a-zA-Z_:][a-zA-Z0-9_:]*), for a key this
 * client does not know. */
static char *
unknown_metric_name (const char *key)
{
  GString *name = g_string_new ("filecached_");

  for (const char *p = key; *p != '\0'; p++)
    g_string_append_c (name, g_ascii_isalnum (*p) ? *p : '_');
  return g_string_free (name, FALSE);
}

/* # HELP text escapes the backslash and the line feed. */
static void
append_help (GString    *out,
             const char *metric,
             const char *help)
{
  g_string_append_printf (out, "# HELP %s ", metric);
  for (const char *p = help; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '\n');
}

/**
 * fc_stats_format_prometheus:
 * @stats: the a{sv} of the daemon's Stats method
 *
 * Formats @stats in Prometheus's text exposition format (version 0.0.4),
 * as node_exporter's textfile collector reads it: for each key a
 * "# HELP" line, a "# TYPE" line and one sample. The keys of DBUS.md are
 * counters named filecached_..._total or gauges; any other numeric key
 * is an untyped filecached_KEY; keys of other types are left out.
 *
 * Returns: (transfer full): the lines, each ending in a line feed
 */
char *
fc_stats_format_prometheus (GVariant *stats)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GPtrArray) keys = ordered_keys (stats);
  /* Two families of one name would make the whole file unreadable. */
  g_autoptr(GHashTable) written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      const StatsField *field = find_field (key);
      g_autoptr(GVariant) value = g_variant_lookup_value (stats, key, NULL);
      g_autofree char *sample = value != NULL ? prometheus_value (value) : NULL;
      g_autofree char *metric = field != NULL ? g_strdup (field->metric)
                                              : unknown_metric_name (key);
      g_autofree char *help = NULL;
      const char *type;

      if (sample == NULL || g_hash_table_contains (written, metric))
        continue;

      if (field != NULL)
        {
          help = g_strdup (field->help);
          type = field->type == METRIC_COUNTER ? "counter" : "gauge";
        }
      else
        {
          help = g_strdup_printf ("The daemon's Stats key \"%s\".", key);
          type = "untyped";
        }
      append_help (out, metric, help);
      g_string_append_printf (out, "# TYPE %s %s\n%s %s\n", metric, type, metric, sample);
      g_hash_table_add (written, g_steal_pointer (&metric));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
