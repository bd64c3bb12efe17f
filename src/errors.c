#include <gio/gio.h>

#include "errors.h"

/* The D-Bus names of the error domain org.filecached.Error. */
static const GDBusErrorEntry dbus_errors[] = {
  { FC_ERROR_MALFORMED, "org.filecached.Error.Malformed" },
  { FC_ERROR_UNKNOWN_COMMAND, "org.filecached.Error.UnknownCommand" },
  { FC_ERROR_MISSING_NAME, "org.filecached.Error.MissingName" },
  { FC_ERROR_UNEXPECTED_ARGUMENT, "org.filecached.Error.UnexpectedArgument" },
  { FC_ERROR_INVALID_NAME, "org.filecached.Error.InvalidArgument" },
  { FC_ERROR_NOT_REGULAR, "org.filecached.Error.NotRegular" },
  { FC_ERROR_PERMISSION_DENIED, "org.filecached.Error.PermissionDenied" },
  { FC_ERROR_OUTSIDE_ROOT, "org.filecached.Error.OutsideRoot" },
  { FC_ERROR_LINK_LOOP, "org.filecached.Error.LinkLoop" },
  { FC_ERROR_SIZE_MISMATCH, "org.filecached.Error.SizeMismatch" },
  { FC_ERROR_NOT_FOUND, "org.filecached.Error.NotFound" },
  { FC_ERROR_DIGEST_MISMATCH, "org.filecached.Error.DigestMismatch" },
  { FC_ERROR_LINE_TOO_LONG, "org.filecached.Error.LineTooLong" },
  { FC_ERROR_OFFSET_BEYOND_END, "org.filecached.Error.OffsetBeyondEnd" },
  { FC_ERROR_READ_FAILED, "org.filecached.Error.ReadFailed" },
  { FC_ERROR_LISTINGS_BUSY, "org.filecached.Error.ListingsBusy" },
  { FC_ERROR_LISTING_TOO_LARGE, "org.filecached.Error.ListingTooLarge" },
  { FC_ERROR_BUSY, "org.filecached.Error.Busy" },
  { FC_ERROR_TOO_LARGE, "org.filecached.Error.TooLarge" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (dbus_errors) == FC_ERROR_N_CODES);

/**
 * fc_error_quark:
 *
 * The domain of every refusal, registered with GDBus so that a #GError
 * returned by a method arrives as `org.filecached.Error.*`.
 */
GQuark
fc_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("fc-error-quark", &quark,
                                      dbus_errors, G_N_ELEMENTS (dbus_errors));
  return (GQuark) quark;
}

typedef struct {
  guint status;
  const char *line;
  gsize len;
} FcErrorReply;

#define REPLY_LINE(status, text) "ERR " #status " " text "\n"
#define REPLY(status, text) \
  { status, REPLY_LINE (status, text), sizeof (REPLY_LINE (status, text)) - 1 }

/* Protocol text: English by contract, never translated. */
static const FcErrorReply replies[FC_ERROR_N_WIRE_CODES] = {
  [FC_ERROR_MALFORMED] = REPLY (400, "malformed request"),
  [FC_ERROR_UNKNOWN_COMMAND] = REPLY (400, "unknown command"),
  [FC_ERROR_MISSING_NAME] = REPLY (400, "missing name"),
  [FC_ERROR_UNEXPECTED_ARGUMENT] = REPLY (400, "unexpected argument"),
  [FC_ERROR_INVALID_NAME] = REPLY (400, "invalid name"),
  [FC_ERROR_NOT_REGULAR] = REPLY (403, "not a regular file"),
  [FC_ERROR_PERMISSION_DENIED] = REPLY (403, "permission denied"),
  [FC_ERROR_OUTSIDE_ROOT] = REPLY (403, "outside the served directory"),
  [FC_ERROR_LINK_LOOP] = REPLY (403, "too many levels of symbolic links"),
  [FC_ERROR_SIZE_MISMATCH] = REPLY (403, "size does not match content"),
  [FC_ERROR_NOT_FOUND] = REPLY (404, "no such file"),
  [FC_ERROR_DIGEST_MISMATCH] = REPLY (412, "file changed"),
  [FC_ERROR_LINE_TOO_LONG] = REPLY (414, "request line too long"),
  [FC_ERROR_OFFSET_BEYOND_END] = REPLY (416, "offset beyond end of file"),
  [FC_ERROR_READ_FAILED] = REPLY (500, "read error"),
  [FC_ERROR_LISTINGS_BUSY] = REPLY (500, "too many listings in flight, try again"),
  /* FC_LISTING_BUDGET's figure (listing-budget.h). */
  [FC_ERROR_LISTING_TOO_LARGE] = REPLY (500, "listing larger than 67108864 bytes"),
  [FC_ERROR_BUSY] = REPLY (503, "too many connections"),
};

/**
 * fc_error_reply:
 * @code: an #FcError below %FC_ERROR_N_WIRE_CODES
 * @len: (out): length of the returned line
 *
 * Returns: (transfer none): the complete `ERR` line, LF included, that
 *   answers @code on the wire. Static storage.
 */
const char *
fc_error_reply (FcError code,
                gsize  *len)
{
  g_return_val_if_fail ((guint) code < FC_ERROR_N_WIRE_CODES, NULL);

  *len = replies[code].len;
  return replies[code].line;
}

/**
 * fc_error_status:
 * @code: an #FcError below %FC_ERROR_N_WIRE_CODES
 *
 * Returns: the protocol status code (400, 403, ...) for @code.
 */
guint
fc_error_status (FcError code)
{
  g_return_val_if_fail ((guint) code < FC_ERROR_N_WIRE_CODES, 500);
  return replies[code].status;
}

/**
 * fc_error_reason:
 * @code: an #FcError below %FC_ERROR_N_WIRE_CODES
 * @len: (out): length of the returned text
 *
 * Returns: (transfer none): the reason @code's `ERR` line gives, in
 *   English, without status or LF: the HTTP dialect's error body says
 *   the same. Static storage, not NUL-terminated.
 */
const char *
fc_error_reason (FcError code,
                 gsize  *len)
{
  /* "ERR " + three digits + " " before it, LF after it */
  static const gsize before = 8;

  g_return_val_if_fail ((guint) code < FC_ERROR_N_WIRE_CODES, NULL);

  *len = replies[code].len - before - 1;
  return replies[code].line + before;
}
