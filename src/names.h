#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FC_NAME_MAX 4000

gboolean fc_name_validate (const char  *name,
                           gsize        len,
                           GError     **error);

G_END_DECLS
