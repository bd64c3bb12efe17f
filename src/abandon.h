#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A process-wide "stop now" for long work (hashing a version, loading a
 * large file): set once when the daemon stops, read by every loop that
 * may run for longer than a drain timeout, between two slices. */

void     fc_abandon_long_work (void);
gboolean fc_long_work_abandoned (void);

G_END_DECLS
