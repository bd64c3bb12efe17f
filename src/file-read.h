#pragma once

#include <glib.h>

#include "cache.h"
#include "flight.h"

G_BEGIN_DECLS

/* Reading a file whose identity was taken when it was opened, with the
 * proof that the bytes read belong to that version. */

void     fc_file_read_init   (void);
gboolean fc_file_unchanged   (int              fd,
                              FcFileId        *id);
gboolean fc_file_read_at     (int              fd,
                              FcFileId        *id,
                              guint64          offset,
                              char            *buf,
                              gsize            want,
                              GError         **error);
gboolean fc_file_readable    (int              fd,
                              FcFileId        *id,
                              GError         **error);
GBytes  *fc_file_read_whole  (int              fd,
                              const FcFileId  *id,
                              FcFlight        *wanted_by,
                              GError         **error);

G_END_DECLS
