#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>

#include "control.h"
#include "dbus-control.h"
#include "watch.h"

static void
on_evicted (GDBusConnection *connection,
            const char      *sender,
            const char      *path,
            const char      *iface,
            const char      *signal,
            GVariant        *params,
            gpointer         user_data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  g_autoptr(GVariantIter) iter = NULL;
  const char *name, *reason;
  guint32 dropped;

  g_variant_get (params, "(a(ss)u)", &iter, &dropped);
  /* The reasons are DBUS.md's words: scripts may match them. */
  while (g_variant_iter_next (iter, "(&s&s)", &name, &reason))
    g_print ("%s %s %s\n", stamp, reason, name);
  if (dropped > 0)
    {
      g_print ("%s ", stamp);
      g_print (ngettext ("%u more entry left the cache, not shown",
                         "%u more entries left the cache, not shown", dropped), dropped);
      g_print ("\n");
    }
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/**
 * fcc_watch_run:
 * @control: a control connection
 *
 * Prints one line per entry of every Evicted signal until SIGINT or
 * SIGTERM.
 */
void
fcc_watch_run (FccControl *control)
{
  GDBusConnection *bus = fcc_control_get_bus (control);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint id = g_dbus_connection_signal_subscribe (bus, FC_DBUS_NAME, "org.filecached.Cache1",
                                                 "Evicted", FC_DBUS_PATH, NULL,
                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_evicted, NULL, NULL);

  g_unix_signal_add (SIGINT, on_interrupt, loop);
  g_unix_signal_add (SIGTERM, on_interrupt, loop);
  /* Lines appear as they come, also into a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_main_loop_run (loop);
  g_dbus_connection_signal_unsubscribe (bus, id);
}
