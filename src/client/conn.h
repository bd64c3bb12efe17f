#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FCC_ERROR (fcc_error_quark ())

typedef enum {
  FCC_ERROR_REFUSED,   /* the server answered ERR; the message holds its text and code */
  FCC_ERROR_BAD_REQUEST, /* the same, ERR 400: to a valid STAT, a protocol 1.0 server */
  FCC_ERROR_CHANGED,   /* the same, ERR 412: the file no longer has the digest given */
  FCC_ERROR_PROTOCOL,  /* the server's reply breaks PROTOCOL.md */
  FCC_ERROR_CLOSED,    /* the server closed the connection before its reply ended */
  FCC_ERROR_BAD_NAME,  /* a name that cannot be asked for, or saved, as given */
  FCC_ERROR_MISMATCH,  /* the body received does not have the SHA-256 announced */
  FCC_ERROR_UNANSWERED, /* the server closed the connection in order before any byte
                         * of the reply: the request may not have reached it */
  FCC_ERROR_NOT_REGULAR, /* a file the client would write is a FIFO, device, symlink... */
  FCC_ERROR_TAMPERED,  /* the file written was changed or replaced by another writer */
} FccError;

/* A SHA-256 as PROTOCOL.md 1.1 writes it: lowercase hex digits. */
#define FCC_DIGEST_HEX_LEN 64

typedef struct _FccConn FccConn;

GQuark    fcc_error_quark        (void);

gboolean  fcc_parse_uint         (const char   *text,
                                  gsize         len,
                                  guint64      *value);
gboolean  fcc_is_digest          (const char   *text,
                                  gsize         len);

FccConn  *fcc_conn_open          (const char   *host,
                                  guint16       port,
                                  guint         timeout_s,
                                  GError      **error);
void      fcc_conn_free          (FccConn      *conn);
gboolean  fcc_conn_reopen        (FccConn      *conn,
                                  GError      **error);
gboolean  fcc_conn_usable        (FccConn      *conn);
gboolean  fcc_conn_owes_body     (FccConn      *conn);
char     *fcc_conn_call          (FccConn      *conn,
                                  const char   *command,
                                  const char   *argument,
                                  const char  **answer,
                                  GError      **error);
gboolean  fcc_conn_call_count    (FccConn      *conn,
                                  const char   *command,
                                  const char   *argument,
                                  guint64      *count,
                                  GError      **error);
char     *fcc_conn_read_line     (FccConn      *conn,
                                  GError      **error);
gboolean  fcc_conn_get           (FccConn      *conn,
                                  const char   *name,
                                  guint64      *size,
                                  GError      **error);
gboolean  fcc_conn_stat          (FccConn      *conn,
                                  const char   *name,
                                  guint64      *size,
                                  char          digest[FCC_DIGEST_HEX_LEN + 1],
                                  GError      **error);
gboolean  fcc_conn_get_from      (FccConn      *conn,
                                  const char   *name,
                                  guint64       offset,
                                  const char   *digest,
                                  guint64      *size,
                                  GError      **error);
gssize    fcc_conn_read_body     (FccConn      *conn,
                                  void         *buffer,
                                  gsize         len,
                                  GError      **error);
void      fcc_conn_set_malformed (FccConn      *conn,
                                  const char   *line,
                                  GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FccConn, fcc_conn_free)

G_END_DECLS
