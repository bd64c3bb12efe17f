#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FCB_WIRE_ERROR (fcb_wire_error_quark ())

typedef enum {
  FCB_WIRE_ERROR_REFUSED,    /* an `ERR` reply: the connection stays usable */
  FCB_WIRE_ERROR_BAD_REPLY,  /* anything else wrong: the connection is lost */
} FcbWireError;

GQuark fcb_wire_error_quark (void);

/* What each request asks (PROTOCOL.md); HTTP has GET only. */
typedef enum {
  FCB_COMMAND_GET,   /* `OK <size>` and a body */
  FCB_COMMAND_STAT,  /* `OK <size> <sha256>`: no body, the server may hash first */
  FCB_COMMAND_PING,  /* `OK PONG`: no name, no file, the server's bare turn-around */
} FcbCommand;

const char *fcb_command_name  (FcbCommand  command);
gboolean    fcb_command_parse (const char *word,
                               FcbCommand *command);

char *fcb_wire_request (FcbCommand  command,
                        const char *name,
                        gboolean    http,
                        const char *host,
                        gsize      *len);

typedef enum {
  FCB_REPLY_MORE,    /* all of the input was taken; the reply goes on */
  FCB_REPLY_DONE,    /* a good reply ended */
  FCB_REPLY_FAILED,  /* a reply failed: see the error's code */
} FcbReplyStatus;

/* Reads replies of either protocol from a byte stream, in whatever pieces
 * the stream delivers them, checking each as it goes. */
typedef struct {
  gboolean http;
  FcbCommand command;  /* the shape of the replies expected */
  gsize head_max;
  char *head;          /* (owned): the status line, or HTTP's whole head */
  gsize head_len;
  gboolean in_body;
  guint64 body_left;
  guint64 body_size;   /* of the reply in the body or just done; 0 for STAT and PING */
  gboolean closing;    /* HTTP: that reply said `Connection: close` */
} FcbReply;

void           fcb_reply_init        (FcbReply       *reply,
                                      gboolean        http,
                                      FcbCommand      command);
void           fcb_reply_clear       (FcbReply       *reply);
void           fcb_reply_reset       (FcbReply       *reply);
gboolean       fcb_reply_in_progress (const FcbReply *reply);
FcbReplyStatus fcb_reply_feed        (FcbReply       *reply,
                                      const char     *data,
                                      gsize           len,
                                      gsize          *consumed,
                                      GError        **error);

G_END_DECLS
