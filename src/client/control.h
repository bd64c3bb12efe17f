#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _FccControl FccControl;

typedef struct {
  char *name;       /* (owned) */
  guint64 size;
  guint64 hits;
} FccListEntry;

FccControl *fcc_control_open           (GBusType     bus_type,
                                        GError     **error);
void        fcc_control_free           (FccControl  *control);
gboolean    fcc_control_reachable      (FccControl  *control);
GVariant   *fcc_control_get_stats      (FccControl  *control,
                                        GError     **error);
GVariant   *fcc_control_get_properties (FccControl  *control,
                                        GError     **error);
GVariant   *fcc_control_simulate_capacity (FccControl    *control,
                                           const guint64 *capacities,
                                           gsize          n_capacities,
                                           GError       **error);
GDBusConnection *fcc_control_get_bus   (FccControl  *control);
gboolean    fcc_control_evict          (FccControl  *control,
                                        const char  *name,
                                        gboolean    *evicted,
                                        GError     **error);
gboolean    fcc_control_clear          (FccControl  *control,
                                        guint32     *count,
                                        GError     **error);
GPtrArray  *fcc_control_list           (FccControl  *control,
                                        GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FccControl, fcc_control_free)

G_END_DECLS
