#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <glib/gi18n.h>

#include "control.h"
#include "i18n.h"
#include "watch.h"

/* The capacities shown, as multiples of the current one (in quarters). */
static const guint quarters[] = { 1, 2, 4, 8, 16, 32 };

static guint64
lookup_counter (GVariant   *stats,
                const char *key)
{
  guint64 value = 0;

  g_variant_lookup (stats, key, "t", &value);
  return value;
}

/**
 * fcc_advise_print:
 * @control: a control connection
 * @error: why the daemon cannot tell
 *
 * Prints the hit ratio the daemon's recent requests would have had at
 * 1/4 to 8 times its capacity, and how its misses split by cause.
 *
 * Returns: %FALSE with @error set on failure
 */
gboolean
fcc_advise_print (FccControl  *control,
                  GError     **error)
{
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autofree char *cold = NULL, *evicted = NULL, *changed = NULL, *misses = NULL;
  guint64 capacities[G_N_ELEMENTS (quarters)];
  guint64 capacity;

  stats = fcc_control_get_stats (control, error);
  if (stats == NULL)
    return FALSE;
  capacity = lookup_counter (stats, "capacity");
  for (gsize i = 0; i < G_N_ELEMENTS (quarters); i++)
    capacities[i] = capacity / 4 * quarters[i];

  list = fcc_control_simulate_capacity (control, capacities, G_N_ELEMENTS (capacities), error);
  if (list == NULL)
    return FALSE;

  g_print ("%-16s %s\n", _("capacity"), _("hit ratio"));
  for (gsize i = 0; i < G_N_ELEMENTS (quarters); i++)
    {
      g_autofree char *size = fc_i18n_format_size (capacities[i]);
      guint64 at;
      double ratio;

      g_variant_get_child (list, i, "(td)", &at, &ratio);
      /* Padded by characters, not bytes: a UTF-8 locale's size holds a
       * no-break space, two bytes in one column. */
      g_print ("%s%*s %5.1f %%%s\n", size, (int) MAX (0, 16 - (glong) g_utf8_strlen (size, -1)), "",
               100 * ratio, quarters[i] == 4 ? _("  (now)") : "");
    }
  /* Numbers as strings: a translated format cannot hold G_GUINT64_FORMAT. */
  cold = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-cold"));
  evicted = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-evicted"));
  changed = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses-changed"));
  misses = g_strdup_printf ("%" G_GUINT64_FORMAT, lookup_counter (stats, "misses"));
  g_print (_("misses: %s cold, %s evicted, %s changed, of %s\n"), cold, evicted, changed, misses);
  return TRUE;
}
