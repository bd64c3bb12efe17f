#pragma once

#include <glib.h>

#include "cache.h"
#include "protocol.h"

G_BEGIN_DECLS

/* One reply on its way to a client: a status line, then a body from
 * memory or from an open file, and how much of it has left. It holds no
 * buffer of its own, so a reply parked by a slow reader costs a few
 * dozen bytes plus what it references. */
typedef struct {
  const char *head;             /* (unowned): static text, status, head_owned, or a
                                 * thread's scratch while the reply is answered */
  gsize head_len;
  char *head_owned;             /* (owned) (nullable): a borrowed head kept past its turn */
  gboolean head_borrowed;       /* head is the thread's: fc_reply_keep_head() before the turn ends */
  gsize head_body_len;          /* the last bytes of head that are a body (an HTTP error's text) */
  char status[FC_STAT_MAX];    /* a status line: OK <size>, or a reply to STAT */
  GBytes *bytes;                /* (owned) (nullable): the body, from memory */
  int file_fd;                  /* (owned): the body, from this file; or -1 */
  FcFileId file_id;             /* the version that file_fd must keep */
  guint64 file_start;           /* where in the file the body starts */
  guint64 body_len;
  guint64 sent;                 /* of head and body together */
  gsize window;                 /* bytes of the file read per step */
  guint64 serial;               /* names this file reply to an FcChunk */
} FcReply;

/* A thread's buffer for file bodies. @offset/@len say which body bytes of
 * which reply it holds now; any other reply overwrites it. */
typedef struct {
  char *data;                   /* (owned): size + 1 bytes */
  gsize size;
  guint64 holder;               /* serial of the reply whose bytes it holds; 0: none */
  guint64 offset;
  gsize len;
} FcChunk;

typedef enum {
  FC_REPLY_DONE,                /* all sent */
  FC_REPLY_AGAIN,               /* the socket is full: wait until writable */
  FC_REPLY_YIELD,               /* the byte budget is spent, the socket not full: go on later */
  FC_REPLY_FAILED,              /* the peer is gone, or the file changed after the status line */
} FcReplyResult;

void          fc_reply_init        (FcReply       *reply);
void          fc_reply_clear       (FcReply       *reply);
void          fc_reply_set_static  (FcReply       *reply,
                                    const char    *text,
                                    gsize          len);
void          fc_reply_set_bytes   (FcReply       *reply,
                                    GBytes        *bytes);
void          fc_reply_set_file    (FcReply       *reply,
                                    int            fd,
                                    const FcFileId *id,
                                    guint64        start,
                                    guint64        len);
void          fc_reply_set_head_body (FcReply     *reply,
                                      gsize        len);
void          fc_reply_set_head    (FcReply       *reply,
                                    const char    *head,
                                    gsize          len,
                                    gboolean       borrowed);
void          fc_reply_keep_head   (FcReply       *reply);
gboolean      fc_reply_pending     (const FcReply *reply);
FcReplyResult fc_reply_write       (FcReply       *reply,
                                    int            socket_fd,
                                    FcChunk       *chunk,
                                    guint64       *body_sent,
                                    guint64        budget);

void          fc_chunk_init        (FcChunk       *chunk,
                                    gsize          size);
void          fc_chunk_clear       (FcChunk       *chunk);
gboolean      fc_chunk_fill        (FcChunk       *chunk,
                                    FcReply       *reply,
                                    guint64        offset,
                                    GError       **error);

G_END_DECLS
