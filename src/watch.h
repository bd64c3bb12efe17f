#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Proof, without a stat(), that a cached name still reaches the same
 * unchanged file: inotify watches on the file and on each directory from
 * the root down to it (see watch.c for the rules). */
typedef struct _FcWatch FcWatch;
typedef struct _FcWatchMark FcWatchMark;

FcWatch     *fc_watch_new            (GError      **error);
FcWatch     *fc_watch_ref            (FcWatch      *watch);
void         fc_watch_unref          (FcWatch      *watch);
void         fc_watch_thread_init    (FcWatch      *watch);
gboolean     fc_watch_quiet          (FcWatch      *watch,
                                      guint        *generation);
FcWatchMark *fc_watch_arm            (FcWatch      *watch,
                                      int           root_fd,
                                      const char   *name,
                                      GError      **error);
gboolean     fc_watch_mark_intact    (const FcWatchMark *mark);
void         fc_watch_mark_free      (FcWatchMark  *mark);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcWatch, fc_watch_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcWatchMark, fc_watch_mark_free)

G_END_DECLS
