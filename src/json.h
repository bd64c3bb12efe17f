#pragma once

#include <glib.h>

G_BEGIN_DECLS

void fc_json_append_string (GString    *out,
                            const char *text);

G_END_DECLS
