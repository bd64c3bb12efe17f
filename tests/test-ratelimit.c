/* The rate limit of warnings an admin must see, with time given. */
#include <glib.h>

#include "ratelimit.h"

#define S ((gint64) G_USEC_PER_SEC)

/* A burst, then silence until the window ends; the first message after
 * it reports how many were held back. */
static void
test_burst_then_window (void)
{
  FcRateLimit limit = FC_RATE_LIMIT_INIT (60 * S, 3);
  guint suppressed = 99;

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (fc_rate_limit_check (&limit, 1000 * S + i, &suppressed));
      g_assert_cmpuint (suppressed, ==, 0);
    }
  /* The rest of the window is counted, not logged. */
  for (guint i = 0; i < 100; i++)
    g_assert_false (fc_rate_limit_check (&limit, 1000 * S + 59 * S, &suppressed));
  /* The next window's first message says how many were held back, once. */
  g_assert_true (fc_rate_limit_check (&limit, 1060 * S, &suppressed));
  g_assert_cmpuint (suppressed, ==, 100);
  g_assert_true (fc_rate_limit_check (&limit, 1060 * S + 1, &suppressed));
  g_assert_cmpuint (suppressed, ==, 0);
}

/* A window opens at the first message after a quiet spell, not on a
 * fixed grid: a burst is never cut short by a boundary just passed. */
static void
test_window_starts_at_message (void)
{
  FcRateLimit limit = FC_RATE_LIMIT_INIT (10 * S, 2);
  guint suppressed;

  g_assert_true (fc_rate_limit_check (&limit, 5 * S, &suppressed));
  g_assert_true (fc_rate_limit_check (&limit, 14 * S, &suppressed));
  g_assert_false (fc_rate_limit_check (&limit, 14 * S + 999999, &suppressed));
  g_assert_true (fc_rate_limit_check (&limit, 15 * S, &suppressed));
  g_assert_cmpuint (suppressed, ==, 1);
  g_assert_true (fc_rate_limit_check (&limit, 24 * S, &suppressed));
  g_assert_false (fc_rate_limit_check (&limit, 24 * S + 1, &suppressed));
}

/* Each kind has its own limit: a flood of one hides no other. */
static void
test_kinds_apart (void)
{
  FcRateLimit reads = FC_RATE_LIMIT_FAILURES;
  FcRateLimit cuts = FC_RATE_LIMIT_FAILURES;
  guint suppressed;

  for (guint i = 0; i < 1000; i++)
    fc_rate_limit_check (&reads, S, &suppressed);
  g_assert_true (fc_rate_limit_check (&cuts, S, &suppressed));
  g_assert_cmpuint (suppressed, ==, 0);
}

/* The logged form: the message, then how many were held back. */
static void
test_log_says_suppressed (void)
{
  FcRateLimit limit = FC_RATE_LIMIT_INIT (3600 * S, 1);

  g_test_expect_message ("filecached", G_LOG_LEVEL_WARNING, "Cannot read “a”: Input/output error");
  fc_rate_limit_log (&limit, G_LOG_LEVEL_WARNING, "Cannot read “%s”: %s", "a", "Input/output error");
  fc_rate_limit_log (&limit, G_LOG_LEVEL_WARNING, "Cannot read “%s”: %s", "b", "Input/output error");
  fc_rate_limit_log (&limit, G_LOG_LEVEL_WARNING, "Cannot read “%s”: %s", "c", "Input/output error");
  g_test_assert_expected_messages ();

  /* Let the window end, as if an hour had passed. */
  limit.window_start -= 3600 * S;
  g_test_expect_message ("filecached", G_LOG_LEVEL_WARNING,
                         "Cannot read “d”: Input/output error (2 more like it suppressed)");
  fc_rate_limit_log (&limit, G_LOG_LEVEL_WARNING, "Cannot read “%s”: %s", "d", "Input/output error");
  g_test_assert_expected_messages ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratelimit/burst-then-window", test_burst_then_window);
  g_test_add_func ("/ratelimit/window-starts-at-message", test_window_starts_at_message);
  g_test_add_func ("/ratelimit/kinds-apart", test_kinds_apart);
  g_test_add_func ("/ratelimit/log-says-suppressed", test_log_says_suppressed);
  return g_test_run ();
}
