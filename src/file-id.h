#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* What makes a file "the same file" for the cache: a change to any field
 * means the cached copy may be stale. ctime is there because a rewrite can
 * put mtime back (touch -r, rsync -t) but cannot put ctime back. */
typedef struct {
  guint64 dev;
  guint64 ino;
  guint64 size;
  gint64 mtime_ns;              /* wraps past 2262, still telling versions apart */
  gint64 ctime_ns;
  /* Not part of the identity: mtime in whole seconds, whatever the year
   * (HTTP's Last-Modified). */
  gint64 mtime_sec;
  /* Not part of the identity: what tells a change of metadata from one
   * of content when ctime moves under an open file (fc_file_unchanged()). */
  guint32 mode;
  guint32 uid;
  guint32 gid;
  guint64 nlink;
  /* Not part of the identity: the filesystem is stamped by another
   * clock or written by other machines (fc_settle_probe_fs()). */
  gboolean foreign;
} FcFileId;

void        fc_file_id_from_stat    (FcFileId          *id,
                                     const struct stat *st);
gboolean    fc_file_id_equal        (const FcFileId    *a,
                                     const FcFileId    *b);

G_END_DECLS
