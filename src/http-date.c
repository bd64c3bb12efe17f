#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include "http-date.h"

#define SECONDS_PER_DAY 86400

/* RFC 9110 5.6.7's names, which are case-sensitive (%s"..." in its ABNF).
 * 1970-01-01 was a Thursday: index 0 is Thursday. */
static const char *const day_names[7] = {
  "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed",
};
static const char *const long_day_names[7] = {
  "Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday",
};
static const char month_names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* Days since 1970-01-01 of a proleptic Gregorian date, and back: Howard
 * Hinnant's civil calendar algorithms, exact for any year and free of
 * gmtime()'s time zone and of timegm()'s range. */
static gint64
days_from_civil (gint64 year,
                 guint  month,
                 guint  day)
{
  gint64 era;
  guint year_of_era;
  guint day_of_year;
  guint day_of_era;

  year -= month <= 2;
  era = (year >= 0 ? year : year - 399) / 400;
  year_of_era = (guint) (year - era * 400);
  day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + (gint64) day_of_era - 719468;
}

static void
civil_from_days (gint64  days,
                 gint64 *year,
                 guint  *month,
                 guint  *day)
{
  gint64 era;
  guint day_of_era;
  guint year_of_era;
  guint day_of_year;
  guint mp;

  days += 719468;
  era = (days >= 0 ? days : days - 146096) / 146097;
  day_of_era = (guint) (days - era * 146097);
  year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  mp = (5 * day_of_year + 2) / 153;
  *day = day_of_year - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = (gint64) year_of_era + era * 400 + (*month <= 2);
}

static guint
days_in_month (gint64 year,
               guint  month)
{
  static const guint8 days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gboolean leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

  return days[month - 1] + (month == 2 && leap);
}

static char *
put_digits (char  *p,
            guint  value,
            guint  width)
{
  for (guint i = width; i > 0; i--)
    {
      p[i - 1] = (char) ('0' + value % 10);
      value /= 10;
    }
  return p + width;
}

/**
 * fc_http_date_format:
 * @unix_seconds: seconds since the epoch, UTC; clamped to
 *   [%FC_HTTP_DATE_MIN, %FC_HTTP_DATE_MAX], the years IMF-fixdate's four
 *   digits can say
 * @buf: (out): gets the IMF-fixdate (RFC 9110 5.6.7), NUL-terminated:
 *   %FC_HTTP_DATE_LEN bytes and the NUL
 *
 * Independent of locale and time zone; allocates nothing, calls nothing
 * that could block. Any thread.
 */
void
fc_http_date_format (gint64 unix_seconds,
                     char   buf[FC_HTTP_DATE_LEN + 1])
{
  gint64 t = CLAMP (unix_seconds, FC_HTTP_DATE_MIN, FC_HTTP_DATE_MAX);
  /* Floor division: a time before the epoch is in the day before. */
  gint64 days = (t >= 0 ? t : t - (SECONDS_PER_DAY - 1)) / SECONDS_PER_DAY;
  guint second_of_day = (guint) (t - days * SECONDS_PER_DAY);
  gint64 year;
  guint month;
  guint day;
  char *p = buf;

  civil_from_days (days, &year, &month, &day);

  memcpy (p, day_names[((days % 7) + 7) % 7], 3);
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  p = put_digits (p, day, 2);
  *p++ = ' ';
  memcpy (p, month_names + 3 * (month - 1), 3);
  p += 3;
  *p++ = ' ';
  p = put_digits (p, (guint) year, 4);
  *p++ = ' ';
  p = put_digits (p, second_of_day / 3600, 2);
  *p++ = ':';
  p = put_digits (p, second_of_day / 60 % 60, 2);
  *p++ = ':';
  p = put_digits (p, second_of_day % 60, 2);
  memcpy (p, " GMT", 5);
}

/* A cursor over the text being parsed: each step checks and advances,
 * and fails (returns FALSE) without reading past the end. */
typedef struct {
  const char *p;
  const char *end;
} Cursor;

static gboolean
take_literal (Cursor     *c,
              const char *literal)
{
  gsize len = strlen (literal);

  if ((gsize) (c->end - c->p) < len || memcmp (c->p, literal, len) != 0)
    return FALSE;
  c->p += len;
  return TRUE;
}

static gboolean
take_digits (Cursor *c,
             guint   width,
             guint  *value)
{
  *value = 0;
  if ((gsize) (c->end - c->p) < width)
    return FALSE;
  for (guint i = 0; i < width; i++, c->p++)
    {
      if (!g_ascii_isdigit (*c->p))
        return FALSE;
      *value = *value * 10 + (guint) (*c->p - '0');
    }
  return TRUE;
}

static gboolean
take_month (Cursor *c,
            guint  *month)
{
  for (guint i = 0; i < 12; i++)
    {
      char name[4] = { month_names[3 * i], month_names[3 * i + 1], month_names[3 * i + 2], '\0' };

      if (take_literal (c, name))
        {
          *month = i + 1;
          return TRUE;
        }
    }
  return FALSE;
}

/* Any of @names: the weekday is checked for form only, not against the
 * date (see fc_http_date_parse()). */
static gboolean
take_day_name (Cursor            *c,
               const char *const  names[7])
{
  for (guint i = 0; i < 7; i++)
    if (take_literal (c, names[i]))
      return TRUE;
  return FALSE;
}

/* time-of-day = hour ":" minute ":" second, 00:00:00 to 23:59:60 (a leap
 * second, which Unix time folds into the next one). */
static gboolean
take_time (Cursor *c,
           guint  *second_of_day)
{
  guint hour, minute, second;

  if (!take_digits (c, 2, &hour) || !take_literal (c, ":") ||
      !take_digits (c, 2, &minute) || !take_literal (c, ":") ||
      !take_digits (c, 2, &second))
    return FALSE;
  if (hour > 23 || minute > 59 || second > 60)
    return FALSE;
  *second_of_day = hour * 3600 + minute * 60 + second;
  return TRUE;
}

static gint64
to_unix (gint64 year,
         guint  month,
         guint  day,
         guint  second_of_day)
{
  return days_from_civil (year, month, day) * SECONDS_PER_DAY + second_of_day;
}

/* RFC 9110 5.6.7: a two-digit year that "appears to be more than 50
 * years in the future" is "the most recent year in the past that had the
 * same last two digits". So the year is the one with those digits whose
 * date falls in the 100 years ending 50 years from now. */
static gint64
rfc850_year (guint  two_digits,
             guint  month,
             guint  day,
             guint  second_of_day)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 now_days = (now >= 0 ? now : now - (SECONDS_PER_DAY - 1)) / SECONDS_PER_DAY;
  gint64 now_year;
  guint now_month;
  guint now_day;
  gint64 limit;
  gint64 year;

  civil_from_days (now_days, &now_year, &now_month, &now_day);
  limit = to_unix (now_year + 50, now_month, now_day, (guint) (now - now_days * SECONDS_PER_DAY));
  year = now_year - now_year % 100 + two_digits;
  if (to_unix (year, month, day, second_of_day) > limit)
    year -= 100;
  else if (to_unix (year + 100, month, day, second_of_day) <= limit)
    year += 100;
  return year;
}

/**
 * fc_http_date_parse:
 * @text: a field value (If-Modified-Since, If-Unmodified-Since, If-Range);
 *   need not be NUL-terminated
 * @len: its length in bytes, surrounding whitespace already removed
 * @unix_seconds: (out): the time, when %TRUE
 *
 * Parses the three forms RFC 9110 5.6.7 says a recipient must accept:
 * IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850
 * form (`Sunday, 06-Nov-94 08:49:37 GMT`, its two-digit year read by the
 * RFC's 50-year rule against the current time) and asctime
 * (`Sun Nov  6 08:49:37 1994`, the day as two digits or SP and one).
 * Strict about form: exact field widths and separators, names in the
 * RFC's case, a day that exists in its month, hours to 23, seconds to
 * 60, nothing before or after.
 *
 * The weekday must be one of the names but is not checked against the
 * date: it is redundant, RFC 9110 5.6.7 asks recipients to be robust in
 * parsing timestamps, and nginx and Apache do not check it either;
 * refusing such a date would only turn a 304 into a full 200.
 *
 * Allocates nothing. Any thread.
 *
 * Returns: %FALSE for anything else: HTTP.md ignores an invalid date
 */
gboolean
fc_http_date_parse (const char *text,
                    gsize       len,
                    gint64     *unix_seconds)
{
  Cursor c = { text, text + len };
  guint day, month, year, second_of_day;
  gboolean two_digit_year = FALSE;
  gint64 full_year;

  /* The long names first: "Sunday" begins with "Sun". */
  if (take_day_name (&c, long_day_names))
    {
      /* rfc850-date: day-name-l "," SP day "-" month "-" 2DIGIT SP time-of-day SP GMT */
      if (!take_literal (&c, ", ") || !take_digits (&c, 2, &day) ||
          !take_literal (&c, "-") || !take_month (&c, &month) ||
          !take_literal (&c, "-") || !take_digits (&c, 2, &year) ||
          !take_literal (&c, " ") || !take_time (&c, &second_of_day) ||
          !take_literal (&c, " GMT"))
        return FALSE;
      two_digit_year = TRUE;
    }
  else if (!take_day_name (&c, day_names))
    return FALSE;
  else if (take_literal (&c, ", "))
    {
      /* IMF-fixdate: day SP month SP year SP time-of-day SP GMT */
      if (!take_digits (&c, 2, &day) || !take_literal (&c, " ") ||
          !take_month (&c, &month) || !take_literal (&c, " ") ||
          !take_digits (&c, 4, &year) || !take_literal (&c, " ") ||
          !take_time (&c, &second_of_day) || !take_literal (&c, " GMT"))
        return FALSE;
    }
  else
    {
      /* asctime: month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP year */
      gboolean padded;

      if (!take_literal (&c, " ") || !take_month (&c, &month) || !take_literal (&c, " "))
        return FALSE;
      padded = take_literal (&c, " ");
      if (!take_digits (&c, padded ? 1 : 2, &day) || !take_literal (&c, " ") ||
          !take_time (&c, &second_of_day) || !take_literal (&c, " ") ||
          !take_digits (&c, 4, &year))
        return FALSE;
    }

  if (c.p != c.end)
    return FALSE;
  full_year = two_digit_year ? rfc850_year (year, month, day, second_of_day) : year;
  /* After the century is chosen: whether Feb 29 exists depends on it. */
  if (day == 0 || day > days_in_month (full_year, month))
    return FALSE;
  *unix_seconds = to_unix (full_year, month, day, second_of_day);
  return TRUE;
}

/**
 * fc_http_clock_now:
 * @clock: the calling thread's clock
 *
 * The Date field's value (RFC 9110 6.6.1) for now, formatted at most once
 * a second: g_get_real_time() costs no system call (vDSO), formatting
 * costs more. Only the thread that owns @clock may call it.
 *
 * Returns: (transfer none): the IMF-fixdate in @clock, valid until the
 *   next call with it
 */
const char *
fc_http_clock_now (FcHttpClock *clock)
{
  gint64 second = g_get_real_time () / G_USEC_PER_SEC;

  if (second != clock->second || clock->text[0] == '\0')
    {
      fc_http_date_format (second, clock->text);
      clock->second = second;
    }
  return clock->text;
}
