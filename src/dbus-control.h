#pragma once

#include <gio/gio.h>

#include "cache.h"
#include "server.h"

G_BEGIN_DECLS

#define FC_DBUS_NAME "org.filecached.Daemon"
#define FC_DBUS_PATH "/org/filecached/Daemon"

typedef struct _FcDbusControl FcDbusControl;

/* Called once in the main context when the name is owned, or the bus
 * turned out unreachable (the daemon goes on without control). */
typedef void (*FcDbusReadyFunc) (gpointer user_data);

/* Called in the main context when the daemon must stop: the bus would
 * not give it the name. */
typedef void (*FcDbusFatalFunc) (const GError *error,
                                 gpointer      user_data);

FcDbusControl *fc_dbus_control_new  (FcCache         *cache,
                                     FcServer        *server,
                                     GBusType         bus_type,
                                     FcDbusReadyFunc  ready,
                                     FcDbusFatalFunc  fatal,
                                     gpointer         user_data);
void           fc_dbus_control_free (FcDbusControl   *control);
void           fc_dbus_control_set_capacity (FcDbusControl *control,
                                     guint64          capacity);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcDbusControl, fc_dbus_control_free)

G_END_DECLS
