#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include "mime.h"

/* Longer extensions are unknown: lookups lowercase into a buffer this
 * size on the stack, and no type in Debian's file has one past 24. */
#define EXTENSION_MAX 32

struct _FcMimeTable {
  gint ref_count;               /* (atomic) */
  GStringChunk *strings;        /* (owned) (nullable): the file's extensions and types; NULL when built in */
  GHashTable *types;            /* (owned): lowercase extension -> media type, both unowned */
};

/* Where /etc/mime.types is missing (a container without media-types):
 * the types a file server is mostly asked for, as Debian's file maps
 * them, plus bz2 (application/x-bzip2, as Apache's file has it) and whl
 * (a wheel is a zip archive, PEP 427), which Debian's file lacks. */
static const struct {
  const char *extension;
  const char *type;
} builtin_types[] = {
  { "7z", "application/x-7z-compressed" },
  { "asc", "application/pgp-keys" },
  { "avif", "image/avif" },
  { "bz2", "application/x-bzip2" },
  { "css", "text/css" },
  { "csv", "text/csv" },
  { "deb", "application/vnd.debian.binary-package" },
  { "diff", "text/x-diff" },
  { "gif", "image/gif" },
  { "gz", "application/gzip" },
  { "htm", "text/html" },
  { "html", "text/html" },
  { "ico", "image/vnd.microsoft.icon" },
  { "iso", "application/x-iso9660-image" },
  { "jar", "application/java-archive" },
  { "jpeg", "image/jpeg" },
  { "jpg", "image/jpeg" },
  { "js", "text/javascript" },
  { "json", "application/json" },
  { "md", "text/markdown" },
  { "mjs", "text/javascript" },
  { "mp3", "audio/mpeg" },
  { "mp4", "video/mp4" },
  { "ogg", "audio/ogg" },
  { "patch", "text/x-diff" },
  { "pdf", "application/pdf" },
  { "png", "image/png" },
  { "rpm", "application/x-redhat-package-manager" },
  { "sig", "application/pgp-signature" },
  { "svg", "image/svg+xml" },
  { "tar", "application/x-tar" },
  { "tgz", "application/x-gtar-compressed" },
  { "txt", "text/plain" },
  { "udeb", "application/vnd.debian.binary-package" },
  { "wasm", "application/wasm" },
  { "webm", "video/webm" },
  { "webp", "image/webp" },
  { "whl", "application/zip" },
  { "woff", "font/woff" },
  { "woff2", "font/woff2" },
  { "xml", "application/xml" },
  { "xz", "application/x-xz" },
  { "zip", "application/zip" },
  { "zst", "application/zstd" },
};

static FcMimeTable *
table_new (void)
{
  FcMimeTable *table = g_new0 (FcMimeTable, 1);

  table->ref_count = 1;
  table->types = g_hash_table_new (g_str_hash, g_str_equal);
  return table;
}

static gboolean
is_token (const char *text,
          gsize       len)
{
  /* RFC 9110 5.6.2's tchar. */
  static const char symbols[] = "!#$%&'*+-.^_`|~";

  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (text[i]) && strchr (symbols, text[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* The type goes into a header as is: only `token "/" token` (RFC 9110
 * 8.3.1, no parameters) can, whatever bytes the file holds. */
static gboolean
is_media_type (const char *type)
{
  const char *slash = strchr (type, '/');

  return slash != NULL && is_token (type, (gsize) (slash - type)) &&
         is_token (slash + 1, strlen (slash + 1));
}

/* One line of the file, comments already cut: `type ext ext ...`. A line
 * whose type could not go into a header is skipped whole, as Apache skips
 * what it cannot use rather than refuse the file. */
static void
add_line (FcMimeTable *table,
          char        *line)
{
  g_auto(GStrv) fields = g_strsplit_set (g_strstrip (line), " \t\r", -1);
  const char *type = NULL;

  for (guint i = 0; fields[i] != NULL; i++)
    {
      if (fields[i][0] == '\0')
        continue;
      if (type == NULL)
        {
          if (!is_media_type (fields[i]))
            return;
          type = g_string_chunk_insert_const (table->strings, fields[i]);
          continue;
        }
      if (strlen (fields[i]) > EXTENSION_MAX)
        continue;
      for (char *p = fields[i]; *p != '\0'; p++)
        *p = g_ascii_tolower (*p);
      /* The last mapping of an extension wins, as Apache's mod_mime reads
       * this file (and nginx its types block): in Debian's file a few
       * extensions are mapped twice (sh, csh, tcl: application/x-... then
       * text/x-...), the text/ types coming later. */
      g_hash_table_insert (table->types,
                           g_string_chunk_insert_const (table->strings, fields[i]),
                           (gpointer) type);
    }
}

/**
 * fc_mime_table_new:
 * @path: a file in mime.types(5) format: `type/subtype ext1 ext2 ...` a
 *   line, `#` beginning a comment; usually %FC_MIME_TYPES_FILE
 * @error: the %G_FILE_ERROR of reading @path
 *
 * Reads @path once into a table of extension (ASCII case folded) to
 * media type, the last mapping of an extension winning. A line whose
 * type is not `token/token` (RFC 9110 8.3.1) is skipped, as is an
 * extension longer than 32 bytes. A missing @path (%G_FILE_ERROR_NOENT)
 * is no error: the table is then a built-in one of the common types
 * (HTTP.md, "Responses to GET and HEAD of a file"). Blocks on the disk:
 * call it at start or on reload, not on a worker.
 *
 * Returns: (transfer full) (nullable): the table, or %NULL when @path
 *   exists but cannot be read
 */
FcMimeTable *
fc_mime_table_new (const char  *path,
                   GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  FcMimeTable *table;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      table = table_new ();
      for (gsize i = 0; i < G_N_ELEMENTS (builtin_types); i++)
        g_hash_table_insert (table->types, (gpointer) builtin_types[i].extension,
                             (gpointer) builtin_types[i].type);
      return table;
    }

  table = table_new ();
  table->strings = g_string_chunk_new (4096);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *comment = strchr (lines[i], '#');

      if (comment != NULL)
        *comment = '\0';
      add_line (table, lines[i]);
    }
  return table;
}

/**
 * fc_mime_table_ref:
 * @table: a table
 *
 * Any thread.
 *
 * Returns: (transfer full): @table
 */
FcMimeTable *
fc_mime_table_ref (FcMimeTable *table)
{
  g_atomic_int_inc (&table->ref_count);
  return table;
}

/**
 * fc_mime_table_unref:
 * @table: (transfer full): a table
 *
 * Any thread; the last reference frees it, and with it every string
 * fc_mime_table_lookup() returned from it.
 */
void
fc_mime_table_unref (FcMimeTable *table)
{
  if (!g_atomic_int_dec_and_test (&table->ref_count))
    return;
  g_hash_table_unref (table->types);
  g_clear_pointer (&table->strings, g_string_chunk_free);
  g_free (table);
}

/**
 * fc_mime_table_lookup:
 * @table: a table
 * @name: a name (a path, `/`-separated); need not be NUL-terminated
 * @len: its length in bytes
 *
 * The media type of @name's last extension: what follows the last `.` of
 * its last component, compared without ASCII case (HTTP.md). A component
 * without a `.`, or with only a leading one (`.bashrc`), has none. Adds
 * no parameter (no charset): the type as the table maps it. Allocates
 * nothing; any thread.
 *
 * Returns: (transfer none): the type, valid as long as @table, or
 *   %FC_MIME_DEFAULT when none is known
 */
const char *
fc_mime_table_lookup (FcMimeTable *table,
                      const char  *name,
                      gsize        len)
{
  char extension[EXTENSION_MAX + 1];
  gsize start = len;
  gsize ext_len;
  const char *type;

  while (start > 0 && name[start - 1] != '.' && name[start - 1] != '/')
    start--;
  /* No dot, or the dot opens the component. */
  if (start <= 1 || name[start - 1] != '.' || name[start - 2] == '/')
    return FC_MIME_DEFAULT;

  ext_len = len - start;
  if (ext_len == 0 || ext_len > EXTENSION_MAX)
    return FC_MIME_DEFAULT;
  for (gsize i = 0; i < ext_len; i++)
    extension[i] = g_ascii_tolower (name[start + i]);
  extension[ext_len] = '\0';

  type = g_hash_table_lookup (table->types, extension);
  return type != NULL ? type : FC_MIME_DEFAULT;
}
