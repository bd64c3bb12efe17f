#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The progress bar of `filecache get`: a line that fits the terminal,
 * redrawn in place on stderr. fcc_progress_format() is the pure part. */

typedef struct {
  char *label;         /* (owned) */
  guint64 total;       /* bytes of the whole file */
  guint64 resumed;     /* bytes that were there before this transfer */
  gint64 start_us;     /* monotonic time this transfer began */
  gint64 last_draw_us; /* monotonic time of the last redraw, 0 before the first */
  int fd;              /* the terminal drawn on, -1 when not drawing */
} FccProgress;

char *fcc_progress_format      (const char   *label,
                                guint64       done,
                                guint64       total,
                                guint64       resumed,
                                gint64        elapsed_us,
                                guint         width);
guint fcc_progress_text_width  (const char   *text);

void  fcc_progress_begin       (FccProgress  *progress,
                                const char   *label,
                                guint64       total,
                                guint64       resumed);
void  fcc_progress_update      (FccProgress  *progress,
                                guint64       done);
void  fcc_progress_end         (FccProgress  *progress);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FccProgress, fcc_progress_end)

G_END_DECLS
