#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <glib/gi18n.h>

#include "dbus-control.h"
#include "watch.h"

#define CONTROL_INTERFACE "org.filecached.Cache1"
/* A simulation over a full history takes up to a second. */
#define CALL_TIMEOUT_MS (30 * 1000)

/* The capacities shown, as multiples of the current one (in quarters). */
static const guint quarters[] = { 1, 2, 4, 8, 16, 32 };

static GVariant *
call (GDBusConnection *bus,
      const char      *iface,
      const char      *method,
      GVariant        *params,
      const char      *reply_type,
      GError         **error)
{
  return g_dbus_connection_call_sync (bus, FC_DBUS_NAME, FC_DBUS_PATH, iface, method, params,
                                      G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                      CALL_TIMEOUT_MS, NULL, error);
}

static guint64
lookup_counter (GVariant   *stats,
                const char *key)
{
  guint64 value = 0;

  g_variant_lookup (stats, key, "t", &value);
  return value;
}

static gboolean
print_advice (GDBusConnection *bus,
              GError         **error)
{
  g_autoptr(GVariant) stats_reply = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) ratios = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree char *cold = NULL, *evicted = NULL, *changed = NULL, *misses = NULL;
  guint64 capacities[G_N_ELEMENTS (quarters)];
  guint64 capacity;

  stats_reply = call (bus, CONTROL_INTERFACE, "Stats", NULL, "(a{sv})", error);
  if (stats_reply == NULL)
    return FALSE;
  stats = g_variant_get_child_value (stats_reply, 0);
  capacity = lookup_counter (stats, "capacity");
  for (gsize i = 0; i < G_N_ELEMENTS (quarters); i++)
    capacities[i] = capacity / 4 * quarters[i];

  ratios = call (bus, CONTROL_INTERFACE, "SimulateCapacity",
                 g_variant_new ("(@at)", g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, capacities,
                                                                    G_N_ELEMENTS (capacities),
                                                                    sizeof (guint64))),
                 "(a(td))", error);
  if (ratios == NULL)
    return FALSE;
  list = g_variant_get_child_value (ratios, 0);

  g_print ("%-16s %s\n", _("capacity"), _("hit ratio"));
  for (gsize i = 0; i < G_N_ELEMENTS (quarters); i++)
    {
      g_autofree char *size = g_format_size_full (capacities[i], G_FORMAT_SIZE_IEC_UNITS);
      guint64 at;
      double ratio;

      g_variant_get_child (list, i, "(td)", &at, &ratio);
      g_print ("%-16s %5.1f %%%s\n", size, 100 * ratio,
               quarters[i] == 4 ? _("  (now)") : "");
    }
  /* Numbers as strings: a translated format cannot hold G_GUINT64_FORMAT. */
  cold = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-cold"));
  evicted = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-evicted"));
  changed = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-changed"));
  misses = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses"));
  g_print (_("misses: %s cold, %s evicted, %s changed, of %s\n"), cold, evicted, changed, misses);
  return TRUE;
}

/**
 * fcc_advise_run:
 * @bus_type: the bus the daemon is on
 *
 * Prints the hit ratio the daemon's recent requests would have had at
 * 1/4 to 8 times its capacity, and how its misses split by cause.
 *
 * Returns: %FALSE, with a message on stderr, on failure
 */
gboolean
fcc_advise_run (GBusType bus_type)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (bus_type, NULL, &error);

  if (bus == NULL || !print_advice (bus, &error))
    {
      g_printerr ("filecache: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}
