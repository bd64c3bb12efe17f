#include <string.h>
#include <time.h>

#include "http-date.h"

#define RFC_EXAMPLE G_GINT64_CONSTANT (784111777)  /* 1994-11-06T08:49:37Z */

static gint64
parse_ok (const char *text)
{
  gint64 t = 0;

  g_test_message ("date: “%s”", text);
  g_assert_true (fc_http_date_parse (text, strlen (text), &t));
  return t;
}

static void
assert_formats (gint64      t,
                const char *text)
{
  char buf[FC_HTTP_DATE_LEN + 1];

  fc_http_date_format (t, buf);
  g_assert_cmpstr (buf, ==, text);
  g_assert_cmpuint (strlen (buf), ==, FC_HTTP_DATE_LEN);
}

static void
test_format_known (void)
{
  assert_formats (0, "Thu, 01 Jan 1970 00:00:00 GMT");
  assert_formats (-1, "Wed, 31 Dec 1969 23:59:59 GMT");
  assert_formats (RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert_formats (951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
  assert_formats (G_GINT64_CONSTANT (2147483647), "Tue, 19 Jan 2038 03:14:07 GMT");
  assert_formats (G_GINT64_CONSTANT (2147483648), "Tue, 19 Jan 2038 03:14:08 GMT");
  assert_formats (G_GINT64_CONSTANT (4107542400), "Mon, 01 Mar 2100 00:00:00 GMT");
  assert_formats (FC_HTTP_DATE_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
  assert_formats (FC_HTTP_DATE_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
  /* Beyond the four digits: clamped. */
  assert_formats (G_MAXINT64, "Fri, 31 Dec 9999 23:59:59 GMT");
  assert_formats (G_MININT64, "Sat, 01 Jan 0000 00:00:00 GMT");
}

/* Against the C library, where its gmtime() and a four-digit %Y agree. */
static void
assert_like_libc (gint64 t)
{
  time_t tt = (time_t) t;
  struct tm tm;
  char expected[64];
  char buf[FC_HTTP_DATE_LEN + 1];
  gint64 back = 0;

  g_assert_nonnull (gmtime_r (&tt, &tm));
  /* The test runs under LC_ALL=C.UTF-8: English names. */
  strftime (expected, sizeof expected, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  fc_http_date_format (t, buf);
  g_assert_cmpstr (buf, ==, expected);
  g_assert_true (fc_http_date_parse (buf, FC_HTTP_DATE_LEN, &back));
  g_assert_cmpint (back, ==, t);
}

static void
test_round_trip (void)
{
  static const gint64 edges[] = {
    0, 1, 59, 60, 86399, 86400, -1, -86400, -86401,
    68169600,                          /* 1972-02-29 */
    951868799,                         /* 2000-02-29T23:59:59 */
    G_GINT64_CONSTANT (2147483647), G_GINT64_CONSTANT (2147483648),
    G_GINT64_CONSTANT (4107542399),    /* 2100-02-28T23:59:59: no Feb 29 */
    G_GINT64_CONSTANT (253402300799),  /* the last second of 9999 */
    G_GINT64_CONSTANT (-2208988800),   /* 1900-01-01 */
    G_GINT64_CONSTANT (-30610224000),  /* 1000-01-01 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (edges); i++)
    assert_like_libc (edges[i]);
  /* Every day across four centuries, at a varying time. */
  for (gint64 t = G_GINT64_CONSTANT (-2208988800); t < G_GINT64_CONSTANT (10413792000); t += 86400 + 3607)
    assert_like_libc (t);
  for (guint i = 0; i < 100000; i++)
    assert_like_libc ((gint64) g_test_rand_double_range (-30610224000.0, 253402300799.0));
}

static void
test_rfc_examples (void)
{
  g_assert_cmpint (parse_ok ("Sun, 06 Nov 1994 08:49:37 GMT"), ==, RFC_EXAMPLE);
  g_assert_cmpint (parse_ok ("Sunday, 06-Nov-94 08:49:37 GMT"), ==, RFC_EXAMPLE);
  g_assert_cmpint (parse_ok ("Sun Nov  6 08:49:37 1994"), ==, RFC_EXAMPLE);
  /* asctime's two-digit day. */
  g_assert_cmpint (parse_ok ("Sun Nov 06 08:49:37 1994"), ==, RFC_EXAMPLE);
  g_assert_cmpint (parse_ok ("Mon, 30 Nov 2026 19:49:30 GMT"), ==, G_GINT64_CONSTANT (1796068170));
  g_assert_cmpint (parse_ok ("Thu, 01 Jan 1970 00:00:00 GMT"), ==, 0);
  g_assert_cmpint (parse_ok ("Fri, 31 Dec 9999 23:59:59 GMT"), ==, FC_HTTP_DATE_MAX);
  g_assert_cmpint (parse_ok ("Tue, 29 Feb 2000 00:00:00 GMT"), ==, 951782400);
  g_assert_cmpint (parse_ok ("Thursday, 01-Jan-70 00:00:00 GMT"), ==, G_GINT64_CONSTANT (3155760000));
  /* A leap second is the next second in Unix time. */
  g_assert_cmpint (parse_ok ("Sat, 31 Dec 2016 23:59:60 GMT"), ==, G_GINT64_CONSTANT (1483228800));
}

/* A wrong weekday is accepted: it is redundant, and refusing it would
 * only turn a 304 into a 200 (see fc_http_date_parse()). */
static void
test_wrong_weekday (void)
{
  g_assert_cmpint (parse_ok ("Mon, 06 Nov 1994 08:49:37 GMT"), ==, RFC_EXAMPLE);
  g_assert_cmpint (parse_ok ("Friday, 06-Nov-94 08:49:37 GMT"), ==, RFC_EXAMPLE);
  g_assert_cmpint (parse_ok ("Wed Nov  6 08:49:37 1994"), ==, RFC_EXAMPLE);
}

static void
test_rejects (void)
{
  static const char *const bad[] = {
    "",
    "GMT",
    "sun, 06 Nov 1994 08:49:37 GMT",
    "SUN, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 gmt",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 +0000",
    "Sun, 06 Nov 1994 08:49:37",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun, 06 Nov 01994 08:49:37 GMT",
    "Sun, 06 Nov 1994 8:49:37 GMT",
    "Sun, 06 Nov 1994 08:49 GMT",
    "Sun,  06 Nov 1994 08:49:37 GMT",
    "Sun 06 Nov 1994 08:49:37 GMT",
    " Sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT ",
    "Sun, 06 Nov 1994 08:49:37 GMTx",
    "Sun, 06 Nov 1994  08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37  GMT",
    "Sun, 06-Nov-1994 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT",
    "Sunday, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-1994 08:49:37 GMT",
    "Sunday, 6-Nov-94 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37",
    "Sun Nov 6 08:49:37 1994",
    "Sun Nov   6 08:49:37 1994",
    "Sun Nov  6 08:49:37 94",
    "Sun Nov  6 08:49:37 1994 GMT",
    "Sun Nov  6 08:49:37 01994",
    "Sun, 00 Nov 1994 08:49:37 GMT",
    "Sun, 31 Nov 1994 08:49:37 GMT",
    "Sun, 29 Feb 1900 00:00:00 GMT",
    "Sun, 29 Feb 2001 00:00:00 GMT",
    "Sun, 30 Feb 2000 00:00:00 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:60:00 GMT",
    "Sun, 06 Nov 1994 08:49:61 GMT",
    "Sun, 06 Xyz 1994 08:49:37 GMT",
    "Sun, 06 Nov 19x4 08:49:37 GMT",
    "Sun, 0x Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 G\xc3\x89T",
    "Sun, -6 Nov 1994 08:49:37 GMT",
    "Sun, +6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08-49-37 GMT",
    "1994-11-06T08:49:37Z",
    "784111777",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gint64 t = 42;

      g_test_message ("date: “%s”", bad[i]);
      g_assert_false (fc_http_date_parse (bad[i], strlen (bad[i]), &t));
      g_assert_cmpint (t, ==, 42);
    }
}

/* Every proper prefix of a valid date is refused, reading nothing past
 * @len (the text is copied so a read past it is caught by ASan). */
static void
test_prefixes (void)
{
  static const char *const good[] = {
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    for (gsize len = 0; len < strlen (good[i]); len++)
      {
        g_autofree char *copy = g_memdup2 (good[i], len);
        gint64 t;

        g_assert_false (fc_http_date_parse (copy, len, &t));
      }
  /* A NUL inside @len is a byte like any other. */
  g_assert_false (fc_http_date_parse ("Sun, 06 Nov 1994 08:49:37 GMT", FC_HTTP_DATE_LEN + 1, &(gint64){ 0 }));
}

static gint64
year_start (gint64 year)
{
  g_autoptr(GDateTime) dt = g_date_time_new_utc ((gint) year, 1, 1, 0, 0, 0);

  return g_date_time_to_unix (dt);
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is in the past. */
static void
test_rfc850_century (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  gint64 year = g_date_time_get_year (now);
  static const char *const names[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
  };
  const struct {
    gint64 offset;       /* from this year */
    gint64 expected;     /* the year read, from this year */
  } cases[] = {
    { 0, 0 }, { -1, -1 }, { 1, 1 }, { 49, 49 }, { 50, 50 },
    { 51, -49 }, { 99, -1 }, { -49, -49 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 target = year + cases[i].expected;
      g_autoptr(GDateTime) jan1 = g_date_time_new_utc ((gint) target, 1, 1, 0, 0, 0);
      g_autofree char *text =
        g_strdup_printf ("%s, 01-Jan-%02d 00:00:00 GMT",
                         names[g_date_time_get_day_of_week (jan1) - 1],
                         (int) ((year + cases[i].offset) % 100));

      g_assert_cmpint (parse_ok (text), ==, year_start (target));
    }
}

static void
test_clock (void)
{
  FcHttpClock clock = { 0 };
  char expected[FC_HTTP_DATE_LEN + 1];
  const char *text;
  gint64 before;
  gint64 after;

  /* A zeroed clock formats on its first call. */
  do
    {
      before = g_get_real_time () / G_USEC_PER_SEC;
      text = fc_http_clock_now (&clock);
      after = g_get_real_time () / G_USEC_PER_SEC;
    }
  while (before != after);
  fc_http_date_format (before, expected);
  g_assert_cmpstr (text, ==, expected);
  g_assert_true (text == clock.text);
  g_assert_cmpint (clock.second, ==, before);

  /* Within the same second, the text is not formatted again: a marker
   * put in it stays. */
  do
    {
      before = g_get_real_time () / G_USEC_PER_SEC;
      clock.second = before;
      memcpy (clock.text, "unchanged", sizeof "unchanged");
      text = fc_http_clock_now (&clock);
      after = g_get_real_time () / G_USEC_PER_SEC;
    }
  while (before != after);
  g_assert_cmpstr (text, ==, "unchanged");

  /* A new second: formatted again. */
  clock.second--;
  text = fc_http_clock_now (&clock);
  g_assert_cmpint (clock.second, >=, before);
  fc_http_date_format (clock.second, expected);
  g_assert_cmpstr (text, ==, expected);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-date/format/known", test_format_known);
  g_test_add_func ("/http-date/format/round-trip", test_round_trip);
  g_test_add_func ("/http-date/parse/rfc-examples", test_rfc_examples);
  g_test_add_func ("/http-date/parse/wrong-weekday-accepted", test_wrong_weekday);
  g_test_add_func ("/http-date/parse/rejects", test_rejects);
  g_test_add_func ("/http-date/parse/prefixes", test_prefixes);
  g_test_add_func ("/http-date/parse/rfc850-century", test_rfc850_century);
  g_test_add_func ("/http-date/clock", test_clock);
  return g_test_run ();
}
