#include <glib.h>

#include "hist.h"

static void
test_empty (void)
{
  g_autofree FcbHist *hist = g_new0 (FcbHist, 1);

  g_assert_cmpuint (fcb_hist_percentile (hist, 0.5), ==, 0);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.999), ==, 0);
}

/* Below 128 every value has its own bucket. */
static void
test_exact_small (void)
{
  g_autofree FcbHist *hist = g_new0 (FcbHist, 1);

  for (guint64 v = 1; v <= 100; v++)
    fcb_hist_add (hist, v);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.50), ==, 50);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.99), ==, 99);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.999), ==, 100);
  g_assert_cmpuint (fcb_hist_percentile (hist, 1.0), ==, 100);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.0), ==, 1);
  g_assert_cmpuint (hist->total, ==, 100);
  g_assert_cmpuint (hist->sum, ==, 5050);
  g_assert_cmpuint (hist->max, ==, 100);
}

/* Nearest rank: p99 of 1000 values is the 990th, p99.9 the 999th. */
static void
test_tail (void)
{
  g_autofree FcbHist *hist = g_new0 (FcbHist, 1);

  for (guint i = 0; i < 989; i++)
    fcb_hist_add (hist, 10);
  for (guint i = 0; i < 9; i++)
    fcb_hist_add (hist, 50);
  fcb_hist_add (hist, 90);
  fcb_hist_add (hist, 120);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.50), ==, 10);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.99), ==, 50);
  g_assert_cmpuint (fcb_hist_percentile (hist, 0.999), ==, 90);
  g_assert_cmpuint (fcb_hist_percentile (hist, 1.0), ==, 120);
}

/* Large values land within 1.6 % (one bucket is 1/64 of its power of
 * two), and a percentile never exceeds the largest value seen. */
static void
test_relative_error (void)
{
  static const guint64 values[] = {
    128, 1000, 4097, 65535, 1000000, 123456789, G_GUINT64_CONSTANT (3000000000000),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree FcbHist *hist = g_new0 (FcbHist, 1);
      guint64 p;

      fcb_hist_add (hist, values[i]);
      fcb_hist_add (hist, values[i] * 2);
      p = fcb_hist_percentile (hist, 0.5);
      g_assert_cmpfloat ((double) p, >=, (double) values[i] * 0.984);
      g_assert_cmpfloat ((double) p, <=, (double) values[i] * 1.016);
      g_assert_cmpuint (fcb_hist_percentile (hist, 1.0), <=, values[i] * 2);
      g_assert_cmpfloat ((double) fcb_hist_percentile (hist, 1.0), >=, (double) values[i] * 2 * 0.984);
    }
}

static void
test_merge (void)
{
  g_autofree FcbHist *a = g_new0 (FcbHist, 1);
  g_autofree FcbHist *b = g_new0 (FcbHist, 1);

  for (guint i = 0; i < 90; i++)
    fcb_hist_add (a, 5);
  for (guint i = 0; i < 10; i++)
    fcb_hist_add (b, 70);
  fcb_hist_merge (a, b);
  g_assert_cmpuint (a->total, ==, 100);
  g_assert_cmpuint (a->sum, ==, 90 * 5 + 10 * 70);
  g_assert_cmpuint (a->max, ==, 70);
  g_assert_cmpuint (fcb_hist_percentile (a, 0.90), ==, 5);
  g_assert_cmpuint (fcb_hist_percentile (a, 0.91), ==, 70);
  g_assert_cmpuint (b->total, ==, 10);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hist/percentile/empty", test_empty);
  g_test_add_func ("/hist/percentile/exact-below-128", test_exact_small);
  g_test_add_func ("/hist/percentile/nearest-rank-tail", test_tail);
  g_test_add_func ("/hist/percentile/relative-error", test_relative_error);
  g_test_add_func ("/hist/merge", test_merge);
  return g_test_run ();
}
