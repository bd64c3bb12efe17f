#pragma once

#include <glib.h>

G_BEGIN_DECLS

void  fc_i18n_init               (void);
char *fc_i18n_plain_punctuation  (const char *text,
                                  gssize      length);
char *fc_i18n_format_size        (guint64     size);

G_END_DECLS
