#pragma once

#include <glib.h>

#include "cache.h"
#include "flight.h"

G_BEGIN_DECLS

/* SHA-256 digests of file versions (PROTOCOL.md 1.1, STAT and GETFROM),
 * computed at most once per version and shared: a bounded table keyed by
 * the version's identity, with single flight for concurrent requests. */

#define FC_DIGEST_LEN 32
#define FC_DIGEST_HEX_LEN 64

typedef struct _FcDigests FcDigests;
typedef struct _FcDigestEntry FcDigestJob;

typedef enum {
  FC_DIGEST_READY,              /* the digest is copied out */
  FC_DIGEST_COMPUTE,            /* the caller computes it and ends the job */
  FC_DIGEST_WAIT,               /* another computes it: join the flight, look again once it lands */
} FcDigestLookup;

FcDigests     *fc_digests_new     (guint            max_entries);
void           fc_digests_free    (FcDigests       *digests);
FcDigestLookup fc_digests_lookup  (FcDigests       *digests,
                                   const FcFileId  *id,
                                   guint8           digest[FC_DIGEST_LEN],
                                   FcDigestJob    **job,
                                   FcFlight       **flight);
gboolean       fc_digests_peek    (FcDigests       *digests,
                                   const FcFileId  *id,
                                   guint8           digest[FC_DIGEST_LEN]);
FcFlight      *fc_digests_job_flight (FcDigestJob  *job);
void           fc_digests_finish  (FcDigests       *digests,
                                   FcDigestJob     *job,
                                   const guint8     digest[FC_DIGEST_LEN]);
void           fc_digests_abort   (FcDigests       *digests,
                                   FcDigestJob     *job,
                                   const GError    *error);

void           fc_digest_of_bytes (GBytes          *bytes,
                                   guint8           digest[FC_DIGEST_LEN]);
gboolean       fc_digest_of_file  (int              fd,
                                   const FcFileId  *id,
                                   char            *buf,
                                   gsize            buf_size,
                                   guint8           digest[FC_DIGEST_LEN],
                                   FcFlight        *wanted_by,
                                   GError         **error);
void           fc_digest_to_hex   (const guint8     digest[FC_DIGEST_LEN],
                                   char             hex[FC_DIGEST_HEX_LEN]);
gboolean       fc_digest_from_hex (const char      *hex,
                                   guint8           digest[FC_DIGEST_LEN]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcDigests, fc_digests_free)

G_END_DECLS
