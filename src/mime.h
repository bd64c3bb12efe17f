#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The media type of a name whose extension no table maps. */
#define FC_MIME_DEFAULT "application/octet-stream"
/* Debian's media-types package installs it. */
#define FC_MIME_TYPES_FILE "/etc/mime.types"

/* Extension -> media type, for HTTP's Content-Type (HTTP.md). Immutable
 * once made, so threads share it without a lock; a reload makes a new
 * one and swaps the pointer. */
typedef struct _FcMimeTable FcMimeTable;

FcMimeTable *fc_mime_table_new    (const char   *path,
                                   GError      **error);
FcMimeTable *fc_mime_table_ref    (FcMimeTable  *table);
void         fc_mime_table_unref  (FcMimeTable  *table);
const char  *fc_mime_table_lookup (FcMimeTable  *table,
                                   const char   *name,
                                   gsize         len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcMimeTable, fc_mime_table_unref)

G_END_DECLS
