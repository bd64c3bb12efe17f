#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "abandon.h"
#include "beneath.h"
#include "dir-index.h"
#include "errors.h"
#include "http-date.h"
#include "json.h"
#include "listing-budget.h"
#include "names.h"

G_DEFINE_QUARK (fc-dir-index-error-quark, fc_dir_index_error)

static void
entry_clear (gpointer data)
{
  FcDirEntry *entry = data;

  g_free (entry->name);
}

static int
entry_compare (gconstpointer a,
               gconstpointer b)
{
  return strcmp (((const FcDirEntry *) a)->name, ((const FcDirEntry *) b)->name);
}

/* Whether @d (in @dir_fd, named @path from the root) is listed, and as
 * what: a regular file or a directory as it is, a link as what it
 * resolves to under fc_open_beneath()'s confinement, nothing else (HTTP.md,
 * "Directories"). An entry that vanished meanwhile is simply not listed. */
static gboolean
entry_stat (int                  root_fd,
            int                  dir_fd,
            const struct dirent *d,
            const char          *path,
            struct stat         *st)
{
  /* d_type spares a stat() of what cannot be listed (FIFOs, sockets,
   * devices); DT_UNKNOWN (some file systems) is asked. */
  if (d->d_type != DT_REG && d->d_type != DT_DIR && d->d_type != DT_LNK && d->d_type != DT_UNKNOWN)
    return FALSE;
  if (fstatat (dir_fd, d->d_name, st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0)
    return FALSE;
  if (S_ISLNK (st->st_mode) && !fc_stat_beneath (root_fd, path, st, NULL))
    return FALSE;
  return S_ISREG (st->st_mode) || S_ISDIR (st->st_mode);
}

/* The message is the body of the 500 (HTTP.md: English), so it is not
 * translated. */
static void
set_too_many (GError     **error,
              const char  *name,
              gsize        max_entries)
{
  g_set_error (error, FC_DIR_INDEX_ERROR, FC_DIR_INDEX_ERROR_TOO_MANY,
               "Directory /%s%s has more than %" G_GSIZE_FORMAT " entries, too many to list",
               name, name[0] != '\0' ? "/" : "", max_entries);
}

/**
 * fc_dir_index_read:
 * @root_fd: the served directory (an O_PATH descriptor will do)
 * @name: the directory: a name that passed fc_name_validate(), or "" for
 *   the root
 * @max_entries: the most entries read (HTTP.md: at least
 *   %FC_DIR_INDEX_MAX_ENTRIES)
 * @error: an %FC_ERROR from opening @name (fc_open_dir_beneath():
 *   %FC_ERROR_NOT_FOUND when it is not a directory), or as
 *   fc_dir_index_read_dir() fails
 *
 * Opens @name confined beneath @root_fd and lists it with
 * fc_dir_index_read_dir(), wanted by no flight. Any thread.
 *
 * Returns: (transfer full) (element-type FcDirEntry) (nullable): as
 *   fc_dir_index_read_dir()
 */
GArray *
fc_dir_index_read (int          root_fd,
                   const char  *name,
                   gsize        max_entries,
                   GError     **error)
{
  struct stat st;
  int fd = fc_open_dir_beneath (root_fd, name, &st, error);

  if (fd < 0)
    return NULL;
  return fc_dir_index_read_dir (root_fd, fd, name, max_entries, NULL, error);
}

/**
 * fc_dir_index_read_dir:
 * @root_fd: the served directory (an O_PATH descriptor will do)
 * @dir_fd: (transfer full): the directory @name, opened confined beneath
 *   @root_fd (fc_open_dir_beneath()); closed here
 * @name: that directory's name from the root, "" for the root
 * @max_entries: the most entries read (HTTP.md: at least
 *   %FC_DIR_INDEX_MAX_ENTRIES)
 * @wanted_by: (nullable): the flight the listing lands, when it runs in
 *   the pool: it gives up once every joiner has left
 * @error: %FC_ERROR_READ_FAILED when reading it fails,
 *   %FC_DIR_INDEX_ERROR_TOO_MANY when it has more than @max_entries
 *   entries, %G_IO_ERROR_CANCELLED when the daemon stops or nobody waits
 *   for it any more (fc_long_work_go_on())
 *
 * Lists @name as HTTP.md's "Directories" says: regular files and
 * directories only, a link shown as what it resolves to under
 * fc_open_beneath()'s confinement and left out if that lies outside the
 * root, dangles or is neither; only entries whose name from the root
 * fc_name_validate() accepts. Bounded in time and memory: every entry the
 * directory holds counts towards @max_entries, listed or not, and reading
 * stops at the first one past it. Blocks on the disk (one fstatat() an
 * entry, a confined resolution a link), and looks whether to go on every
 * %FC_DIR_INDEX_SLICE entries. Any thread.
 *
 * Returns: (transfer full) (element-type FcDirEntry) (nullable): the
 *   entries sorted by name bytewise (strcmp()); freeing the array frees
 *   their names
 */
GArray *
fc_dir_index_read_dir (int          root_fd,
                       int          dir_fd,
                       const char  *name,
                       gsize        max_entries,
                       FcFlight    *wanted_by,
                       GError     **error)
{
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GString) path = g_string_new (name);
  gsize prefix_len;
  gsize seen = 0;
  struct stat st;
  struct dirent *d;
  DIR *dir = fdopendir (dir_fd);

  if (dir == NULL)
    {
      int saved_errno = errno;

      g_close (dir_fd, NULL);
      g_set_error (error, FC_ERROR, FC_ERROR_READ_FAILED,
                   _("Cannot read directory “%s”: %s"), name, g_strerror (saved_errno));
      return NULL;
    }

  if (path->len > 0)
    g_string_append_c (path, '/');
  prefix_len = path->len;
  entries = g_array_new (FALSE, FALSE, sizeof (FcDirEntry));
  g_array_set_clear_func (entries, entry_clear);

  for (errno = 0; (d = readdir (dir)) != NULL; errno = 0)
    {
      FcDirEntry entry;

      if (strcmp (d->d_name, ".") == 0 || strcmp (d->d_name, "..") == 0)
        continue;
      if (++seen > max_entries)
        {
          closedir (dir);
          set_too_many (error, name, max_entries);
          return NULL;
        }
      if (seen % FC_DIR_INDEX_SLICE == 0 &&
          !fc_long_work_go_on (wanted_by, N_("Listing abandoned: the daemon is stopping"),
                               N_("Listing abandoned: nobody waits for it any more"), error))
        {
          closedir (dir);
          return NULL;
        }
      g_string_truncate (path, prefix_len);
      g_string_append (path, d->d_name);
      if (!fc_name_validate (path->str, path->len, NULL) ||
          !entry_stat (root_fd, dirfd (dir), d, path->str, &st))
        continue;

      entry.name = g_strdup (d->d_name);
      entry.is_dir = S_ISDIR (st.st_mode);
      entry.size = (guint64) st.st_size;
      entry.mtime = st.st_mtim.tv_sec;
      g_array_append_val (entries, entry);
    }
  if (errno != 0)
    {
      int saved_errno = errno;

      closedir (dir);
      g_set_error (error, FC_ERROR, FC_ERROR_READ_FAILED,
                   _("Cannot read directory “%s”: %s"), name, g_strerror (saved_errno));
      return NULL;
    }
  closedir (dir);

  g_array_sort (entries, entry_compare);
  return g_steal_pointer (&entries);
}

/* The five characters that could end an attribute or open markup. */
static void
append_html_escaped (GString    *out,
                     const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    switch (*p)
      {
      case '&': g_string_append (out, "&amp;"); break;
      case '<': g_string_append (out, "&lt;"); break;
      case '>': g_string_append (out, "&gt;"); break;
      case '"': g_string_append (out, "&quot;"); break;
      case '\'': g_string_append (out, "&#39;"); break;
      default: g_string_append_c (out, *p); break;
      }
}

/* Every byte but RFC 3986's unreserved ones (and `/`) as %XX: a name's
 * `:` cannot then pass for a scheme, nor `?` or `#` end the path. The
 * result is ASCII, so it needs no HTML escaping. */
static void
append_percent_encoded (GString    *out,
                        const char *text)
{
  static const char hex[] = "0123456789ABCDEF";

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (g_ascii_isalnum (*p) || strchr ("-._~/", *p) != NULL)
        g_string_append_c (out, (char) *p);
      else
        {
          g_string_append_c (out, '%');
          g_string_append_c (out, hex[*p >> 4]);
          g_string_append_c (out, hex[*p & 0xf]);
        }
    }
}

/* IEC units, one decimal, in plain ASCII whatever the locale: not
 * g_format_size(), whose decimal separator follows LC_NUMERIC and whose
 * space is a no-break one. */
static void
append_size (GString *out,
             guint64  size)
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  guint64 whole = 0;
  guint64 tenths = 0;
  guint u;

  if (size < 1024)
    {
      g_string_append_printf (out, "%" G_GUINT64_FORMAT " B", size);
      return;
    }
  for (u = 0; u < G_N_ELEMENTS (units); u++)
    {
      guint shift = 10 * (u + 1);
      guint64 rest = size & ((G_GUINT64_CONSTANT (1) << shift) - 1);

      whole = size >> shift;
      /* Rounded to the nearest tenth; rest < 2^60, so rest * 10 fits. */
      tenths = (rest * 10 + (G_GUINT64_CONSTANT (1) << (shift - 1))) >> shift;
      if (tenths == 10)
        {
          whole++;
          tenths = 0;
        }
      if (whole < 1024 || u + 1 == G_N_ELEMENTS (units))
        break;
    }
  g_string_append_printf (out, "%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " %s",
                          whole, tenths, units[u]);
}

/* The time in UTC, `YYYY-MM-DD HH:MM` for people or RFC 3339 with
 * seconds for programs; clamped to IMF-fixdate's four-digit years. Plain
 * integer conversions, which no locale changes. */
static void
append_utc (GString  *out,
            gint64    mtime,
            gboolean  rfc3339)
{
  time_t t = (time_t) CLAMP (mtime, FC_HTTP_DATE_MIN, FC_HTTP_DATE_MAX);
  struct tm tm;

  gmtime_r (&t, &tm);
  g_string_append_printf (out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  if (rfc3339)
    g_string_append_printf (out, "T%02d:%02d:%02dZ", tm.tm_hour, tm.tm_min, tm.tm_sec);
  else
    g_string_append_printf (out, " %02d:%02d", tm.tm_hour, tm.tm_min);
}

static const char html_head[] =
  "<!DOCTYPE html>\n"
  "<html lang=\"en\">\n"
  "<head>\n"
  "<meta charset=\"utf-8\">\n"
  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
  "<style>\n"
  "body { font-family: system-ui, sans-serif; margin: 2em; }\n"
  "table { border-collapse: collapse; }\n"
  "th, td { padding: 0.2em 1em; text-align: left; white-space: nowrap; }\n"
  "td.size { text-align: right; font-variant-numeric: tabular-nums; }\n"
  "tbody tr:nth-child(even) { background: #f2f2f2; }\n"
  "</style>\n";

/* A page being written, its memory charged to the listings' budget
 * before it is taken (listing-budget.c). */
typedef struct {
  GString *out;                 /* (owned) */
  atomic_size_t *held;
  gsize charged;                /* bytes of out's allocation charged to held */
} Page;

/* Makes room for @more bytes in @page, charging the growth first: GString
 * grows to the next power of two, so that is what is charged. */
static gboolean
page_reserve (Page    *page,
              gsize    more,
              GError **error)
{
  gsize need = page->out->len + more + 1;
  gsize size = MAX (page->charged, 64);

  if (need <= page->charged)
    return TRUE;
  while (size < need)
    size *= 2;
  if (!fc_listing_charge (page->held, (gssize) (size - page->charged), size, error))
    return FALSE;
  page->charged = size;
  return TRUE;
}

static void
page_start (Page          *page,
            atomic_size_t *held)
{
  /* What g_string_new() takes is charged with the first reserve. */
  *page = (Page) { g_string_new (NULL), held, 0 };
}

/* The page, charged at its allocation (fc_listing_bytes()), or NULL with
 * @error set and its charge given back. */
static GString *
page_finish (Page     *page,
             gboolean  done,
             GError  **error)
{
  /* Should GString have grown otherwise than page_reserve() foresaw,
   * the charge follows what it holds. */
  if (done && page->out->allocated_len != page->charged)
    {
      done = fc_listing_charge (page->held, (gssize) page->out->allocated_len - (gssize) page->charged,
                                page->out->allocated_len, error);
      if (done)
        page->charged = page->out->allocated_len;
    }
  if (done)
    return page->out;
  fc_listing_charge (page->held, -(gssize) page->charged, 0, NULL);
  g_string_free (page->out, TRUE);
  return NULL;
}

/**
 * fc_dir_index_html:
 * @dir_name: the directory listed, as given to fc_dir_index_read(): ""
 *   for the root
 * @entries: (element-type FcDirEntry): from fc_dir_index_read()
 * @held: the listings' budget, charged with the page as it grows
 * @error: as fc_listing_charge() refuses
 *
 * The listing as an HTML5 page (HTTP.md, "Directories": served as
 * `text/html; charset=utf-8`): a heading with the directory's path, a
 * link to the parent (`../`) except at the root, then a table of name
 * (a link, relative to the directory, with a trailing `/` for a
 * directory), size in IEC units (ASCII, `1.5 KiB`) and modification time
 * (`YYYY-MM-DD HH:MM`, UTC). Every name HTML-escaped (`& < > " '`), every
 * link percent-encoded (all bytes but RFC 3986's unreserved). No script,
 * nothing loaded from elsewhere: a little inline CSS. The output does not
 * depend on the locale. Any thread.
 *
 * Returns: (transfer full) (nullable): the page, charged to @held at its
 *   allocated_len (fc_listing_bytes() takes it)
 */
GString *
fc_dir_index_html (const char     *dir_name,
                   GArray         *entries,
                   atomic_size_t  *held,
                   GError        **error)
{
  g_autoptr(GString) path = g_string_new ("/");
  Page page;
  GString *out;
  gboolean done = TRUE;

  if (dir_name[0] != '\0')
    g_string_append_printf (path, "%s/", dir_name);

  page_start (&page, held);
  out = page.out;
  /* Escaped twice, six bytes a byte at most each time. */
  if (!page_reserve (&page, sizeof html_head + 12 * path->len + 512, error))
    return page_finish (&page, FALSE, error);
  g_string_append (out, html_head);
  g_string_append (out, "<title>Index of ");
  append_html_escaped (out, path->str);
  g_string_append (out, "</title>\n</head>\n<body>\n<h1>Index of ");
  append_html_escaped (out, path->str);
  g_string_append (out, "</h1>\n<table>\n"
                        "<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>\n"
                        "<tbody>\n");
  if (dir_name[0] != '\0')
    g_string_append (out, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");

  for (guint i = 0; i < entries->len; i++)
    {
      const FcDirEntry *entry = &g_array_index (entries, FcDirEntry, i);
      const char *slash = entry->is_dir ? "/" : "";

      /* A link's byte is 3 at most, a shown one 6; the rest of a row is
       * under 200. */
      done = page_reserve (&page, 9 * strlen (entry->name) + 200, error);
      if (!done)
        break;
      g_string_append (out, "<tr><td><a href=\"");
      append_percent_encoded (out, entry->name);
      g_string_append_printf (out, "%s\">", slash);
      append_html_escaped (out, entry->name);
      g_string_append_printf (out, "%s</a></td><td class=\"size\">", slash);
      if (entry->is_dir)
        g_string_append_c (out, '-');
      else
        append_size (out, entry->size);
      g_string_append (out, "</td><td>");
      append_utc (out, entry->mtime, FALSE);
      g_string_append (out, "</td></tr>\n");
    }

  if (done && (done = page_reserve (&page, 64, error)))
    g_string_append (out, "</tbody>\n</table>\n</body>\n</html>\n");
  return page_finish (&page, done, error);
}

/**
 * fc_dir_index_json:
 * @entries: (element-type FcDirEntry): from fc_dir_index_read()
 * @held: the listings' budget, charged with the text as it grows
 * @error: as fc_listing_charge() refuses
 *
 * The listing as HTTP.md's "Directories" shapes it, byte for byte:
 * `[{"name": "a.txt", "type": "file", "size": 12, "mtime":
 * "2026-11-30T19:49:30Z"}, {"name": "sub", "type": "directory"}]`, a file
 * with its size in bytes and its modification time (RFC 3339, UTC), a
 * directory with neither; no LF at the end. Any thread.
 *
 * Returns: (transfer full) (nullable): the JSON text, charged to @held
 *   at its allocated_len (fc_listing_bytes() takes it)
 */
GString *
fc_dir_index_json (GArray         *entries,
                   atomic_size_t  *held,
                   GError        **error)
{
  Page page;
  GString *out;
  gboolean done;

  page_start (&page, held);
  out = page.out;
  done = page_reserve (&page, 2, error);
  if (done)
    g_string_append_c (out, '[');
  for (guint i = 0; i < entries->len && done; i++)
    {
      const FcDirEntry *entry = &g_array_index (entries, FcDirEntry, i);

      /* \u00XX is the longest a byte gets; the rest is under 120. */
      done = page_reserve (&page, 6 * strlen (entry->name) + 120, error);
      if (!done)
        break;
      if (i > 0)
        g_string_append (out, ", ");
      g_string_append (out, "{\"name\": ");
      fc_json_append_string (out, entry->name);
      if (entry->is_dir)
        {
          g_string_append (out, ", \"type\": \"directory\"}");
          continue;
        }
      g_string_append_printf (out, ", \"type\": \"file\", \"size\": %" G_GUINT64_FORMAT ", \"mtime\": \"",
                              entry->size);
      append_utc (out, entry->mtime, TRUE);
      g_string_append (out, "\"}");
    }
  if (done)
    g_string_append_c (out, ']');
  return page_finish (&page, done, error);
}

/**
 * fc_dir_index_listing:
 * @dir_name: as for fc_dir_index_html()
 * @entries: (element-type FcDirEntry): from fc_dir_index_read()
 * @json: fc_dir_index_json() if %TRUE, fc_dir_index_html() otherwise
 * @held: the listings' budget, charged while the listing is held
 * @error: as fc_listing_charge() refuses
 *
 * The listing as it is sent, made here or in the pool alike: its bytes,
 * whose charge is given back when they are freed. Any thread.
 *
 * Returns: (transfer full) (nullable): the listing
 */
GBytes *
fc_dir_index_listing (const char     *dir_name,
                      GArray         *entries,
                      gboolean        json,
                      atomic_size_t  *held,
                      GError        **error)
{
  GString *text = json ? fc_dir_index_json (entries, held, error)
                       : fc_dir_index_html (dir_name, entries, held, error);

  return text != NULL ? fc_listing_bytes (held, text) : NULL;
}

/* The next item of a list, split at @separator outside quoted strings
 * (RFC 9110 5.6.4: a parameter value may hold a `,` or `;` quoted), with
 * the whitespace around it removed. Returns FALSE at the end of the list. */
static gboolean
next_item (const char **p,
           const char  *end,
           char         separator,
           const char **item,
           gsize       *len)
{
  const char *start = *p;
  const char *stop = *p;
  gboolean quoted = FALSE;

  if (start >= end)
    return FALSE;
  for (; stop < end && (quoted || *stop != separator); stop++)
    {
      if (*stop == '"')
        quoted = !quoted;
      else if (*stop == '\\' && quoted && stop + 1 < end)
        stop++;
    }
  *p = stop < end ? stop + 1 : end;
  while (start < stop && (*start == ' ' || *start == '\t'))
    start++;
  while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
    stop--;
  *item = start;
  *len = (gsize) (stop - start);
  return TRUE;
}

/* `q=0` with up to three zero decimals (RFC 9110 12.4.2's qvalue): the
 * range is "not acceptable". */
static gboolean
is_zero_weight (const char *param,
                gsize       len)
{
  if (len < 3 || g_ascii_tolower (param[0]) != 'q' || param[1] != '=' || param[2] != '0')
    return FALSE;
  if (len == 3)
    return TRUE;
  if (param[3] != '.' || len > 7)
    return FALSE;
  for (gsize i = 4; i < len; i++)
    if (param[i] != '0')
      return FALSE;
  return TRUE;
}

static gboolean
range_is (const char *range,
          gsize       len,
          const char *type)
{
  return len == strlen (type) && g_ascii_strncasecmp (range, type, len) == 0;
}

/**
 * fc_accept_prefers_json:
 * @values: (array length=n): the Accept field lines' values, in the order
 *   received; need not be NUL-terminated
 * @lens: (array length=n): their lengths in bytes
 * @n: how many lines (0: no Accept)
 *
 * HTTP.md's choice of a listing's form: JSON when Accept names
 * `application/json` before or without `text/html`. "Names" is read
 * literally: the media range itself, case-insensitively (RFC 9110 8.3.1),
 * not a wildcard range (a type or subtype given as a star), and not at
 * weight 0, which RFC 9110 12.4.2 calls "not acceptable". Other weights are not
 * compared: the order across the list decides, as HTTP.md says, which is
 * also how browsers (HTML first) and API clients (JSON only) send it.
 * Allocates nothing. Any thread.
 *
 * Returns: %TRUE for JSON, %FALSE for HTML
 */
gboolean
fc_accept_prefers_json (const char *const *values,
                        const gsize       *lens,
                        guint              n)
{
  for (guint i = 0; i < n; i++)
    {
      const char *p = values[i];
      const char *element;
      gsize element_len;

      while (next_item (&p, values[i] + lens[i], ',', &element, &element_len))
        {
          const char *q = element;
          const char *range;
          const char *param;
          gsize range_len;
          gsize param_len;
          gboolean refused = FALSE;

          if (!next_item (&q, element + element_len, ';', &range, &range_len))
            continue;
          while (next_item (&q, element + element_len, ';', &param, &param_len))
            refused |= is_zero_weight (param, param_len);
          if (refused)
            continue;
          if (range_is (range, range_len, "application/json"))
            return TRUE;
          if (range_is (range, range_len, "text/html"))
            return FALSE;
        }
    }
  return FALSE;
}
