#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <stdatomic.h>

#include "abandon.h"

static atomic_bool abandoned;

/**
 * fc_abandon_long_work:
 *
 * From now on every long computation gives up at its next slice
 * (fc_long_work_abandoned()), so a stop is never held up by a file's
 * size. One way: nothing resets it. Any thread, async-signal-safe.
 */
void
fc_abandon_long_work (void)
{
  atomic_store (&abandoned, TRUE);
}

/**
 * fc_long_work_abandoned:
 *
 * Costs one relaxed atomic load: call it between slices of a few MiB.
 * Any thread.
 *
 * Returns: whether long work should give up now
 */
gboolean
fc_long_work_abandoned (void)
{
  return atomic_load_explicit (&abandoned, memory_order_relaxed);
}
