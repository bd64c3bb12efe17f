#pragma once

#include <stdatomic.h>

#include <glib.h>

#include "flight.h"

G_BEGIN_DECLS

/* The bound HTTP.md asks at least: a directory with more entries is
 * refused (500) rather than listed. */
#define FC_DIR_INDEX_MAX_ENTRIES 100000

/* A directory whose st_size is above this is listed in the pool for long
 * work, not on the worker. Listing costs about 5 µs an entry (readdir(),
 * an fstatat(), the name rules, the text; measured: 20000 entries in
 * 80 to 95 ms, 400 in 2 ms): 100000 entries held a worker 0.5 to 0.8 s.
 * st_size grows with the entries on the file systems a root is likely
 * on, so 8 KiB is at most a few hundred entries, 2 ms or less: no more
 * than the 1 MiB hash or load that stays on the worker
 * (FC_JOBS_INLINE_MAX). tmpfs counts 20 bytes an entry (409 entries).
 * ext4 counts whole 4 KiB blocks, 8 bytes + the name rounded up to 4 an
 * entry; past one block it keeps an index block beside the entries, so
 * 8 KiB is a directory of one block of entries (170 names of 15 bytes;
 * measured: 400 such names are 20 KiB); and it never shrinks, so a
 * directory once large stays in the pool, which costs only the hand-off.
 * XFS counts the bytes of a small directory's entries, then whole
 * blocks, as ext4; btrfs twice the length of every name (about 270 names
 * of 15 bytes). A file system that says 0 (CIFS,
 * some FUSE ones) says nothing of the count: its listings go to the pool
 * too. */
#define FC_DIR_INDEX_INLINE_MAX (8 * 1024)

/* A listing looks whether to go on (fc_long_work_go_on()) after this many
 * entries: 1.5 to 2 ms of work, against a lock and an atomic load. */
#define FC_DIR_INDEX_SLICE 256

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
GArray   *fc_dir_index_read_dir    (int                root_fd,
                                    int                dir_fd,
                                    const char        *name,
                                    gsize              max_entries,
                                    FcFlight          *wanted_by,
                                    GError           **error);
GString  *fc_dir_index_html        (const char        *dir_name,
                                    GArray            *entries,
                                    atomic_size_t     *held,
                                    GError           **error);
GString  *fc_dir_index_json        (GArray            *entries,
                                    atomic_size_t     *held,
                                    GError           **error);
GBytes   *fc_dir_index_listing     (const char        *dir_name,
                                    GArray            *entries,
                                    gboolean           json,
                                    atomic_size_t     *held,
                                    GError           **error);
gboolean  fc_accept_prefers_json   (const char *const *values,
                                    const gsize       *lens,
                                    guint              n);

G_END_DECLS
