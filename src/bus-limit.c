#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "bus-limit.h"
#include "errors.h"

/* How large a message a bus carries. D-Bus has no way to ask: a bus
 * disconnects a peer that sends a message over its limit (dbus-daemon's
 * max_message_size: 32 MiB on a stock system bus, but whatever its admin
 * configured), and that peer must never be the daemon's own connection,
 * which holds the name. So the limit is learnt by sending messages of the
 * size in question on a throwaway connection of the same bus: a reply of
 * any kind (even an error) proves the bus read the message; a
 * disconnection proves it did not. What is learnt is kept, so that a bus
 * is probed at most twice per size range, and usually only once: the
 * first probe is of the ceiling, the largest message the caller sends. */

/* The probe is a method call to the bus itself, answered by the bus. */
#define PROBE_TIMEOUT_MS (20 * 1000)

struct _FcBusLimit {
  GBusType bus_type;
  gsize ceiling;
  GMutex lock;
  gsize fits;      /* guarded by lock: largest size known to be carried */
  gsize refused;   /* guarded by lock: smallest size known to be refused */
};

typedef struct {
  FcBusLimit *limit;   /* (owned) */
  gsize size;
} Check;

typedef enum {
  PROBE_CARRIED,
  PROBE_REFUSED,
  PROBE_UNKNOWN,
} ProbeResult;

/**
 * fc_bus_limit_new:
 * @bus_type: the bus whose limit is to be learnt
 * @ceiling: the largest message size the caller will ask about; a bus
 *   found to carry it is not probed again
 *
 * Returns: (transfer full): a limit that knows nothing above
 *   %FC_BUS_LIMIT_FLOOR yet; safe to use from any thread
 */
FcBusLimit *
fc_bus_limit_new (GBusType bus_type,
                  gsize    ceiling)
{
  FcBusLimit *limit = g_atomic_rc_box_new0 (FcBusLimit);

  limit->bus_type = bus_type;
  limit->ceiling = MAX (ceiling, FC_BUS_LIMIT_FLOOR);
  g_mutex_init (&limit->lock);
  limit->fits = FC_BUS_LIMIT_FLOOR;
  limit->refused = G_MAXSIZE;
  return limit;
}

FcBusLimit *
fc_bus_limit_ref (FcBusLimit *limit)
{
  return g_atomic_rc_box_acquire (limit);
}

static void
bus_limit_clear (gpointer data)
{
  FcBusLimit *limit = data;

  g_mutex_clear (&limit->lock);
}

void
fc_bus_limit_unref (FcBusLimit *limit)
{
  g_atomic_rc_box_release_full (limit, bus_limit_clear);
}

static void
check_free (gpointer data)
{
  Check *check = data;

  fc_bus_limit_unref (check->limit);
  g_free (check);
}

/* Sends a message of more than @size bytes to the bus itself. */
static ProbeResult
probe (GBusType       bus_type,
       gsize          size,
       GCancellable  *cancellable,
       GError       **error)
{
  g_autofree char *address = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) call_error = NULL;
  gpointer payload;
  ProbeResult result;

  address = g_dbus_address_get_for_bus_sync (bus_type, cancellable, error);
  if (address == NULL)
    return PROBE_UNKNOWN;
  connection = g_dbus_connection_new_for_address_sync (address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, cancellable, error);
  if (connection == NULL)
    return PROBE_UNKNOWN;

  payload = g_malloc0 (size);
  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus.Peer", "Ping",
                                       g_variant_new ("(@ay)",
                                                      g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING,
                                                                               payload, size, TRUE,
                                                                               g_free, payload)),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, PROBE_TIMEOUT_MS,
                                       cancellable, &call_error);
  /* Ping takes no argument and a strict bus denies it: either answer
   * shows the message was read. */
  if (reply != NULL || g_dbus_error_is_remote_error (call_error))
    result = PROBE_CARRIED;
  else if (g_dbus_connection_is_closed (connection))
    result = PROBE_REFUSED;
  else
    {
      result = PROBE_UNKNOWN;
      g_propagate_error (error, g_steal_pointer (&call_error));
    }

  if (!g_dbus_connection_is_closed (connection))
    g_dbus_connection_close_sync (connection, NULL, NULL);
  return result;
}

/* Under the lock: whether @size is known to fit (TRUE) or to be refused
 * (FALSE); otherwise FALSE with *@next the size worth probing. */
static gboolean
known_locked (FcBusLimit *limit,
              gsize       size,
              gboolean   *fits,
              gsize      *next)
{
  *next = 0;
  if (size <= limit->fits)
    *fits = TRUE;
  else if (size >= limit->refused)
    *fits = FALSE;
  else if (size <= limit->ceiling && limit->ceiling > limit->fits && limit->ceiling < limit->refused)
    *next = limit->ceiling;
  else
    *next = size;
  return *next == 0;
}

static void
check_return (GTask       *task,
              const Check *check,
              gboolean     fits)
{
  if (fits)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, FC_ERROR, FC_ERROR_TOO_LARGE,
                             _("A reply of %zu bytes is more than the bus carries"),
                             check->size);
}

static void
check_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  Check *check = task_data;
  FcBusLimit *limit = check->limit;
  GError *error = NULL;
  gboolean fits;
  gsize next;

  for (;;)
    {
      ProbeResult result;

      g_mutex_lock (&limit->lock);
      if (known_locked (limit, check->size, &fits, &next))
        {
          g_mutex_unlock (&limit->lock);
          break;
        }
      g_mutex_unlock (&limit->lock);

      result = probe (limit->bus_type, next, cancellable, &error);
      /* All of it or nothing: a reply not known to fit is not sent. */
      if (result == PROBE_UNKNOWN)
        {
          g_task_return_new_error (task, FC_ERROR, FC_ERROR_TOO_LARGE,
                                   _("Cannot tell whether the bus carries a reply of %zu bytes: %s"),
                                   check->size, error->message);
          g_error_free (error);
          return;
        }
      g_debug ("D-Bus: the bus %s a message of %" G_GSIZE_FORMAT " bytes",
               result == PROBE_CARRIED ? "carries" : "refuses", next);

      g_mutex_lock (&limit->lock);
      if (result == PROBE_CARRIED)
        limit->fits = MAX (limit->fits, next);
      else
        limit->refused = MIN (limit->refused, next);
      g_mutex_unlock (&limit->lock);
    }

  check_return (task, check, fits);
}

/**
 * fc_bus_limit_check_async:
 * @limit: a bus limit
 * @size: the size in bytes of a whole message (header included), as
 *   g_dbus_message_to_blob() makes it
 * @cancellable: (nullable): stops a probe in progress
 * @callback: called in the thread-default main context
 * @user_data: for @callback
 *
 * Finds out whether the bus carries a message of @size bytes, probing it
 * on a connection of its own (in a worker thread) if that is not known
 * yet. The answer errs on the side of refusal by the probe's own header,
 * about a hundred bytes.
 */
void
fc_bus_limit_check_async (FcBusLimit          *limit,
                          gsize                size,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Check *check = g_new0 (Check, 1);
  gboolean fits;
  gsize next;
  gboolean known;

  g_task_set_source_tag (task, fc_bus_limit_check_async);
  check->limit = fc_bus_limit_ref (limit);
  check->size = size;
  g_task_set_task_data (task, check, check_free);

  g_mutex_lock (&limit->lock);
  known = known_locked (limit, size, &fits, &next);
  g_mutex_unlock (&limit->lock);

  if (known)
    check_return (task, check, fits);
  else
    g_task_run_in_thread (task, check_thread);
}

/**
 * fc_bus_limit_check_finish:
 * @result: as given to the callback of fc_bus_limit_check_async()
 *
 * Returns: %TRUE if the bus carries the message; otherwise %FALSE with
 *   @error set to %FC_ERROR_TOO_LARGE: the bus refuses it, or the probe
 *   could not tell (the cause is in the message)
 */
gboolean
fc_bus_limit_check_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
