#pragma once

#include <gio/gio.h>

#include "serve-context.h"

G_BEGIN_DECLS

/* The threads that serve connections: each owns a waiter and serves the
 * connections handed to it, one step at a time, until they close; and
 * the bulk senders, threads of their own, which send the rest of each
 * large reply (%FC_BULK_BODY_MIN) for them. */
typedef struct _FcWorkers FcWorkers;

typedef void (*FcWorkersDrained) (gpointer user_data);

/* Takes @fd (transfer full), a connection beyond the limit, in the
 * worker thread that accepted it. */
typedef void (*FcWorkersRefuse) (int      fd,
                                 gpointer user_data);

FcWorkers *fc_workers_new   (FcServeContext     *context,
                             guint               n_threads,
                             guint               n_senders,
                             FcWorkersRefuse     refuse,
                             gpointer            refuse_data,
                             GError            **error);
gboolean   fc_workers_set_threads (FcWorkers    *workers,
                                   guint         n_threads,
                                   GError      **error);
guint      fc_workers_get_threads (FcWorkers    *workers);
void       fc_workers_listen (FcWorkers         *workers,
                              GSocket           *socket);
void       fc_workers_stop_accepting (FcWorkers *workers);
void       fc_workers_drain (FcWorkers          *workers,
                             FcWorkersDrained    drained,
                             gpointer            user_data);
void       fc_workers_free  (FcWorkers          *workers);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcWorkers, fc_workers_free)

G_END_DECLS
