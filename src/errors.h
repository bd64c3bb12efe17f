#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FC_ERROR (fc_error_quark ())

/* One code per refusal the daemon can give. Each of the first
 * FC_ERROR_N_WIRE_CODES maps to exactly one wire reply (fc_error_reply())
 * so the hot path never formats an error line; the others are refusals
 * of the D-Bus interface only. Each has a D-Bus name. */
typedef enum {
  FC_ERROR_MALFORMED,          /* 400 */
  FC_ERROR_UNKNOWN_COMMAND,    /* 400 */
  FC_ERROR_MISSING_NAME,       /* 400 */
  FC_ERROR_UNEXPECTED_ARGUMENT,/* 400 */
  FC_ERROR_INVALID_NAME,       /* 400 */
  FC_ERROR_NOT_REGULAR,        /* 403 */
  FC_ERROR_PERMISSION_DENIED,  /* 403 */
  FC_ERROR_OUTSIDE_ROOT,       /* 403 */
  FC_ERROR_LINK_LOOP,          /* 403 */
  FC_ERROR_SIZE_MISMATCH,      /* 403 */
  FC_ERROR_NOT_FOUND,          /* 404 */
  FC_ERROR_DIGEST_MISMATCH,    /* 412 */
  FC_ERROR_LINE_TOO_LONG,      /* 414 */
  FC_ERROR_OFFSET_BEYOND_END,  /* 416 */
  FC_ERROR_READ_FAILED,        /* 500 */
  FC_ERROR_LISTINGS_BUSY,      /* 500 */
  FC_ERROR_LISTING_TOO_LARGE,  /* 500 */
  FC_ERROR_BUSY,               /* 503 */
  FC_ERROR_TOO_LARGE,          /* D-Bus only: a reply the bus would not carry */
} FcError;

#define FC_ERROR_N_WIRE_CODES (FC_ERROR_BUSY + 1)
#define FC_ERROR_N_CODES (FC_ERROR_TOO_LARGE + 1)

GQuark       fc_error_quark  (void);
const char  *fc_error_reply  (FcError code,
                              gsize  *len);
guint        fc_error_status (FcError code);
const char  *fc_error_reason (FcError code,
                              gsize  *len);

G_END_DECLS
