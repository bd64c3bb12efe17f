#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Single flight without blocking: one computation of one thing (a
 * version's digest, a file's load into the cache) that others join
 * instead of repeating it, or one that hands its result (a large
 * directory's listing) to the request that waits for it. Who joins is
 * called back once it lands, in the landing thread; nobody waits in a
 * condition variable. */
typedef struct _FcFlight FcFlight;

/* Called once, in the thread that lands the flight (or in the joining
 * one, if it had landed already: see fc_flight_join()). */
typedef void (*FcFlightFunc) (FcFlight *flight,
                              gpointer  user_data);

FcFlight     *fc_flight_new       (void);
FcFlight     *fc_flight_ref       (FcFlight      *flight);
void          fc_flight_unref     (FcFlight      *flight);
gboolean      fc_flight_join      (FcFlight      *flight,
                                   FcFlightFunc   func,
                                   gpointer       user_data);
gboolean      fc_flight_leave     (FcFlight      *flight,
                                   FcFlightFunc   func,
                                   gpointer       user_data);
gboolean      fc_flight_unwanted  (FcFlight      *flight);
void          fc_flight_land      (FcFlight      *flight,
                                   const GError  *error);
const GError *fc_flight_get_error (FcFlight      *flight);
void          fc_flight_set_result   (FcFlight       *flight,
                                      gpointer        result,
                                      GDestroyNotify  result_free);
gpointer      fc_flight_steal_result (FcFlight       *flight);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcFlight, fc_flight_unref)

G_END_DECLS
