#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

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

/**
 * fc_long_work_go_on:
 * @wanted_by: (nullable): the flight the work lands, whose joiners want
 *   it; %NULL for work that has no flight to leave
 * @stopping: an N_() message for when the daemon stops
 * @unwanted: an N_() message for when every joiner of @wanted_by left
 *   (fc_flight_unwanted())
 * @error: %G_IO_ERROR_CANCELLED with the message that applies, translated
 *
 * The look between two slices of long work: a few MiB each. Any thread.
 *
 * Returns: %FALSE when the work should give up now
 */
gboolean
fc_long_work_go_on (FcFlight    *wanted_by,
                    const char  *stopping,
                    const char  *unwanted,
                    GError     **error)
{
  if (fc_long_work_abandoned ())
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _(stopping));
  else if (fc_flight_unwanted (wanted_by))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _(unwanted));
  else
    return TRUE;
  return FALSE;
}

/* Long work runs at a lower priority than the workers: with as many pool
 * threads as processors, hashing at full speed would otherwise take its
 * share of every core from the workers, and a worker woken by a request
 * would wait for a time slice (measured with bench/pressure on 2 cores:
 * PING p99 484 ms at equal priority). Nice 10 weighs a tenth of nice 0
 * (sched(7)): long work still gets every cycle the workers leave, and
 * some under full load, so it is never starved as SCHED_IDLE would be. */
#define LONG_WORK_NICE 10

/**
 * fc_long_work_thread_enter:
 *
 * Lowers the calling thread to the priority of long work (nice 10), once
 * per thread: call it at the start of every piece of work a background
 * thread runs (hashing, loading, freeing large copies). A failure only
 * leaves the thread at its priority (logged with g_debug()).
 */
void
fc_long_work_thread_enter (void)
{
  static GPrivate lowered;

  if (g_private_get (&lowered) != NULL)
    return;
  g_private_set (&lowered, GINT_TO_POINTER (1));
  /* Linux applies PRIO_PROCESS to the one thread a TID names. */
  if (setpriority (PRIO_PROCESS, (id_t) gettid (), LONG_WORK_NICE) != 0)
    g_debug ("Cannot lower the priority of a thread for long work: %s", g_strerror (errno));
}
