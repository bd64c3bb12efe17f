#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Messages up to this size are sent without asking: the daemon's own
 * introspection data is about this large, so a bus that refuses it
 * cannot be used to control the daemon at all. */
#define FC_BUS_LIMIT_FLOOR 4096

typedef struct _FcBusLimit FcBusLimit;

FcBusLimit *fc_bus_limit_new          (GBusType              bus_type,
                                       gsize                 ceiling);
FcBusLimit *fc_bus_limit_ref          (FcBusLimit           *limit);
void        fc_bus_limit_unref        (FcBusLimit           *limit);
void        fc_bus_limit_check_async  (FcBusLimit           *limit,
                                       gsize                 size,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
gboolean    fc_bus_limit_check_finish (GAsyncResult         *result,
                                       GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcBusLimit, fc_bus_limit_unref)

G_END_DECLS
