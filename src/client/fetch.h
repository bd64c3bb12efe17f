#pragma once

#include <glib.h>

#include "conn.h"

G_BEGIN_DECLS

/* Tells the user about @name what is neither a result nor a failure. */
typedef void (*FccFetchNotice) (const char *name,
                                const char *message);

typedef struct {
  const char *dir;          /* (unowned): names are saved under it, their paths kept */
  gboolean resume;          /* -c: a cut transfer is kept as .NAME.part and resumed */
  gboolean skip_identical;  /* a local file with the server's digest is left as it is */
  FccFetchNotice notice;    /* (nullable) */
} FccFetchOptions;

typedef enum {
  FCC_FETCH_FAILED,      /* the error says why */
  FCC_FETCH_VERIFIED,    /* saved, with the SHA-256 the server announced */
  FCC_FETCH_UNVERIFIED,  /* saved from a protocol 1.0 server, which has no STAT */
  FCC_FETCH_SKIPPED,     /* the local file already had the server's SHA-256 */
} FccFetchResult;

typedef struct _FccFetcher FccFetcher;

void            fcc_fetch_clean_up_on_signals (void);
gboolean        fcc_fetch_check_names         (const char *const      *names,
                                               GError                **error);
FccFetcher     *fcc_fetcher_new               (FccConn                *conn,
                                               const FccFetchOptions  *options);
void            fcc_fetcher_free              (FccFetcher             *fetcher);
FccFetchResult  fcc_fetcher_get               (FccFetcher             *fetcher,
                                               const char             *name,
                                               GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FccFetcher, fcc_fetcher_free)

G_END_DECLS
