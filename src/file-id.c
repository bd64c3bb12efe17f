#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "file-id.h"

/* In unsigned arithmetic, which wraps where a signed product past 2262
 * (a file stamped far in the future) would be undefined. */
static gint64
nanoseconds (const struct timespec *ts)
{
  return (gint64) ((guint64) ts->tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts->tv_nsec);
}

void
fc_file_id_from_stat (FcFileId          *id,
                      const struct stat *st)
{
  id->dev = st->st_dev;
  id->ino = st->st_ino;
  id->size = (guint64) st->st_size;
  id->mtime_ns = nanoseconds (&st->st_mtim);
  id->ctime_ns = nanoseconds (&st->st_ctim);
  id->mtime_sec = st->st_mtim.tv_sec;
  id->mode = st->st_mode;
  id->uid = st->st_uid;
  id->gid = st->st_gid;
  id->nlink = st->st_nlink;
  /* Until fc_settle_probe_fs() says otherwise, as a stat cannot tell. */
  id->foreign = FALSE;
}

gboolean
fc_file_id_equal (const FcFileId *a,
                  const FcFileId *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}
