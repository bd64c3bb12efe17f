#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FCC_ERROR (fcc_error_quark ())

typedef enum {
  FCC_ERROR_REFUSED,   /* the server answered ERR; the message holds its text and code */
  FCC_ERROR_PROTOCOL,  /* the server's reply breaks PROTOCOL.md */
  FCC_ERROR_CLOSED,    /* the server closed the connection before its reply ended */
  FCC_ERROR_BAD_NAME,  /* a name that cannot be asked for, or saved, as given */
} FccError;

typedef struct _FccConn FccConn;

GQuark    fcc_error_quark        (void);

gboolean  fcc_parse_uint         (const char   *text,
                                  gsize         len,
                                  guint64      *value);

FccConn  *fcc_conn_open          (const char   *host,
                                  guint16       port,
                                  guint         timeout_s,
                                  GError      **error);
void      fcc_conn_free          (FccConn      *conn);
gboolean  fcc_conn_usable        (FccConn      *conn);
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
gssize    fcc_conn_read_body     (FccConn      *conn,
                                  void         *buffer,
                                  gsize         len,
                                  GError      **error);
void      fcc_conn_set_malformed (FccConn      *conn,
                                  const char   *line,
                                  GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FccConn, fcc_conn_free)

G_END_DECLS
