#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "conn.h"
#include "control.h"
#include "dbus-control.h"
#include "errors.h"

#define CONTROL_INTERFACE "org.filecached.Cache1"

/* Generous: Clear and Stats wait for the cache lock, which a load of a
 * large file may hold for a while. */
#define CALL_TIMEOUT_MS (10 * 1000)

/* Entries asked for by one ListCacheRange call; halved while the daemon
 * answers that a page is more than the bus carries. */
#define LIST_PAGE 1000

struct _FccControl {
  GDBusConnection *bus;  /* (owned) */
  GBusType bus_type;
  gboolean reachable;    /* no call has found the daemon missing */
};

/**
 * fcc_control_open:
 * @bus_type: the bus the daemon is on
 *
 * Connects to the bus on which the daemon's control interface is to be
 * found. Whether the daemon is there shows only with the first call.
 *
 * Returns: (transfer full): the control handle, or %NULL with @error set
 */
FccControl *
fcc_control_open (GBusType   bus_type,
                  GError   **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (bus_type, NULL, &local_error);
  FccControl *control;

  if (bus == NULL)
    {
      /* Two whole sentences, not one with the bus's name pasted in, so
       * that translators can reorder them. */
      g_prefix_error_literal (&local_error, bus_type == G_BUS_TYPE_SYSTEM
                                            ? _("cannot reach the system bus: ")
                                            : _("cannot reach the session bus: "));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  /* The daemon's refusals then arrive as FC_ERROR codes to test. */
  (void) fc_error_quark ();

  control = g_new0 (FccControl, 1);
  control->bus = g_steal_pointer (&bus);
  control->bus_type = bus_type;
  control->reachable = TRUE;
  return control;
}

void
fcc_control_free (FccControl *control)
{
  g_object_unref (control->bus);
  g_free (control);
}

/**
 * fcc_control_reachable:
 *
 * Returns: %FALSE once a call has shown that the daemon is not on the bus
 *   or the bus has gone, so that further calls would fail the same way
 */
gboolean
fcc_control_reachable (FccControl *control)
{
  return control->reachable && !g_dbus_connection_is_closed (control->bus);
}

/* Returns: (transfer full): the reply, of @reply_type, or %NULL with
 * @error set to the daemon's own message, without the D-Bus error name
 * that GDBus puts in front of it. */
static GVariant *
control_call (FccControl          *control,
              const char          *interface,
              const char          *method,
              GVariant            *parameters,
              const GVariantType  *reply_type,
              GError             **error)
{
  g_autoptr(GError) local_error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (control->bus, FC_DBUS_NAME, FC_DBUS_PATH,
                                       interface, method, parameters, reply_type,
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                                       NULL, &local_error);
  if (reply != NULL)
    return reply;

  g_dbus_error_strip_remote_error (local_error);
  /* The bus answers for a name nobody owns, in words that do not say
   * that it is filecached that is missing. */
  if (g_error_matches (local_error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (local_error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    {
      control->reachable = FALSE;
      g_prefix_error_literal (&local_error, control->bus_type == G_BUS_TYPE_SYSTEM
                                            ? _("cannot reach filecached on the system bus: ")
                                            : _("cannot reach filecached on the session bus: "));
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* Returns: (transfer full): the a{sv} that @method returns, or %NULL with
 * @error set */
static GVariant *
control_call_for_dict (FccControl  *control,
                       const char  *interface,
                       const char  *method,
                       GVariant    *parameters,
                       GError     **error)
{
  g_autoptr(GVariant) reply = control_call (control, interface, method, parameters,
                                            G_VARIANT_TYPE ("(a{sv})"), error);
  GVariant *dict = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(@a{sv})", &dict);
  return dict;
}

/**
 * fcc_control_get_stats:
 *
 * Calls the daemon's Stats method.
 *
 * Returns: (transfer full): its a{sv}, or %NULL with @error set
 */
GVariant *
fcc_control_get_stats (FccControl  *control,
                       GError     **error)
{
  return control_call_for_dict (control, CONTROL_INTERFACE, "Stats", NULL, error);
}

/**
 * fcc_control_simulate_capacity:
 * @control: a control connection
 * @capacities: (array length=n_capacities): capacities in bytes
 * @n_capacities: how many, at most 64 (DBUS.md)
 * @error: the daemon's refusal, or why it cannot be reached
 *
 * Calls SimulateCapacity: up to a second of the daemon's time.
 *
 * Returns: (transfer full): its a(td), in the order asked, or %NULL
 */
GVariant *
fcc_control_simulate_capacity (FccControl     *control,
                               const guint64  *capacities,
                               gsize           n_capacities,
                               GError        **error)
{
  GVariant *parameters = g_variant_new ("(@at)",
                                        g_variant_new_fixed_array (G_VARIANT_TYPE_UINT64, capacities,
                                                                   n_capacities, sizeof (guint64)));
  g_autoptr(GVariant) reply = control_call (control, CONTROL_INTERFACE, "SimulateCapacity",
                                            parameters, G_VARIANT_TYPE ("(a(td))"), error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/**
 * fcc_control_get_bus:
 * @control: a control connection
 *
 * Returns: (transfer none): its bus connection, to subscribe to signals
 */
GDBusConnection *
fcc_control_get_bus (FccControl *control)
{
  return control->bus;
}

/**
 * fcc_control_get_properties:
 *
 * Reads all the properties of the daemon's control interface.
 *
 * Returns: (transfer full): an a{sv} of them, or %NULL with @error set
 */
GVariant *
fcc_control_get_properties (FccControl  *control,
                            GError     **error)
{
  return control_call_for_dict (control, "org.freedesktop.DBus.Properties", "GetAll",
                                g_variant_new ("(s)", CONTROL_INTERFACE), error);
}

/**
 * fcc_control_evict:
 * @name: a name as PROTOCOL.md defines them
 * @evicted: (out): whether the file was cached until now
 *
 * Drops @name from the daemon's cache.
 *
 * Returns: whether the daemon answered; if not, @error is set
 */
gboolean
fcc_control_evict (FccControl  *control,
                   const char  *name,
                   gboolean    *evicted,
                   GError     **error)
{
  g_autoptr(GVariant) reply = NULL;

  /* GVariant takes only UTF-8 strings; the daemon refuses other names
   * anyway. */
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, FCC_ERROR, FCC_ERROR_BAD_NAME,
                           _("names must be valid UTF-8"));
      return FALSE;
    }

  reply = control_call (control, CONTROL_INTERFACE, "Evict",
                        g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"), error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(b)", evicted);
  return TRUE;
}

/**
 * fcc_control_clear:
 * @count: (out): how many files the cache held
 *
 * Drops every file from the daemon's cache.
 *
 * Returns: whether the daemon answered; if not, @error is set
 */
gboolean
fcc_control_clear (FccControl  *control,
                   guint32     *count,
                   GError     **error)
{
  g_autoptr(GVariant) reply = control_call (control, CONTROL_INTERFACE, "Clear", NULL,
                                            G_VARIANT_TYPE ("(u)"), error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u)", count);
  return TRUE;
}

/* Appends to @entries the page of at most @count entries from @offset,
 * halving @count while the daemon finds the page too large for the bus.
 * Returns: the number appended, or -1 with @error set */
static gint64
list_page (FccControl  *control,
           guint        offset,
           guint       *count,
           GPtrArray   *entries,
           GError     **error)
{
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GVariant) reply = NULL;
      GVariantIter *iter;
      FccListEntry entry;
      gint64 n = 0;

      reply = control_call (control, CONTROL_INTERFACE, "ListCacheRange",
                            g_variant_new ("(uu)", offset, *count),
                            G_VARIANT_TYPE ("(a(sttx))"), &local_error);
      if (reply == NULL && *count > 1 &&
          g_error_matches (local_error, FC_ERROR, FC_ERROR_TOO_LARGE))
        {
          *count /= 2;
          continue;
        }
      if (reply == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return -1;
        }

      g_variant_get (reply, "(a(sttx))", &iter);
      while (g_variant_iter_next (iter, "(sttx)", &entry.name, &entry.size, &entry.hits, NULL))
        {
          g_ptr_array_add (entries, g_memdup2 (&entry, sizeof entry));
          n++;
        }
      g_variant_iter_free (iter);
      return n;
    }
}

static void
list_entry_free (gpointer data)
{
  FccListEntry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

/**
 * fcc_control_list:
 *
 * Reads the daemon's cache list page by page (ListCacheRange), so that
 * no reply is larger than the bus carries, however many files are
 * cached. The pages are separate snapshots: a file used while they are
 * read may show twice or not at all.
 *
 * Returns: (transfer full) (element-type FccListEntry): the cached files,
 *   most recently used first; or %NULL with @error set
 */
GPtrArray *
fcc_control_list (FccControl  *control,
                  GError     **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (list_entry_free);
  guint count = LIST_PAGE;
  guint offset = 0;

  for (;;)
    {
      gint64 n = list_page (control, offset, &count, entries, error);

      if (n < 0)
        return NULL;
      /* Only the last page is short (or empty). */
      if (n < count)
        return g_steal_pointer (&entries);
      offset += (guint) n;
    }
}
