#pragma once

#include <glib.h>

#include "conn.h"

G_BEGIN_DECLS

void     fcc_fetch_clean_up_on_signals (void);
gboolean fcc_fetch                     (FccConn     *conn,
                                        const char  *name,
                                        const char  *dir,
                                        GError     **error);

G_END_DECLS
