#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "ratelimit.h"

/**
 * fc_rate_limit_check:
 * @limit: a rate limit
 * @now: the monotonic time, in µs
 * @suppressed: (out): when %TRUE, how many messages were held back since
 *   the last one let through, for that one to say
 *
 * Counts one message of @limit's kind. A window opens with the first
 * message after the last window ended, and lets `burst` messages through.
 * Any thread.
 *
 * Returns: whether this message may be logged
 */
gboolean
fc_rate_limit_check (FcRateLimit *limit,
                     gint64       now,
                     guint       *suppressed)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&limit->lock);

  if (limit->in_window == 0 || now - limit->window_start >= limit->interval)
    {
      limit->window_start = now;
      limit->in_window = 0;
    }
  if (limit->in_window >= limit->burst)
    {
      limit->suppressed++;
      return FALSE;
    }
  limit->in_window++;
  *suppressed = limit->suppressed;
  limit->suppressed = 0;
  return TRUE;
}

/**
 * fc_rate_limit_log:
 * @limit: the rate limit of the message's kind
 * @level: %G_LOG_LEVEL_WARNING or %G_LOG_LEVEL_MESSAGE
 * @format: a translated printf() format, as for g_warning()
 *
 * Logs the message at @level unless @limit holds it back; the first one
 * let through after others were held back says how many. Any thread;
 * allocates only for a message that is logged.
 */
void
fc_rate_limit_log (FcRateLimit    *limit,
                   GLogLevelFlags  level,
                   const char     *format,
                   ...)
{
  g_autofree char *message = NULL;
  guint suppressed = 0;
  va_list ap;

  if (!fc_rate_limit_check (limit, g_get_monotonic_time (), &suppressed))
    return;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (suppressed == 0)
    g_log (G_LOG_DOMAIN, level, "%s", message);
  else
    g_log (G_LOG_DOMAIN, level,
           g_dngettext (GETTEXT_PACKAGE, "%s (%u more like it suppressed)",
                        "%s (%u more like it suppressed)", suppressed),
           message, suppressed);
}
