#include <glib.h>

#include "errors.h"
#include "names.h"

typedef struct {
  const char *name;
  gsize len;     /* 0: strlen (name) */
} Case;

static gsize
case_len (const Case *c)
{
  return c->len != 0 ? c->len : strlen (c->name);
}

static void
test_good (void)
{
  static const Case good[] = {
    { "a" }, { "hello.txt" }, { "docs/readme.txt" }, { "a/b/c/d/e" },
    { ".hidden" }, { "..dots" }, { "dots.." }, { "a/.../b" }, { "x/.y" },
    { " leading space" }, { "trailing space " }, { "in ner" },
    { "ünïcødé/文件" }, { "tab-free~!@#$%^&*()_+={}[]|\\:;\"'<>,?" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("good: %s", good[i].name);
      g_assert_true (fc_name_validate (good[i].name, case_len (&good[i]), &error));
      g_assert_no_error (error);
    }
}

static void
test_hostile (void)
{
  static const Case bad[] = {
    { "" }, { "/" }, { "/etc/passwd" }, { "a/" }, { "a//b" }, { "//a" },
    { "." }, { ".." }, { "./a" }, { "a/." }, { "a/./b" }, { "../a" },
    { "a/.." }, { "a/../b" }, { "../../../etc/passwd" },
    { "a\tb" }, { "a\nb" }, { "a\rb" }, { "\x1b[31m" }, { "a\x7f" },
    { "a\0b", 3 }, { "\xff" }, { "\xc3" }, { "a\xc3(" }, { "\xed\xa0\x80" },
    { "\xc0\xaf" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *shown = g_strescape (bad[i].name, NULL);

      g_test_message ("hostile: \"%s\"", shown);
      g_assert_false (fc_name_validate (bad[i].name, case_len (&bad[i]), &error));
      g_assert_error (error, FC_ERROR, FC_ERROR_INVALID_NAME);
    }
}

static void
test_length (void)
{
  g_autofree char *name = g_strnfill (FC_NAME_MAX + 1, 'a');
  g_autoptr(GError) error = NULL;

  /* Components of any length are the file system's business (404). */
  g_assert_true (fc_name_validate (name, FC_NAME_MAX, NULL));
  g_assert_false (fc_name_validate (name, FC_NAME_MAX + 1, &error));
  g_assert_error (error, FC_ERROR, FC_ERROR_INVALID_NAME);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/names/good", test_good);
  g_test_add_func ("/names/hostile", test_hostile);
  g_test_add_func ("/names/length", test_length);
  return g_test_run ();
}
