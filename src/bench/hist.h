#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A log-linear histogram: exact below 2 x FCB_HIST_SUB, then FCB_HIST_SUB
 * buckets per power of two (under 1.6 % error), in a fixed 30 KiB that
 * does not grow with the run's length. */
#define FCB_HIST_SUB_BITS 6
#define FCB_HIST_SUB (1u << FCB_HIST_SUB_BITS)
#define FCB_HIST_BUCKETS ((64 - FCB_HIST_SUB_BITS + 1) * FCB_HIST_SUB)

typedef struct {
  guint64 counts[FCB_HIST_BUCKETS];
  guint64 total;   /* values added */
  guint64 sum;     /* of the values added, exact */
  guint64 max;     /* the largest value added, exact */
} FcbHist;

void    fcb_hist_add        (FcbHist       *hist,
                             guint64        value);
void    fcb_hist_merge      (FcbHist       *into,
                             const FcbHist *from);
guint64 fcb_hist_percentile (const FcbHist *hist,
                             double         fraction);

G_END_DECLS
