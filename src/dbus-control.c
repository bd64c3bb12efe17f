#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "bus-limit.h"
#include "dbus-control.h"
#include "errors.h"
#include "fc-dbus-generated.h"
#include "names.h"
#include "stats.h"

/* The generated skeleton announces a property only when its value
 * changes; DBUS.md wants every Set of Capacity announced, the same value
 * included. And History changes with every request: it is read from the
 * cache when asked for, never stored. This subclass adds those. */
typedef struct {
  FcDbusCache1Skeleton parent_instance;
  FcCache *cache;                 /* (unowned): for History, read live */
} FcControlSkeleton;

typedef struct {
  FcDbusCache1SkeletonClass parent_class;
} FcControlSkeletonClass;

static GType fc_control_skeleton_get_type (void);

G_DEFINE_TYPE (FcControlSkeleton, fc_control_skeleton, FC_DBUS_TYPE_CACHE1_SKELETON)

static const GDBusInterfaceVTable *generated_vtable;
static GDBusInterfaceVTable control_vtable;

static gboolean
control_set_property (GDBusConnection  *connection,
                      const char       *sender,
                      const char       *object_path,
                      const char       *interface_name,
                      const char       *property_name,
                      GVariant         *value,
                      GError          **error,
                      gpointer          user_data)
{
  gboolean unchanged = g_strcmp0 (property_name, "Capacity") == 0 &&
                       g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) &&
                       g_variant_get_uint64 (value) == fc_dbus_cache1_get_capacity (user_data);
  GVariantBuilder changed;

  if (!generated_vtable->set_property (connection, sender, object_path, interface_name,
                                       property_name, value, error, user_data))
    return FALSE;
  if (!unchanged)
    return TRUE;

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", property_name, value);
  g_dbus_connection_emit_signal (connection, NULL, object_path,
                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                 g_variant_new ("(sa{sv}as)", interface_name, &changed, NULL),
                                 NULL);
  return TRUE;
}

static GVariant *
control_get_property (GDBusConnection  *connection,
                      const char       *sender,
                      const char       *object_path,
                      const char       *interface_name,
                      const char       *property_name,
                      GError          **error,
                      gpointer          user_data)
{
  FcControlSkeleton *skeleton = user_data;

  if (g_strcmp0 (property_name, "History") == 0)
    return g_variant_new_uint32 (fc_cache_get_history_length (skeleton->cache));
  return generated_vtable->get_property (connection, sender, object_path, interface_name,
                                         property_name, error, user_data);
}

static GDBusInterfaceVTable *
control_skeleton_get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  return &control_vtable;
}

static void
fc_control_skeleton_class_init (FcControlSkeletonClass *klass)
{
  GDBusInterfaceSkeletonClass *skeleton_class = G_DBUS_INTERFACE_SKELETON_CLASS (klass);
  GDBusInterfaceSkeletonClass *generated_class =
    G_DBUS_INTERFACE_SKELETON_CLASS (fc_control_skeleton_parent_class);

  /* The generated get_vtable() ignores its argument. */
  generated_vtable = generated_class->get_vtable (NULL);
  control_vtable = *generated_vtable;
  control_vtable.set_property = control_set_property;
  control_vtable.get_property = control_get_property;
  skeleton_class->get_vtable = control_skeleton_get_vtable;
}

static void
fc_control_skeleton_init (FcControlSkeleton *skeleton)
{
}

/* DBUS.md 1.1: the most serialized data a ListCache reply's body holds
 * on the bus, all of it or nothing. */
#define LIST_REPLY_MAX (8 * 1024 * 1024)
/* DBUS.md 1.1: the largest page ListCacheRange gives. */
#define LIST_RANGE_COUNT_MAX 10000
/* Every ListCache reply's whole message fits this: its body is
 * LIST_REPLY_MAX at most and its header well under 4 KiB. A bus that
 * carries this much is not probed again but for a ListCacheRange page
 * larger still (10000 names of 4000 bytes take 40 MB), probed at its
 * own size. */
#define LIST_MESSAGE_MAX (LIST_REPLY_MAX + 4096)
/* DBUS.md 1.1: the most capacities one SimulateCapacity call takes. */
#define SIMULATE_CAPACITIES_MAX 64
/* DBUS.md 1.1: Evicted is sent at most 10 times a second, with at most
 * 1000 entries. */
#define EVICTED_INTERVAL_US (G_USEC_PER_SEC / 10)
#define EVICTED_ENTRIES_MAX 1000

struct _FcDbusControl {
  FcCache *cache;                 /* (unowned) */
  FcServer *server;               /* (unowned) */
  FcDbusCache1 *skeleton;         /* (owned) */
  FcBusLimit *limit;              /* (owned) */
  GCancellable *cancellable;      /* (owned): stops bus probes at exit */
  GBusType bus_type;
  guint owner_id;
  gboolean announced;
  gboolean connected;             /* the bus was reached once */
  gboolean owned;                 /* the name was owned once */
  FcDbusReadyFunc ready;
  FcDbusFatalFunc fatal;
  gpointer user_data;

  /* Evictions waiting for the next Evicted signal, filled by the cache's
   * threads and emptied in the main context. */
  GMutex events_lock;
  GMainContext *context;          /* (owned): where signals are emitted */
  GArray *events;                 /* (owned) (element-type FcEviction): at most EVICTED_ENTRIES_MAX */
  guint32 dropped;                /* left out since the last signal */
  GSource *emit_source;           /* (owned) (nullable): the next signal, scheduled */
  gint64 last_emit;               /* monotonic time of the last signal */
};

/* The bytes of an a(sttx) body holding @entries as the D-Bus
 * specification marshals it ("Marshaling (Wire Format)"): the array's
 * length, padding to 8, then each struct at an 8-byte boundary: the
 * string's length, its bytes and NUL, padding to 8, and three 8-byte
 * numbers. GVariant's own serialized form (g_variant_get_size()) adds
 * framing offsets the bus never carries, about 12 bytes an entry, and
 * so refused replies under the bound. */
static guint64
list_wire_size (GArray *entries)
{
  guint64 size = 8;

  for (guint i = 0; i < entries->len; i++)
    size += ((4 + strlen (g_array_index (entries, FcCacheInfo, i).name) + 1 + 7) & ~(guint64) 7) + 24;
  return size;
}

/* Returns: (transfer full): the reply body (a(sttx)) holding @entries */
static GVariant *
list_reply_body (GArray *entries)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sttx)"));
  for (guint i = 0; i < entries->len; i++)
    {
      const FcCacheInfo *info = &g_array_index (entries, FcCacheInfo, i);

      g_variant_builder_add (&builder, "(sttx)", info->name, info->size, info->hits,
                             info->last_use);
    }
  return g_variant_ref_sink (g_variant_new ("(@a(sttx))", g_variant_builder_end (&builder)));
}

/* The size of the whole reply message, header included, as sent. */
static gsize
reply_message_size (GDBusMethodInvocation *invocation,
                    GVariant              *body)
{
  g_autoptr(GDBusMessage) reply = NULL;
  g_autofree guchar *blob = NULL;
  gsize size = G_MAXSIZE;

  reply = g_dbus_message_new_method_reply (g_dbus_method_invocation_get_message (invocation));
  g_dbus_message_set_body (reply, body);
  blob = g_dbus_message_to_blob (reply, &size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
  return blob != NULL ? size : G_MAXSIZE;
}

typedef struct {
  GDBusMethodInvocation *invocation;  /* (owned) */
  GVariant *body;                     /* (owned) */
} PendingReply;

static void
on_reply_checked (GObject      *source_object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PendingReply *pending = user_data;
  g_autoptr(GError) error = NULL;

  /* Both calls take over the invocation. */
  if (fc_bus_limit_check_finish (result, &error))
    g_dbus_method_invocation_return_value (pending->invocation, pending->body);
  else
    g_dbus_method_invocation_return_gerror (pending->invocation, error);
  g_variant_unref (pending->body);
  g_free (pending);
}

/* Answers @invocation with @entries, or with TooLarge when the reply
 * exceeds what the bus carries (a bus disconnects whoever sends it a
 * message over its limit) or, @bounded (ListCache), DBUS.md's 8 MiB;
 * a ListCacheRange page has no bound but its count. The size is known
 * before any variant is built. */
static void
reply_entries (FcDbusControl         *control,
               GDBusMethodInvocation *invocation,
               GArray                *entries,
               gboolean               bounded)
{
  GVariant *body;
  PendingReply *pending;

  if (bounded && list_wire_size (entries) > LIST_REPLY_MAX)
    {
      g_dbus_method_invocation_return_error (invocation, FC_ERROR, FC_ERROR_TOO_LARGE,
                                             _("The reply with %u cached files would exceed %d bytes; ask ListCacheRange for fewer at a time"),
                                             entries->len, LIST_REPLY_MAX);
      return;
    }

  body = list_reply_body (entries);
  pending = g_new0 (PendingReply, 1);
  pending->invocation = invocation;
  pending->body = body;
  fc_bus_limit_check_async (control->limit, reply_message_size (invocation, body),
                            control->cancellable, on_reply_checked, pending);
}

static gboolean
handle_list_cache (FcDbusCache1          *skeleton,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GArray) entries = fc_cache_list (control->cache);

  reply_entries (control, invocation, entries, TRUE);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_cache_range (FcDbusCache1          *skeleton,
                         GDBusMethodInvocation *invocation,
                         guint                  offset,
                         guint                  count,
                         gpointer               user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GArray) entries = NULL;

  if (count > LIST_RANGE_COUNT_MAX)
    {
      /* FC_ERROR_INVALID_NAME is the domain's InvalidArgument. */
      g_dbus_method_invocation_return_error (invocation, FC_ERROR, FC_ERROR_INVALID_NAME,
                                             _("count %u is above %d"),
                                             count, LIST_RANGE_COUNT_MAX);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  entries = fc_cache_list_range (control->cache, offset, count);
  reply_entries (control, invocation, entries, FALSE);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_evict (FcDbusCache1          *skeleton,
              GDBusMethodInvocation *invocation,
              const char            *name,
              gpointer               user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GError) error = NULL;

  if (!fc_name_validate (name, strlen (name), &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  fc_dbus_cache1_complete_evict (skeleton, invocation, fc_cache_evict (control->cache, name));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_clear (FcDbusCache1          *skeleton,
              GDBusMethodInvocation *invocation,
              gpointer               user_data)
{
  FcDbusControl *control = user_data;

  fc_dbus_cache1_complete_clear (skeleton, invocation, fc_cache_clear (control->cache));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* A simulation of up to 64 capacities over 100000 requests takes up to
 * a second: it runs in a thread of its own, not in the main context, on a
 * snapshot taken in the main context, so the daemon may stop meanwhile. */
typedef struct {
  FcCacheHistory *history;              /* (owned) */
  FcDbusCache1 *skeleton;               /* (owned) */
  GDBusMethodInvocation *invocation;    /* (owned) */
  GArray *capacities;                   /* (owned) (element-type guint64) */
} Simulation;

static void
simulation_free (gpointer data)
{
  Simulation *simulation = data;

  fc_cache_history_free (simulation->history);
  g_object_unref (simulation->skeleton);
  g_array_unref (simulation->capacities);
  g_free (simulation);
}

static void
simulate_in_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  Simulation *simulation = task_data;
  GArray *capacities = simulation->capacities;
  g_autofree double *ratios = g_new (double, MAX (capacities->len, 1));
  GVariantBuilder builder;

  fc_cache_history_simulate (simulation->history, (const guint64 *) (gpointer) capacities->data,
                             capacities->len, ratios);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(td)"));
  for (guint i = 0; i < capacities->len; i++)
    g_variant_builder_add (&builder, "(td)", g_array_index (capacities, guint64, i), ratios[i]);
  /* Returning a method call is safe from any thread. */
  fc_dbus_cache1_complete_simulate_capacity (simulation->skeleton,
                                             g_steal_pointer (&simulation->invocation),
                                             g_variant_builder_end (&builder));
}

static gboolean
handle_simulate_capacity (FcDbusCache1          *skeleton,
                          GDBusMethodInvocation *invocation,
                          GVariant              *capacities,
                          gpointer               user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GTask) task = NULL;
  Simulation *simulation;
  gsize n;
  const guint64 *values = g_variant_get_fixed_array (capacities, &n, sizeof (guint64));

  if (n > SIMULATE_CAPACITIES_MAX)
    {
      /* FC_ERROR_INVALID_NAME is the domain's InvalidArgument. */
      g_dbus_method_invocation_return_error (invocation, FC_ERROR, FC_ERROR_INVALID_NAME,
                                             _("%zu capacities are more than %d"),
                                             n, SIMULATE_CAPACITIES_MAX);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  simulation = g_new0 (Simulation, 1);
  simulation->history = fc_cache_history_snapshot (control->cache);
  simulation->skeleton = g_object_ref (skeleton);
  simulation->invocation = invocation;
  simulation->capacities = g_array_sized_new (FALSE, FALSE, sizeof (guint64), (guint) n);
  g_array_append_vals (simulation->capacities, values, (guint) n);
  task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (task, simulation, simulation_free);
  g_task_run_in_thread (task, simulate_in_thread);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Main context: sends what the cache's threads queued as one Evicted. */
static gboolean
emit_evicted (gpointer user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GArray) events = NULL;
  GVariantBuilder builder;
  guint32 dropped;

  g_mutex_lock (&control->events_lock);
  events = g_steal_pointer (&control->events);
  dropped = control->dropped;
  control->dropped = 0;
  g_clear_pointer (&control->emit_source, g_source_unref);
  control->last_emit = g_get_monotonic_time ();
  g_mutex_unlock (&control->events_lock);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (guint i = 0; events != NULL && i < events->len; i++)
    {
      const FcEviction *event = &g_array_index (events, FcEviction, i);

      g_variant_builder_add (&builder, "(ss)", event->name, fc_evict_reason_to_string (event->reason));
    }
  fc_dbus_cache1_emit_evicted (control->skeleton, g_variant_builder_end (&builder), dropped);
  return G_SOURCE_REMOVE;
}

/* Any thread, after the cache lock is released: queues @evictions for
 * the next signal, no sooner than EVICTED_INTERVAL_US after the last. */
static void
on_cache_evicted (GArray   *evictions,
                  gpointer  user_data)
{
  FcDbusControl *control = user_data;

  g_mutex_lock (&control->events_lock);
  if (control->events == NULL)
    {
      control->events = g_array_new (FALSE, FALSE, sizeof (FcEviction));
      g_array_set_clear_func (control->events, fc_eviction_clear);
    }
  for (guint i = 0; i < evictions->len; i++)
    {
      const FcEviction *eviction = &g_array_index (evictions, FcEviction, i);
      FcEviction copy = { g_strdup (eviction->name), eviction->reason };

      if (control->events->len >= EVICTED_ENTRIES_MAX)
        {
          g_free (copy.name);
          control->dropped++;
          continue;
        }
      g_array_append_val (control->events, copy);
    }

  if (control->emit_source == NULL)
    {
      gint64 wait = control->last_emit + EVICTED_INTERVAL_US - g_get_monotonic_time ();

      control->emit_source = g_timeout_source_new ((guint) (MAX (wait, 0) / 1000 + (wait > 0)));
      g_source_set_callback (control->emit_source, emit_evicted, control, NULL);
      g_source_attach (control->emit_source, control->context);
    }
  g_mutex_unlock (&control->events_lock);
}

static gboolean
handle_stats (FcDbusCache1          *skeleton,
              GDBusMethodInvocation *invocation,
              gpointer               user_data)
{
  FcDbusControl *control = user_data;

  fc_dbus_cache1_complete_stats (skeleton, invocation, fc_stats_collect (control->cache, control->server));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The skeleton has already stored the value (it cannot refuse one, and
 * every capacity is valid); the cache follows it here. */
static void
on_capacity_notify (GObject    *object,
                    GParamSpec *pspec,
                    gpointer    user_data)
{
  FcDbusControl *control = user_data;
  guint64 capacity = fc_dbus_cache1_get_capacity (control->skeleton);

  g_debug ("D-Bus: capacity set to %" G_GUINT64_FORMAT, capacity);
  fc_cache_set_capacity (control->cache, capacity);
}

static void
on_bus_acquired (GDBusConnection *connection,
                 const char      *name,
                 gpointer         user_data)
{
  FcDbusControl *control = user_data;
  g_autoptr(GError) error = NULL;

  /* GDBus's default for a bus connection is to raise SIGTERM when the bus
   * goes away; DBUS.md wants TCP served on without the bus. Set before
   * anything can close the connection: this runs as it is made. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  control->connected = TRUE;

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (control->skeleton),
                                         connection, FC_DBUS_PATH, &error))
    g_warning (_("Cannot export the D-Bus control object: %s"), error->message);
}

static void
control_announce (FcDbusControl *control)
{
  if (control->announced)
    return;
  control->announced = TRUE;
  control->ready (control->user_data);
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  FcDbusControl *control = user_data;

  g_debug ("D-Bus: owning %s", name);
  control->owned = TRUE;
  control_announce (control);
}

static gboolean
name_has_owner (GDBusConnection *connection,
                const char      *name)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);
  return has_owner;
}

/* GLib reports an unreachable bus, a lost bus and a name owned by
 * someone else through the same callback; the connection and what came
 * before tell them apart. Only the last one, at start, stops the daemon:
 * DBUS.md wants TCP served on without the bus. */
static void
on_name_lost (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  FcDbusControl *control = user_data;
  /* One whole sentence per bus, not the bus's name pasted into one, so
   * that translators can inflect and reorder. */
  gboolean system = control->bus_type == G_BUS_TYPE_SYSTEM;
  g_autoptr(GError) error = NULL;

  if (connection == NULL && control->connected)
    {
      g_warning ("%s", system
                       ? _("Lost the connection to the system bus; serving without D-Bus control")
                       : _("Lost the connection to the session bus; serving without D-Bus control"));
      control_announce (control);
      return;
    }
  if (connection == NULL)
    {
      g_warning ("%s", system
                       ? _("Cannot reach the system bus; serving without D-Bus control")
                       : _("Cannot reach the session bus; serving without D-Bus control"));
      control_announce (control);
      return;
    }
  if (control->owned)
    {
      g_warning (system
                 ? _("Lost the name %s on the system bus; serving without D-Bus control")
                 : _("Lost the name %s on the session bus; serving without D-Bus control"),
                 name);
      return;
    }

  /* The bus refuses a name for two reasons: someone has it, or the bus
   * policy does not let us have it. The admin's next step differs. */
  if (name_has_owner (connection, name))
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 system
                 ? _("The name %s is already owned on the system bus: is another filecached running?")
                 : _("The name %s is already owned on the session bus: is another filecached running?"),
                 name);
  else
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 system
                 ? _("The system bus does not let this user own the name %s: is its bus policy installed?")
                 : _("The session bus does not let this user own the name %s: is its bus policy installed?"),
                 name);
  control->fatal (error, control->user_data);
}

/**
 * fc_dbus_control_new:
 * @cache: (transfer none): the cache to steer; must outlive the result
 * @server: (transfer none): the running server; must outlive the result
 * @bus_type: the bus to own %FC_DBUS_NAME on
 * @ready: called once the name is owned or the bus found unreachable
 * @fatal: called if the bus refuses the name
 * @user_data: for @ready and @fatal
 *
 * Exports the control interface and asks for the name, in the
 * thread-default main context. An unreachable bus, and a bus lost later,
 * are a warning only: the TCP service goes on without control.
 *
 * Returns: (transfer full): the control object
 */
FcDbusControl *
fc_dbus_control_new (FcCache         *cache,
                     FcServer        *server,
                     GBusType         bus_type,
                     FcDbusReadyFunc  ready,
                     FcDbusFatalFunc  fatal,
                     gpointer         user_data)
{
  FcDbusControl *control = g_new0 (FcDbusControl, 1);

  control->cache = cache;
  control->server = server;
  control->bus_type = bus_type;
  control->ready = ready;
  control->fatal = fatal;
  control->user_data = user_data;
  control->limit = fc_bus_limit_new (bus_type, LIST_MESSAGE_MAX);
  control->cancellable = g_cancellable_new ();

  /* Registers the D-Bus error names before any method can fail. */
  (void) fc_error_quark ();

  control->skeleton = g_object_new (fc_control_skeleton_get_type (), NULL);
  ((FcControlSkeleton *) control->skeleton)->cache = cache;
  g_mutex_init (&control->events_lock);
  control->context = g_main_context_ref_thread_default ();
  control->last_emit = G_MININT64 / 2;
  fc_dbus_cache1_set_capacity (control->skeleton, fc_cache_get_capacity (cache));
  fc_dbus_cache1_set_root (control->skeleton, fc_server_get_root (server));
  fc_dbus_cache1_set_port (control->skeleton, fc_server_get_port (server));

  g_signal_connect (control->skeleton, "handle-list-cache", G_CALLBACK (handle_list_cache), control);
  g_signal_connect (control->skeleton, "handle-list-cache-range", G_CALLBACK (handle_list_cache_range), control);
  g_signal_connect (control->skeleton, "handle-evict", G_CALLBACK (handle_evict), control);
  g_signal_connect (control->skeleton, "handle-clear", G_CALLBACK (handle_clear), control);
  g_signal_connect (control->skeleton, "handle-stats", G_CALLBACK (handle_stats), control);
  g_signal_connect (control->skeleton, "handle-simulate-capacity", G_CALLBACK (handle_simulate_capacity), control);
  g_signal_connect (control->skeleton, "notify::capacity", G_CALLBACK (on_capacity_notify), control);

  control->owner_id = g_bus_own_name (bus_type, FC_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                      on_bus_acquired, on_name_acquired, on_name_lost,
                                      control, NULL);
  fc_cache_set_evicted_func (cache, on_cache_evicted, control);
  return control;
}

/**
 * fc_dbus_control_set_capacity:
 * @control: the control object
 * @capacity: the cache's new capacity, in bytes
 *
 * Changes the capacity as a Set of `Capacity` would, so that the
 * property, its PropertiesChanged signal and the cache agree. Main thread.
 */
void
fc_dbus_control_set_capacity (FcDbusControl *control,
                              guint64        capacity)
{
  fc_dbus_cache1_set_capacity (control->skeleton, capacity);
}

void
fc_dbus_control_free (FcDbusControl *control)
{
  g_autoptr(GDBusConnection) connection = NULL;

  /* No eviction is queued once this returns. */
  fc_cache_set_evicted_func (control->cache, NULL, NULL);
  if (control->emit_source != NULL)
    g_source_destroy (control->emit_source);
  g_clear_pointer (&control->emit_source, g_source_unref);
  g_clear_pointer (&control->events, g_array_unref);
  g_main_context_unref (control->context);
  g_mutex_clear (&control->events_lock);
  g_bus_unown_name (control->owner_id);
  /* Never exported when the bus could not be reached; held past the
   * unexport, which drops the skeleton's reference. */
  connection = g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (control->skeleton));
  if (connection != NULL)
    {
      g_object_ref (connection);
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (control->skeleton));
      /* The name's release leaves before the process does, and GDBus's
       * thread is idle again when it exits (the stop's exit guard bounds
       * a bus that does not take it). */
      g_dbus_connection_flush_sync (connection, NULL, NULL);
    }
  g_signal_handlers_disconnect_by_data (control->skeleton, control);
  g_object_unref (control->skeleton);
  /* A probe still running answers its call with an error, and keeps the
   * limit alive until then. */
  g_cancellable_cancel (control->cancellable);
  g_object_unref (control->cancellable);
  fc_bus_limit_unref (control->limit);
  g_free (control);
}
