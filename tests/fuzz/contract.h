/* The wire contract (PROTOCOL.md, "Requests" and "Names") written down a
 * second time, apart from src/, so that a fuzz harness can hold the
 * daemon's code against it rather than against itself. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The whole request line, LF included, is at most this long. */
#define FZ_LINE_MAX 4096

typedef enum {
  FZ_EXPECT_BAD,    /* ERR 400 */
  FZ_EXPECT_GET,
  FZ_EXPECT_LIST,
  FZ_EXPECT_PING,
  FZ_EXPECT_QUIT,
  FZ_EXPECT_V1_1,   /* STAT or GETFROM: the harnesses accept any v1.1 answer */
} FzExpect;

/* Reports a broken contract and aborts, which libFuzzer records as a
 * finding with the input that caused it. */
#define FZ_CHECK(cond, ...) \
  G_STMT_START { if (!(cond)) fz_fail (__FILE__, __LINE__, #cond, __VA_ARGS__); } G_STMT_END

G_NORETURN void fz_fail     (const char    *file,
                             int            line,
                             const char    *cond,
                             const char    *format,
                             ...) G_GNUC_PRINTF (4, 5);

gboolean fz_name_ok         (const guint8  *name,
                             gsize          len);
FzExpect fz_expect_line     (const guint8  *line,
                             gsize          len,
                             const guint8 **name,
                             gsize         *name_len);
gboolean fz_number_ok       (const char    *text,
                             gsize          len,
                             guint64       *value);

/* The whole-connection harnesses' server: its cache is smaller than some
 * files, so both cached and streamed bodies run. */
#define FZ_CACHE_CAPACITY (16 * 1024)
/* Names under its root that exist but must be refused with 403 (a
 * directory, a FIFO, a link to outside the root). */
#define FZ_FORBIDDEN "sub", "fifo", "escape"

void        fz_serve        (const char    *tag,
                             gboolean       http,
                             gboolean       index);
GBytes     *fz_served       (const char    *name);
gboolean    fz_forbidden    (const char    *name);
GByteArray *fz_exchange     (const guint8 **input,
                             gsize          size);

G_END_DECLS
