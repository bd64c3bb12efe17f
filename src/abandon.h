#pragma once

#include <glib.h>

#include "flight.h"

G_BEGIN_DECLS

/* A process-wide "stop now" for long work (hashing a version, loading a
 * large file): set once when the daemon stops, read by every loop that
 * may run for longer than a drain timeout, between two slices; and per
 * piece of work, whether anyone still waits for it (its flight). */

void     fc_abandon_long_work   (void);
gboolean fc_long_work_abandoned (void);
gboolean fc_long_work_go_on     (FcFlight    *wanted_by,
                                 const char  *stopping,
                                 const char  *unwanted,
                                 GError     **error);
void     fc_long_work_thread_enter (void);

G_END_DECLS
