#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

gboolean fcc_watch_run  (GBusType bus_type);
gboolean fcc_advise_run (GBusType bus_type);

G_END_DECLS
