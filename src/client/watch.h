#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#include "control.h"

void     fcc_watch_run    (FccControl  *control);
gboolean fcc_advise_print (FccControl  *control,
                           GError     **error);

G_END_DECLS
