/* The latency histogram of filecache-bench: a fixed array, so that each
 * worker thread records into its own without locking and the totals are
 * merged once at the end. */

#include "hist.h"

static guint
bucket_of (guint64 value)
{
  guint msb, shift;

  if (value < 2 * FCB_HIST_SUB)
    return (guint) value;
  msb = 63 - (guint) __builtin_clzll (value);
  shift = msb - FCB_HIST_SUB_BITS;
  return (shift + 1) * FCB_HIST_SUB + (guint) ((value >> shift) - FCB_HIST_SUB);
}

/* The middle of bucket @i: the value it stands for. */
static guint64
bucket_value (guint i)
{
  guint shift;
  guint64 low;

  if (i < 2 * FCB_HIST_SUB)
    return i;
  shift = i / FCB_HIST_SUB - 1;
  low = (guint64) (i % FCB_HIST_SUB + FCB_HIST_SUB) << shift;
  return low + ((G_GUINT64_CONSTANT (1) << shift) >> 1);
}

/**
 * fcb_hist_add:
 * @hist: a histogram, zeroed before first use
 * @value: any value (filecache-bench records nanoseconds)
 *
 * Counts @value. Not thread-safe: one histogram per thread, then
 * fcb_hist_merge().
 */
void
fcb_hist_add (FcbHist *hist,
              guint64  value)
{
  hist->counts[bucket_of (value)]++;
  hist->total++;
  hist->sum += value;
  hist->max = MAX (hist->max, value);
}

/**
 * fcb_hist_merge:
 * @into: the histogram that receives the counts
 * @from: a histogram left unchanged
 *
 * Adds everything counted in @from to @into.
 */
void
fcb_hist_merge (FcbHist       *into,
                const FcbHist *from)
{
  for (guint i = 0; i < FCB_HIST_BUCKETS; i++)
    into->counts[i] += from->counts[i];
  into->total += from->total;
  into->sum += from->sum;
  into->max = MAX (into->max, from->max);
}

/**
 * fcb_hist_percentile:
 * @hist: a histogram
 * @fraction: 0 to 1 (0.99 for p99)
 *
 * Returns: the nearest-rank percentile: the value below or at which
 *   @fraction of the values lie, exact below 2 x %FCB_HIST_SUB and within
 *   1.6 % above, never more than the largest value added; 0 for an empty
 *   histogram.
 */
guint64
fcb_hist_percentile (const FcbHist *hist,
                     double         fraction)
{
  guint64 rank, seen = 0;

  if (hist->total == 0)
    return 0;
  /* The 1e-9 keeps 0.99 x 100 (98.99999...) from rounding up to rank 100. */
  rank = (guint64) (fraction * (double) hist->total - 1e-9) + 1;
  rank = CLAMP (rank, 1, hist->total);
  for (guint i = 0; i < FCB_HIST_BUCKETS; i++)
    {
      seen += hist->counts[i];
      if (seen >= rank)
        return MIN (bucket_value (i), hist->max);
    }
  return hist->max;
}
