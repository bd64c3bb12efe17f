/* How filecache-bench picks a name for each request: rank k (from 0) with
 * probability proportional to 1 / (k + 1)^s, by inverting the cumulative
 * distribution with a binary search. A table of n doubles costs 8 MB for
 * a million names, and a sample costs log2(n) comparisons with no lock:
 * the table is read-only once built, so every thread shares it. */

#include <math.h>

#include "zipf.h"

struct _FcbZipf {
  guint n;
  double *cdf;   /* (owned): cdf[k] = P(rank <= k); cdf[n - 1] = 1 */
};

/**
 * fcb_zipf_new:
 * @n: how many ranks, at least 1
 * @exponent: s, 0 or more: 0 gives the uniform distribution, 1 the
 *   classic Zipf law where rank 0 is twice as likely as rank 1
 *
 * Returns: (transfer full): a sampler, to be shared by any threads
 */
FcbZipf *
fcb_zipf_new (guint  n,
              double exponent)
{
  FcbZipf *zipf;
  double sum = 0.0;

  g_return_val_if_fail (n >= 1, NULL);
  g_return_val_if_fail (exponent >= 0.0, NULL);

  zipf = g_new0 (FcbZipf, 1);
  zipf->n = n;
  zipf->cdf = g_new (double, n);
  for (guint k = 0; k < n; k++)
    {
      sum += exponent == 0.0 ? 1.0 : pow ((double) k + 1.0, -exponent);
      zipf->cdf[k] = sum;
    }
  for (guint k = 0; k < n; k++)
    zipf->cdf[k] /= sum;
  /* Rounding must not leave a sliver of [0, 1) that maps past the end. */
  zipf->cdf[n - 1] = 1.0;
  return zipf;
}

/**
 * fcb_zipf_sample:
 * @zipf: a sampler
 * @u: a uniform random number in [0, 1)
 *
 * Returns: the rank that @u selects, 0 to n - 1 (0 the most likely):
 *   the smallest k with P(rank <= k) > @u. Deterministic, so the caller
 *   chooses the random source.
 */
guint
fcb_zipf_sample (const FcbZipf *zipf,
                 double         u)
{
  guint low = 0, high = zipf->n - 1;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;

      if (zipf->cdf[mid] > u)
        high = mid;
      else
        low = mid + 1;
    }
  return low;
}

void
fcb_zipf_free (FcbZipf *zipf)
{
  if (zipf == NULL)
    return;
  g_free (zipf->cdf);
  g_free (zipf);
}
