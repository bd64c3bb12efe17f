#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include "cache-cost.h"
#include "history.h"

/* A name that left the cache, and when: the request count then. */
typedef struct {
  guint64 name_key;           /* also the table's key */
  guint64 at_request;         /* requests recorded when it left */
  guint64 serial;             /* which departure of the ring it is */
  FcMissKind why;
} Departure;

/* The last @length requests, and the names that left the cache while
 * they were made (at most @length of those too, the oldest forgotten
 * first). Not locked: its owner (the cache) holds its own lock. */
struct _FcHistory {
  FcRequestRecord *ring;      /* (owned): @length records */
  guint length;
  guint64 recorded;           /* requests recorded since start */
  GHashTable *departed;       /* &name_key → Departure (owned) */
  guint64 *departure_ring;    /* (owned): serial % length → name_key */
  guint64 departures;         /* departures noted since start */
};

/* FNV-1a, 64 bits: see FcRequestRecord on collisions. */
static guint64
name_key (const char *name)
{
  guint64 hash = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    hash = (hash ^ *p) * G_GUINT64_CONSTANT (0x100000001b3);
  return hash;
}

/**
 * fc_history_new:
 * @length: the most requests (and departures) remembered; at least 1
 *
 * Returns: (transfer full): an empty history. Not thread-safe: the caller
 *   serializes every call on it.
 */
FcHistory *
fc_history_new (guint length)
{
  FcHistory *history = g_new0 (FcHistory, 1);

  g_return_val_if_fail (length > 0, NULL);
  history->length = length;
  history->ring = g_new0 (FcRequestRecord, length);
  history->departure_ring = g_new0 (guint64, length);
  history->departed = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  return history;
}

void
fc_history_free (FcHistory *history)
{
  g_hash_table_unref (history->departed);
  g_free (history->departure_ring);
  g_free (history->ring);
  g_free (history);
}

/**
 * fc_history_record:
 * @history: a history
 * @name: (nullable): the name asked for; %NULL for one that broke the rules
 * @size: bytes of the file asked for; ignored when not @served
 * @served: %FALSE when the request was answered with an error
 *
 * Records one request counted as a hit or a miss, forgetting the oldest
 * when full.
 */
void
fc_history_record (FcHistory  *history,
                   const char *name,
                   guint64     size,
                   gboolean    served)
{
  FcRequestRecord *record = &history->ring[history->recorded % history->length];

  record->name_key = name != NULL ? name_key (name) : 0;
  record->size = served ? size : 0;
  record->cost = name != NULL ? (guint32) fc_cache_entry_cost (strlen (name)) : 0;
  record->served = served && name != NULL;
  history->recorded++;
}

/* Returns: how many requests are recorded (at most the length). */
guint
fc_history_get_length (FcHistory *history)
{
  return (guint) MIN (history->recorded, (guint64) history->length);
}

/**
 * fc_history_copy:
 * @history: a history
 *
 * Returns: (transfer full) (element-type FcRequestRecord): the recorded
 *   requests, oldest first
 */
GArray *
fc_history_copy (FcHistory *history)
{
  guint n = fc_history_get_length (history);
  guint first = (guint) ((history->recorded - n) % history->length);
  guint head = MIN (n, history->length - first);
  GArray *records = g_array_sized_new (FALSE, FALSE, sizeof (FcRequestRecord), n);

  g_array_append_vals (records, history->ring + first, head);
  g_array_append_vals (records, history->ring, n - head);
  return records;
}

/**
 * fc_history_depart:
 * @history: a history
 * @name: a name whose cached copy just left the cache
 * @why: %FC_MISS_EVICTED or %FC_MISS_CHANGED: what its next miss will be
 *   counted as, while within the history's window
 */
void
fc_history_depart (FcHistory  *history,
                   const char *name,
                   FcMissKind  why)
{
  guint64 key = name_key (name);
  guint slot = (guint) (history->departures % history->length);
  Departure *departure;

  /* The oldest departure makes way, unless a newer one of its name has
   * replaced it in the table. */
  if (history->departures >= history->length)
    {
      Departure *oldest = g_hash_table_lookup (history->departed, &history->departure_ring[slot]);

      if (oldest != NULL && oldest->serial + history->length == history->departures)
        g_hash_table_remove (history->departed, &oldest->name_key);
    }

  departure = g_hash_table_lookup (history->departed, &key);
  if (departure == NULL)
    {
      departure = g_new (Departure, 1);
      departure->name_key = key;
      g_hash_table_insert (history->departed, &departure->name_key, departure);
    }
  departure->at_request = history->recorded;
  departure->serial = history->departures;
  departure->why = why;
  history->departure_ring[slot] = key;
  history->departures++;
}

/**
 * fc_history_classify_miss:
 * @history: a history
 * @name: a name that missed and whose cached copy was not stale
 *
 * Returns: how @name left the cache if it did within the last
 *   length requests, else %FC_MISS_COLD
 */
FcMissKind
fc_history_classify_miss (FcHistory  *history,
                          const char *name)
{
  guint64 key = name_key (name);
  const Departure *departure = g_hash_table_lookup (history->departed, &key);

  if (departure == NULL || departure->at_request + history->length < history->recorded)
    return FC_MISS_COLD;
  return departure->why;
}
