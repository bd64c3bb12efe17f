#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "listen.h"

static GList *
resolve_host (const char  *host,
              GError     **error)
{
  GInetAddress *address;

  if (g_strcmp0 (host, "localhost") == 0)
    return g_list_append (g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)),
                          g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6));

  address = g_inet_address_new_from_string (host);
  if (address != NULL)
    return g_list_append (NULL, address);

  return g_resolver_lookup_by_name (g_resolver_get_default (), host, NULL, error);
}

/**
 * fc_listen_host:
 * @listener: where the sockets go
 * @host: "localhost" (both loopbacks), an address, or a host name
 * @port: (inout): the port; 0 picks a free one, stored here
 * @error: a #GIOError naming the address and the port that could not be
 *   bound (%G_IO_ERROR_ADDRESS_IN_USE for a port taken)
 *
 * Binds every address of @host. The first address picks the port (when
 * asked for 0), the others share it. "localhost" succeeds if either
 * loopback can be bound, since a host without IPv6 is common, but not if
 * the port is taken on either.
 */
gboolean
fc_listen_host (GSocketListener  *listener,
                const char       *host,
                guint16          *port,
                GError          **error)
{
  g_autolist(GInetAddress) addresses = resolve_host (host, error);
  gboolean tolerant = g_strcmp0 (host, "localhost") == 0;
  g_autoptr(GError) listen_error = NULL;
  guint bound = 0;

  if (addresses == NULL)
    return FALSE;

  for (GList *l = addresses; l != NULL; l = l->next)
    {
      g_autoptr(GSocketAddress) address = g_inet_socket_address_new (l->data, *port);
      g_autoptr(GSocketAddress) effective = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *text = NULL;

      if (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                         G_SOCKET_PROTOCOL_TCP, NULL, &effective, &local_error))
        {
          *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
          bound++;
          continue;
        }

      text = g_inet_address_to_string (l->data);
      g_clear_error (&listen_error);
      g_set_error (&listen_error, local_error->domain, local_error->code,
                   _("Cannot listen on %s port %u: %s"), text, *port,
                   local_error->message);
      /* A port taken on one loopback is a conflict to report, not a
       * missing address family to put up with. */
      if (!tolerant || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        break;
      g_debug ("%s", listen_error->message);
    }

  if (bound == 0 || (listen_error != NULL && (!tolerant || listen_error->code == G_IO_ERROR_ADDRESS_IN_USE)))
    {
      g_propagate_error (error, g_steal_pointer (&listen_error));
      return FALSE;
    }
  return TRUE;
}
