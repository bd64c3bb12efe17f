#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The requests the cache counted, and the names that left it: what tells
 * a cold miss from one after an eviction or a change, and what the
 * advisor replays (advisor.h). The cache records into it; it knows
 * nothing of the cache but what an entry's bookkeeping costs. */
/* DBUS.md 1.1: the requests the History property counts, at most. */
#define FC_HISTORY_LENGTH 100000

/* Why a request found no valid cached copy (DBUS.md 1.1, misses-*). */
typedef enum {
  FC_MISS_COLD,     /* not recently in the cache */
  FC_MISS_EVICTED,  /* left through capacity, evict or clear */
  FC_MISS_CHANGED,  /* the copy was stale, or left through changed or deleted */
} FcMissKind;

/* One request of the history, counted as a hit or a miss. Names are kept
 * as a 64-bit hash: memory stays bounded whatever the names' lengths, and
 * among 100000 distinct names two share a hash with a probability near
 * 3e-10, which would merge their histories in a simulation and nothing
 * worse. */
typedef struct {
  guint64 name_key;
  guint64 size;      /* bytes of the version asked for */
  guint32 cost;      /* the cache's bookkeeping of an entry of this name */
  gboolean served;   /* FALSE for a request answered with an error */
} FcRequestRecord;

typedef struct _FcHistory FcHistory;

FcHistory  *fc_history_new            (guint              length);
void        fc_history_free           (FcHistory         *history);
void        fc_history_record         (FcHistory         *history,
                                       const char        *name,
                                       guint64            size,
                                       gboolean           served);
guint       fc_history_get_length     (FcHistory         *history);
GArray     *fc_history_copy           (FcHistory         *history);
void        fc_history_depart         (FcHistory         *history,
                                       const char        *name,
                                       FcMissKind         why);
FcMissKind  fc_history_classify_miss  (FcHistory         *history,
                                       const char        *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcHistory, fc_history_free)

G_END_DECLS
