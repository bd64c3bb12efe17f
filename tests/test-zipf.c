#include <math.h>

#include <glib.h>

#include "zipf.h"

static void
test_one_rank (void)
{
  g_autoptr(FcbZipf) zipf = fcb_zipf_new (1, 1.0);

  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.0), ==, 0);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.999999), ==, 0);
}

static void
test_uniform (void)
{
  g_autoptr(FcbZipf) zipf = fcb_zipf_new (4, 0.0);

  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.0), ==, 0);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.24), ==, 0);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.26), ==, 1);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.5), ==, 2);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.99), ==, 3);
}

/* s = 1 over 3 ranks: weights 1, 1/2, 1/3, so P = 6/11, 3/11, 2/11. */
static void
test_boundaries (void)
{
  g_autoptr(FcbZipf) zipf = fcb_zipf_new (3, 1.0);

  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.0), ==, 0);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 6.0 / 11 - 1e-9), ==, 0);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 6.0 / 11 + 1e-9), ==, 1);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 9.0 / 11 - 1e-9), ==, 1);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 9.0 / 11 + 1e-9), ==, 2);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 1.0 - 1e-12), ==, 2);
}

/* An even grid of u stands for uniform randomness, without any chance:
 * each rank's share must match 1/(k+1)^s over the sum, for several s. */
static void
test_frequencies (void)
{
  static const double exponents[] = { 0.5, 0.99, 1.0, 1.5 };
  const guint n = 50, samples = 200000;

  for (gsize e = 0; e < G_N_ELEMENTS (exponents); e++)
    {
      g_autoptr(FcbZipf) zipf = fcb_zipf_new (n, exponents[e]);
      g_autofree guint *counts = g_new0 (guint, n);
      double sum = 0.0;

      for (guint i = 0; i < samples; i++)
        counts[fcb_zipf_sample (zipf, (i + 0.5) / samples)]++;
      for (guint k = 0; k < n; k++)
        sum += 1.0 / pow (k + 1.0, exponents[e]);
      for (guint k = 0; k < n; k++)
        {
          double expected = samples / pow (k + 1.0, exponents[e]) / sum;

          g_assert_cmpfloat (fabs (counts[k] - expected), <=, 1.0);
        }
      /* The most popular name comes first. */
      g_assert_cmpuint (counts[0], >, counts[1]);
      g_assert_cmpuint (counts[n - 2], >=, counts[n - 1]);
    }
}

/* The last rank is reachable and nothing maps past it. */
static void
test_last_rank (void)
{
  g_autoptr(FcbZipf) zipf = fcb_zipf_new (1000, 2.0);

  g_assert_cmpuint (fcb_zipf_sample (zipf, 1.0 - 1e-15), ==, 999);
  g_assert_cmpuint (fcb_zipf_sample (zipf, 0.0), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/zipf/sample/one-rank", test_one_rank);
  g_test_add_func ("/zipf/sample/uniform", test_uniform);
  g_test_add_func ("/zipf/sample/boundaries", test_boundaries);
  g_test_add_func ("/zipf/sample/frequencies", test_frequencies);
  g_test_add_func ("/zipf/sample/last-rank", test_last_rank);
  return g_test_run ();
}
