#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean fc_size_parse (const char  *text,
                        guint64     *size,
                        GError     **error);

G_END_DECLS
