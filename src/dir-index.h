#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bound HTTP.md asks at least: a directory with more entries is
 * refused (500) rather than listed. */
#define FC_DIR_INDEX_MAX_ENTRIES 100000

#define FC_DIR_INDEX_ERROR (fc_dir_index_error_quark ())

typedef enum {
  FC_DIR_INDEX_ERROR_TOO_MANY,  /* more entries than the bound: HTTP 500 */
} FcDirIndexError;

/* One entry of a listing: a regular file or a directory, reached directly
 * or through a link that stays beneath the root. */
typedef struct {
  char *name;                   /* (owned): one component, valid UTF-8 */
  gboolean is_dir;
  guint64 size;                 /* bytes (of a directory: as stat() says, not shown) */
  gint64 mtime;                 /* seconds since the epoch */
} FcDirEntry;

GQuark    fc_dir_index_error_quark (void);

GArray   *fc_dir_index_read        (int                root_fd,
                                    const char        *name,
                                    gsize              max_entries,
                                    GError           **error);
GString  *fc_dir_index_html        (const char        *dir_name,
                                    GArray            *entries);
GString  *fc_dir_index_json        (GArray            *entries);
gboolean  fc_accept_prefers_json   (const char *const *values,
                                    const gsize       *lens,
                                    guint              n);

G_END_DECLS
