#include <glib/gstdio.h>

#include "mime.h"

static const char sample[] =
  "# A sample in the format of Debian's /etc/mime.types\n"
  "\n"
  "text/html\t\t\t\thtml htm shtml\n"
  "application/gzip\t\t\tgz\n"
  "text/plain txt TEXT   # an uppercase extension and a comment\n"
  "application/x-empty\n"
  "   \t  \n"
  "#application/x-commented\tcommented\n"
  "application/x-sh\t\t\tsh\n"
  "text/x-sh\t\t\t\tsh\n"
  "not-a-type\t\t\t\tbad\n"
  "text/b@d\tbadtype\n"
  "text/\xc3\xa9\tutf\n"
  "application/x-long\tabcdefghijklmnopqrstuvwxyz0123456789\n"
  "image/png png";   /* no LF at the end */

static char *
write_sample (const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("fc-mime-XXXXXX", &path, &error);

  g_assert_no_error (error);
  g_close (fd, NULL);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_type (FcMimeTable *table,
             const char  *name,
             const char  *type)
{
  g_test_message ("name: %s", name);
  g_assert_cmpstr (fc_mime_table_lookup (table, name, strlen (name)), ==, type);
}

static void
test_sample (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_sample (sample);
  g_autoptr(FcMimeTable) table = fc_mime_table_new (path, &error);

  g_assert_no_error (error);
  g_unlink (path);

  assert_type (table, "index.html", "text/html");
  assert_type (table, "index.htm", "text/html");
  assert_type (table, "x.shtml", "text/html");
  assert_type (table, "INDEX.HTML", "text/html");
  assert_type (table, "docs/readme.txt", "text/plain");
  assert_type (table, "notes.text", "text/plain");
  assert_type (table, "notes.Text", "text/plain");
  assert_type (table, "archive.tar.gz", "application/gzip");
  assert_type (table, "image.png", "image/png");
  /* The later line wins. */
  assert_type (table, "run.sh", "text/x-sh");
  /* Not names' extensions. */
  assert_type (table, "README", FC_MIME_DEFAULT);
  assert_type (table, ".bashrc", FC_MIME_DEFAULT);
  assert_type (table, "dir/.html", FC_MIME_DEFAULT);
  assert_type (table, "dir.html/README", FC_MIME_DEFAULT);
  assert_type (table, "trailing.", FC_MIME_DEFAULT);
  assert_type (table, "", FC_MIME_DEFAULT);
  assert_type (table, "x.commented", FC_MIME_DEFAULT);
  assert_type (table, "x.unknown", FC_MIME_DEFAULT);
  /* Lines whose type could not go into a header. */
  assert_type (table, "x.bad", FC_MIME_DEFAULT);
  assert_type (table, "x.badtype", FC_MIME_DEFAULT);
  assert_type (table, "x.utf", FC_MIME_DEFAULT);
  assert_type (table, "x.abcdefghijklmnopqrstuvwxyz0123456789", FC_MIME_DEFAULT);

  /* @len bounds the name: the extension is cut where it says. */
  g_assert_cmpstr (fc_mime_table_lookup (table, "a.html.gz", 6), ==, "text/html");
}

static void
test_system (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FcMimeTable) table = NULL;

  if (!g_file_test (FC_MIME_TYPES_FILE, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no " FC_MIME_TYPES_FILE " (Debian's media-types)");
      return;
    }
  table = fc_mime_table_new (FC_MIME_TYPES_FILE, &error);
  g_assert_no_error (error);
  assert_type (table, "pool/main/f/filecached_0.1.0_amd64.deb", "application/vnd.debian.binary-package");
  assert_type (table, "index.html", "text/html");
  assert_type (table, "readme.txt", "text/plain");
  assert_type (table, "Release.gpg", FC_MIME_DEFAULT);
}

static void
test_builtin (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FcMimeTable) table = fc_mime_table_new ("/nonexistent/mime.types", &error);

  g_assert_no_error (error);
  g_assert_nonnull (table);
  assert_type (table, "index.html", "text/html");
  assert_type (table, "a.DEB", "application/vnd.debian.binary-package");
  assert_type (table, "archive.tar.gz", "application/gzip");
  assert_type (table, "archive.tgz", "application/x-gtar-compressed");
  assert_type (table, "pkg-1.0-py3-none-any.whl", "application/zip");
  assert_type (table, "README", FC_MIME_DEFAULT);
}

/* The built-in table maps each extension as Debian's file does, where
 * that file maps it at all. */
static void
test_builtin_agrees (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FcMimeTable) builtin = fc_mime_table_new ("/nonexistent/mime.types", &error);
  g_autoptr(FcMimeTable) system = NULL;
  const char *const extensions[] = {
    "7z", "asc", "avif", "css", "csv", "deb", "diff", "gif", "gz", "htm",
    "html", "ico", "iso", "jar", "jpeg", "jpg", "js", "json", "md", "mjs",
    "mp3", "mp4", "ogg", "patch", "pdf", "png", "rpm", "sig", "svg", "tar",
    "tgz", "txt", "udeb", "wasm", "webm", "webp", "woff", "woff2", "xml",
    "xz", "zip", "zst",
  };

  if (!g_file_test (FC_MIME_TYPES_FILE, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no " FC_MIME_TYPES_FILE " (Debian's media-types)");
      return;
    }
  system = fc_mime_table_new (FC_MIME_TYPES_FILE, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      g_autofree char *name = g_strconcat ("x.", extensions[i], NULL);

      g_test_message ("extension: %s", extensions[i]);
      g_assert_cmpstr (fc_mime_table_lookup (builtin, name, strlen (name)), ==,
                       fc_mime_table_lookup (system, name, strlen (name)));
    }
}

static void
test_unreadable (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fc-mime-XXXXXX", &error);
  FcMimeTable *table;

  g_assert_no_error (error);
  /* A directory: it exists, and cannot be read as a file. */
  table = fc_mime_table_new (dir, &error);
  g_assert_null (table);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR);
  g_rmdir (dir);
}

static void
test_shared (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FcMimeTable) table = fc_mime_table_new ("/nonexistent/mime.types", &error);
  FcMimeTable *other = fc_mime_table_ref (table);

  g_assert_true (other == table);
  fc_mime_table_unref (other);
  assert_type (table, "a.png", "image/png");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mime/sample", test_sample);
  g_test_add_func ("/mime/system", test_system);
  g_test_add_func ("/mime/builtin", test_builtin);
  g_test_add_func ("/mime/builtin-agrees-with-debian", test_builtin_agrees);
  g_test_add_func ("/mime/unreadable-is-an-error", test_unreadable);
  g_test_add_func ("/mime/ref", test_shared);
  return g_test_run ();
}
