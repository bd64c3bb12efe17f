#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "flight.h"

typedef struct {
  FcFlightFunc func;
  gpointer user_data;
} Joiner;

/* The joiners are kept under the flight's own lock, not the table's that
 * found it: a table can land a flight after releasing its lock, so no
 * callback ever runs under it. */
struct _FcFlight {
  gatomicrefcount refs;
  GMutex lock;
  GArray *joiners;              /* (owned) (element-type Joiner): guarded by lock; those still
                                 * there are who wants the result */
  gboolean joined;              /* guarded by lock: someone joined, ever */
  gboolean landed;              /* guarded by lock */
  GError *error;                /* (owned) (nullable): set once, when landed */
  gpointer result;              /* (owned) (nullable): guarded by lock; set before landing,
                                 * freed with result_free unless stolen */
  GDestroyNotify result_free;   /* (nullable) */
};

/**
 * fc_flight_new:
 *
 * Returns: (transfer full): a flight in progress, with no joiner
 */
FcFlight *
fc_flight_new (void)
{
  FcFlight *flight = g_new0 (FcFlight, 1);

  g_atomic_ref_count_init (&flight->refs);
  g_mutex_init (&flight->lock);
  flight->joiners = g_array_new (FALSE, FALSE, sizeof (Joiner));
  return flight;
}

/**
 * fc_flight_ref:
 * @flight: a flight
 *
 * Returns: (transfer full): @flight. Any thread.
 */
FcFlight *
fc_flight_ref (FcFlight *flight)
{
  g_atomic_ref_count_inc (&flight->refs);
  return flight;
}

/**
 * fc_flight_unref:
 * @flight: (transfer full): a flight; the last reference must be that of
 *   a landed one, or of one nobody joined
 */
void
fc_flight_unref (FcFlight *flight)
{
  if (!g_atomic_ref_count_dec (&flight->refs))
    return;
  g_warn_if_fail (flight->joiners->len == 0);
  g_array_unref (flight->joiners);
  if (flight->result != NULL && flight->result_free != NULL)
    flight->result_free (flight->result);
  g_clear_error (&flight->error);
  g_mutex_clear (&flight->lock);
  g_free (flight);
}

/**
 * fc_flight_join:
 * @flight: a flight
 * @func: called once @flight lands, in the landing thread
 * @user_data: for @func; must stay valid until then
 *
 * Any thread. A flight that has landed already is not joined, so that a
 * joiner can look again at once, in its own thread.
 *
 * Returns: %TRUE when @func will be called; %FALSE when @flight had
 *   landed (and @func is not called)
 */
gboolean
fc_flight_join (FcFlight     *flight,
                FcFlightFunc  func,
                gpointer      user_data)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&flight->lock);
  Joiner joiner = { func, user_data };

  if (flight->landed)
    return FALSE;
  g_array_append_val (flight->joiners, joiner);
  flight->joined = TRUE;
  return TRUE;
}

/**
 * fc_flight_leave:
 * @flight: a flight
 * @func: as given to fc_flight_join()
 * @user_data: as given to fc_flight_join()
 *
 * A joiner no longer wants the result: once every joiner has left, the
 * computation may give up (fc_flight_unwanted()). Any thread.
 *
 * Returns: %TRUE when it had joined and is out now: @func will not be
 *   called; %FALSE when @flight has landed (then @func is called, or is
 *   being called, in the landing thread) or it never joined
 */
gboolean
fc_flight_leave (FcFlight     *flight,
                 FcFlightFunc  func,
                 gpointer      user_data)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&flight->lock);

  for (guint i = 0; i < flight->joiners->len; i++)
    {
      Joiner *joiner = &g_array_index (flight->joiners, Joiner, i);

      if (joiner->func == func && joiner->user_data == user_data)
        {
          g_array_remove_index (flight->joiners, i);
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * fc_flight_unwanted:
 * @flight: (nullable): a flight, or %NULL for work nobody can leave
 *
 * Whether the computation can give up: someone joined @flight, every
 * joiner has left, and it has not landed. Work that nobody has joined yet
 * goes on: its requester joins once it has handed the work off. Costs a
 * lock: call it between slices of a few MiB. Any thread.
 *
 * Returns: %TRUE when nobody waits for @flight any more
 */
gboolean
fc_flight_unwanted (FcFlight *flight)
{
  g_autoptr(GMutexLocker) locker = NULL;

  if (flight == NULL)
    return FALSE;
  locker = g_mutex_locker_new (&flight->lock);
  return flight->joined && !flight->landed && flight->joiners->len == 0;
}

/**
 * fc_flight_land:
 * @flight: a flight in progress
 * @error: (nullable): why the computation failed, %NULL when it succeeded;
 *   copied
 *
 * Ends @flight and calls every joiner, in the order they joined, in this
 * thread and with no lock held: a joiner may join another flight. Once
 * only.
 */
void
fc_flight_land (FcFlight     *flight,
                const GError *error)
{
  g_autoptr(GArray) joiners = NULL;

  g_mutex_lock (&flight->lock);
  if (flight->landed)
    {
      g_mutex_unlock (&flight->lock);
      g_return_if_reached ();
    }
  flight->landed = TRUE;
  flight->error = error != NULL ? g_error_copy (error) : NULL;
  joiners = g_steal_pointer (&flight->joiners);
  flight->joiners = g_array_new (FALSE, FALSE, sizeof (Joiner));
  g_mutex_unlock (&flight->lock);

  for (guint i = 0; i < joiners->len; i++)
    {
      Joiner *joiner = &g_array_index (joiners, Joiner, i);

      joiner->func (flight, joiner->user_data);
    }
}

/**
 * fc_flight_get_error:
 * @flight: a landed flight
 *
 * Returns: (transfer none) (nullable): why it failed; %NULL when it
 *   succeeded
 */
const GError *
fc_flight_get_error (FcFlight *flight)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&flight->lock);

  g_return_val_if_fail (flight->landed, NULL);
  return flight->error;
}

/**
 * fc_flight_set_result:
 * @flight: a flight in progress
 * @result: (transfer full) (nullable): what the computation made, for a
 *   joiner to take once @flight has landed
 * @result_free: (nullable): frees @result if nobody takes it
 *
 * For a computation that has one joiner to hand its product to (a
 * listing made in the pool for the request that waits for it), rather
 * than a table both look in. Before fc_flight_land(), in the thread that
 * lands it; once only.
 */
void
fc_flight_set_result (FcFlight       *flight,
                      gpointer        result,
                      GDestroyNotify  result_free)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&flight->lock);

  g_return_if_fail (!flight->landed && flight->result == NULL);
  flight->result = result;
  flight->result_free = result_free;
}

/**
 * fc_flight_steal_result:
 * @flight: a landed flight
 *
 * Takes what fc_flight_set_result() left: the first caller gets it, any
 * later one %NULL. Any thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL when there
 *   was none (the computation failed: see fc_flight_get_error()) or it
 *   was taken
 */
gpointer
fc_flight_steal_result (FcFlight *flight)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&flight->lock);

  g_return_val_if_fail (flight->landed, NULL);
  return g_steal_pointer (&flight->result);
}
