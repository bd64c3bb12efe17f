#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "bus-limit.h"
#include "dbus-control.h"
#include "errors.h"
#include "fc-dbus-generated.h"
#include "names.h"

/* The generated skeleton announces a property only when its value
 * changes; DBUS.md wants every Set of Capacity announced, the same value
 * included. This subclass adds that, and nothing else. */
typedef struct {
  FcDbusCache1Skeleton parent_instance;
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
  skeleton_class->get_vtable = control_skeleton_get_vtable;
}

static void
fc_control_skeleton_init (FcControlSkeleton *skeleton)
{
}

/* DBUS.md 1.1: the most serialized data (GVariant's form of the reply's
 * body) a list reply holds, all of it or nothing. */
#define LIST_REPLY_MAX (8 * 1024 * 1024)
/* DBUS.md 1.1: the largest page ListCacheRange gives. */
#define LIST_RANGE_COUNT_MAX 10000
/* Every list reply's whole message fits this: on the wire an entry takes
 * at most 8 bytes more than in GVariant's form, where it takes at least
 * 32, and the header is well under 4 KiB. A bus that carries this much
 * is not probed again. */
#define LIST_MESSAGE_MAX (LIST_REPLY_MAX + LIST_REPLY_MAX / 4 + 4096)

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
};

/* Returns: (transfer full) (nullable): the reply body (a(sttx)) holding
 * @entries, or %NULL with %FC_ERROR_TOO_LARGE when it would exceed
 * LIST_REPLY_MAX bytes. */
static GVariant *
list_reply_body (GArray  *entries,
                 GError **error)
{
  g_autoptr(GVariant) body = NULL;
  gsize least = 0;

  /* No serialized form of an entry is smaller than its name, padded to
   * 8, and its three numbers: a list far over the bound is refused
   * without building a variant of that size first. */
  for (guint i = 0; i < entries->len; i++)
    least += ((strlen (g_array_index (entries, FcCacheInfo, i).name) + 1 + 7) & ~(gsize) 7) + 24;

  if (least <= LIST_REPLY_MAX)
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sttx)"));
      for (guint i = 0; i < entries->len; i++)
        {
          const FcCacheInfo *info = &g_array_index (entries, FcCacheInfo, i);

          g_variant_builder_add (&builder, "(sttx)", info->name, info->size, info->hits,
                                 info->last_use);
        }
      body = g_variant_ref_sink (g_variant_new ("(@a(sttx))", g_variant_builder_end (&builder)));
    }

  if (body == NULL || g_variant_get_size (body) > LIST_REPLY_MAX)
    {
      g_set_error (error, FC_ERROR, FC_ERROR_TOO_LARGE,
                   _("The reply with %u cached files would exceed %d bytes; ask ListCacheRange for fewer at a time"),
                   entries->len, LIST_REPLY_MAX);
      return NULL;
    }
  return g_steal_pointer (&body);
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
 * exceeds what DBUS.md allows or what the bus carries: a bus disconnects
 * whoever sends it a message over its limit. */
static void
reply_entries (FcDbusControl         *control,
               GDBusMethodInvocation *invocation,
               GArray                *entries)
{
  g_autoptr(GError) error = NULL;
  GVariant *body = list_reply_body (entries, &error);
  PendingReply *pending;

  if (body == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }

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

  reply_entries (control, invocation, entries);
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
  reply_entries (control, invocation, entries);
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

typedef struct {
  FcServer *server;
  FcServerStats stats;
} ServerSnapshot;

static void
read_server_stats (gpointer user_data)
{
  ServerSnapshot *snapshot = user_data;

  fc_server_get_stats (snapshot->server, &snapshot->stats);
}

static gboolean
handle_stats (FcDbusCache1          *skeleton,
              GDBusMethodInvocation *invocation,
              gpointer               user_data)
{
  FcDbusControl *control = user_data;
  ServerSnapshot server = { control->server };
  FcCacheStats cache;
  GVariantDict dict;

  /* The server's counters are read under the cache lock too, so the
   * reply is one snapshot. */
  fc_cache_get_stats (control->cache, &cache, read_server_stats, &server);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hits", "t", cache.hits);
  g_variant_dict_insert (&dict, "misses", "t", cache.misses);
  g_variant_dict_insert (&dict, "loads", "t", cache.loads);
  g_variant_dict_insert (&dict, "evictions", "t", cache.evictions);
  g_variant_dict_insert (&dict, "invalidations", "t", cache.invalidations);
  g_variant_dict_insert (&dict, "entries", "u", cache.entries);
  g_variant_dict_insert (&dict, "size", "t", cache.size);
  g_variant_dict_insert (&dict, "capacity", "t", cache.capacity);
  g_variant_dict_insert (&dict, "requests", "t", server.stats.requests);
  g_variant_dict_insert (&dict, "errors", "t", server.stats.errors);
  g_variant_dict_insert (&dict, "refused", "t", server.stats.refused);
  g_variant_dict_insert (&dict, "bytes-sent", "t", server.stats.bytes_sent);
  g_variant_dict_insert (&dict, "clients", "u", server.stats.clients);
  g_variant_dict_insert (&dict, "clients-total", "t", server.stats.clients_total);
  g_variant_dict_insert (&dict, "uptime", "t", server.stats.uptime);
  g_variant_dict_insert (&dict, "max-entry-size", "t", cache.max_entry_size);
  g_variant_dict_insert (&dict, "pinned", "t", cache.pinned);

  fc_dbus_cache1_complete_stats (skeleton, invocation, g_variant_dict_end (&dict));
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

static const char *
bus_name (GBusType bus_type)
{
  return bus_type == G_BUS_TYPE_SYSTEM ? _("system") : _("session");
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
  g_autoptr(GError) error = NULL;

  if (connection == NULL && control->connected)
    {
      g_warning (_("Lost the connection to the %s bus; serving without D-Bus control"),
                 bus_name (control->bus_type));
      control_announce (control);
      return;
    }
  if (connection == NULL)
    {
      g_warning (_("Cannot reach the %s bus; serving without D-Bus control"),
                 bus_name (control->bus_type));
      control_announce (control);
      return;
    }
  if (control->owned)
    {
      g_warning (_("Lost the name %s on the %s bus; serving without D-Bus control"),
                 name, bus_name (control->bus_type));
      return;
    }

  /* The bus refuses a name for two reasons: someone has it, or the bus
   * policy does not let us have it. The admin's next step differs. */
  if (name_has_owner (connection, name))
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 _("The name %s is already owned on the %s bus: is another filecached running?"),
                 name, bus_name (control->bus_type));
  else
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 _("The %s bus does not let this user own the name %s: is its bus policy installed?"),
                 bus_name (control->bus_type), name);
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
  fc_dbus_cache1_set_capacity (control->skeleton, fc_cache_get_capacity (cache));
  fc_dbus_cache1_set_root (control->skeleton, fc_server_get_root (server));
  fc_dbus_cache1_set_port (control->skeleton, fc_server_get_port (server));

  g_signal_connect (control->skeleton, "handle-list-cache", G_CALLBACK (handle_list_cache), control);
  g_signal_connect (control->skeleton, "handle-list-cache-range", G_CALLBACK (handle_list_cache_range), control);
  g_signal_connect (control->skeleton, "handle-evict", G_CALLBACK (handle_evict), control);
  g_signal_connect (control->skeleton, "handle-clear", G_CALLBACK (handle_clear), control);
  g_signal_connect (control->skeleton, "handle-stats", G_CALLBACK (handle_stats), control);
  g_signal_connect (control->skeleton, "notify::capacity", G_CALLBACK (on_capacity_notify), control);

  control->owner_id = g_bus_own_name (bus_type, FC_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                      on_bus_acquired, on_name_acquired, on_name_lost,
                                      control, NULL);
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
  g_bus_unown_name (control->owner_id);
  /* Never exported when the bus could not be reached. */
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (control->skeleton)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (control->skeleton));
  g_signal_handlers_disconnect_by_data (control->skeleton, control);
  g_object_unref (control->skeleton);
  /* A probe still running answers its call with an error, and keeps the
   * limit alive until then. */
  g_cancellable_cancel (control->cancellable);
  g_object_unref (control->cancellable);
  fc_bus_limit_unref (control->limit);
  g_free (control);
}
