#pragma once

#include <glib.h>

#include "cache.h"

G_BEGIN_DECLS

/* When a file's identity can stand for one version of its content: the
 * racy-entry rule the cache applies before it keeps a copy, and the rule
 * a read falls back on where no lease proves that nobody is writing. */

/* The clocks a rule is judged by, read once (injected by unit tests). */
typedef struct {
  gint64 coarse_ns;     /* CLOCK_REALTIME_COARSE: what stamps local files */
  gint64 real_ns;       /* CLOCK_REALTIME: a ctime past it is in the future */
  gint64 first_seen_us; /* g_get_monotonic_time() the daemon first saw the identity */
  gint64 monotonic_us;  /* g_get_monotonic_time() now */
} FcSettleClocks;

typedef enum {
  FC_SETTLE_TRUSTED,    /* any later change moves ctime */
  FC_SETTLE_NOT_YET,    /* a change now could keep this ctime: ask again later */
  FC_SETTLE_FUTURE,     /* ctime is ahead of the daemon's clock */
} FcSettle;

void      fc_settle_probe_fs     (FcFileId              *id,
                                  int                    fd);
gint64    fc_settle_granularity  (gint64                 ctime_ns);
FcSettle  fc_settle_cacheable    (const FcFileId        *id,
                                  const FcSettleClocks  *clocks);
FcSettle  fc_settle_readable     (const FcFileId        *id,
                                  const FcSettleClocks  *clocks);
gboolean  fc_settle_tick_passed  (const FcFileId        *id);
void      fc_settle_clocks_now   (FcSettleClocks        *clocks);
gboolean  fc_settle_check        (const FcFileId        *id,
                                  const char            *name,
                                  FcSettle             (*rule) (const FcFileId       *,
                                                                const FcSettleClocks *));

G_END_DECLS
