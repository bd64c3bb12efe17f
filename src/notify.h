#pragma once

#include <glib.h>

G_BEGIN_DECLS

void fc_notify_ready (void);

G_END_DECLS
