#include <glib.h>

#include "size.h"

static void
test_good (void)
{
  static const struct { const char *text; guint64 size; } good[] = {
    { "0", 0 }, { "1", 1 }, { "4096", 4096 }, { "1K", 1024 }, { "1k", 1024 },
    { "64M", 67108864 }, { "2G", G_GUINT64_CONSTANT (2147483648) },
    { "0M", 0 }, { "18446744073709551615", G_MAXUINT64 },
    { "17179869183G", G_GUINT64_CONSTANT (17179869183) << 30 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 size = 1;

      g_assert_true (fc_size_parse (good[i].text, &size, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (size, ==, good[i].size);
    }
}

static void
test_bad (void)
{
  static const char *bad[] = {
    "", "K", "-1", "+1", " 1", "1 ", "1.5M", "12Q", "1KB", "1MM", "0x10",
    "18446744073709551616", "17179869184G",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 size = 7;

      g_assert_false (fc_size_parse (bad[i], &size, &error));
      g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
      g_assert_nonnull (strstr (error->message, bad[i]));
      g_assert_cmpuint (size, ==, 7);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/size/good", test_good);
  g_test_add_func ("/size/bad", test_bad);
  return g_test_run ();
}
