#define G_LOG_DOMAIN "filecache"

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "i18n.h"
#include "progress.h"

/* Smaller transfers are over before a progress bar could tell anything. */
#define PROGRESS_MIN_SIZE (1024 * 1024)
#define PROGRESS_INTERVAL_US (G_USEC_PER_SEC / 10)

/* When the terminal does not say (TIOCGWINSZ fails and no $COLUMNS). */
#define DEFAULT_WIDTH 80
/* A bar narrower than this tells nothing the percentage does not. */
#define BAR_MIN 10
#define BAR_MAX 40
/* A name is cut to no fewer columns than this before the rate and the ETA
 * are dropped. */
#define LABEL_MIN 12
/* Beyond this an ETA means "unknown" as much as "--" does. */
#define ETA_MAX_S (100 * 3600)

static guint
char_width (gunichar c)
{
  if (g_unichar_iszerowidth (c))
    return 0;
  return g_unichar_iswide (c) ? 2 : 1;
}

/**
 * fcc_progress_text_width:
 * @text: valid UTF-8
 *
 * Returns: the number of terminal columns @text takes: two for a wide
 *   (East Asian) character, none for a combining one, one for the others
 */
guint
fcc_progress_text_width (const char *text)
{
  guint width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    width += char_width (g_utf8_get_char (p));
  return width;
}

/* Appends @text cut to at most @max columns, marked with an ellipsis
 * where it was cut. */
static void
append_cut (GString    *line,
            const char *text,
            guint       max)
{
  /* g_printerr() converts to the locale's charset, where "…" may be "?". */
  const char *ellipsis = g_get_charset (NULL) ? "…" : "...";
  guint ellipsis_width = fcc_progress_text_width (ellipsis);
  guint width = 0;

  if (fcc_progress_text_width (text) <= max)
    {
      g_string_append (line, text);
      return;
    }
  if (max < ellipsis_width)
    return;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      guint w = char_width (g_utf8_get_char (p));

      if (width + w > max - ellipsis_width)
        break;
      g_string_append_len (line, p, g_utf8_next_char (p) - p);
      width += w;
    }
  g_string_append (line, ellipsis);
}

static char *
format_eta (guint64 left,
            double  rate)
{
  double seconds;
  guint64 s;

  if (rate <= 0)
    return g_strdup (_("ETA --:--"));
  seconds = left / rate;
  if (seconds >= ETA_MAX_S)
    return g_strdup (_("ETA --:--"));

  s = (guint64) (seconds + 0.5);
  if (s < 3600)
    return g_strdup_printf (_("ETA %u:%02u"), (guint) (s / 60), (guint) (s % 60));
  return g_strdup_printf (_("ETA %u:%02u:%02u"),
                          (guint) (s / 3600), (guint) (s / 60 % 60), (guint) (s % 60));
}

/**
 * fcc_progress_format:
 * @label: the file's name, valid UTF-8
 * @done: bytes of the file there now, @resumed included
 * @total: bytes of the whole file
 * @resumed: bytes that were there before this transfer began
 * @elapsed_us: microseconds since this transfer began
 * @width: columns of the terminal
 *
 * Formats one line of the progress bar: the name, a bar, the percentage,
 * the sizes in IEC units, the rate and the time left. Resumed bytes count
 * as done but not towards the rate, which is the average of this
 * transfer. The line takes fewer than @width columns, so that it never
 * wraps (a character in the last column wraps on some terminals): as the
 * width shrinks the bar narrows and goes, the name is cut, then the rate,
 * the sizes and the ETA are left out, the percentage last.
 *
 * Returns: (transfer full): the line, without a line break
 */
char *
fcc_progress_format (const char *label,
                     guint64     done,
                     guint64     total,
                     guint64     resumed,
                     gint64      elapsed_us,
                     guint       width)
{
  guint room = width > 0 ? width - 1 : 0;
  guint percent = total > 0 ? (guint) (100.0 * MIN (done, total) / total) : 100;
  double rate = elapsed_us > 0 && done > resumed
                ? (done - resumed) / (elapsed_us / (double) G_USEC_PER_SEC) : 0;
  g_autofree char *done_text = fc_i18n_format_size (done);
  g_autofree char *total_text = fc_i18n_format_size (total);
  g_autofree char *rate_size = fc_i18n_format_size ((guint64) rate);
  g_autofree char *percent_text = g_strdup_printf ("%3u%%", percent);
  /* Translators: the sizes done and in all, as in "1.5 MiB / 3.0 MiB". */
  g_autofree char *sizes = g_strdup_printf (_("%s / %s"), done_text, total_text);
  /* Translators: a transfer rate, as in "1.5 MiB/s". */
  g_autofree char *rate_text = rate > 0 ? g_strdup_printf (_("%s/s"), rate_size)
                                        : g_strdup ("--/s");
  g_autofree char *eta = format_eta (total > done ? total - done : 0, rate);
  /* From the most to the least told: the first that fits is shown. */
  const char *const tails[][5] = {
    { percent_text, sizes, rate_text, eta, NULL },
    { percent_text, sizes, eta, NULL },
    { percent_text, eta, NULL },
    { percent_text, NULL },
  };
  guint label_width = fcc_progress_text_width (label);
  GString *line = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (tails); i++)
    {
      g_autofree char *tail = g_strjoinv ("  ", (char **) tails[i]);
      guint tail_width = fcc_progress_text_width (tail);
      guint left;

      /* The name, a space, [the bar, a space,] the tail. */
      if (tail_width + 1 >= room)
        continue;
      left = room - tail_width - 1;

      if (left >= label_width + 1 + BAR_MIN + 2)
        {
          guint bar = MIN (left - label_width - 1 - 2, BAR_MAX);
          guint filled = total > 0 ? (guint) ((double) bar * MIN (done, total) / total) : bar;

          g_string_append_printf (line, "%s [", label);
          for (guint j = 0; j < bar; j++)
            g_string_append_c (line, j < filled ? '#' : '.');
          g_string_append_printf (line, "] %s", tail);
          return g_string_free (line, FALSE);
        }
      if (left >= MIN (label_width, LABEL_MIN))
        {
          append_cut (line, label, left);
          g_string_append_printf (line, " %s", tail);
          return g_string_free (line, FALSE);
        }
    }

  /* Too narrow even for a short name: the percentage alone, or nothing. */
  if (strlen (g_strstrip (percent_text)) <= room)
    g_string_append (line, percent_text);
  return g_string_free (line, FALSE);
}

/* The terminal's width now: it may change between two redraws. */
static guint
terminal_width (int fd)
{
  struct winsize size;
  const char *columns;
  guint64 value;

  if (ioctl (fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  columns = g_getenv ("COLUMNS");
  if (columns != NULL && g_ascii_string_to_unsigned (columns, 10, 1, G_MAXUINT16, &value, NULL))
    return value;
  return DEFAULT_WIDTH;
}

static void
draw (FccProgress *progress,
      guint64      done,
      gint64       now)
{
  g_autofree char *line = fcc_progress_format (progress->label, done, progress->total,
                                               progress->resumed, now - progress->start_us,
                                               terminal_width (progress->fd));

  /* Back to the start of the line and clear what a longer line left. */
  g_printerr ("\r%s\033[K", line);
  progress->last_draw_us = now;
}

/**
 * fcc_progress_begin:
 * @label: the file's name, valid UTF-8
 * @total: bytes of the whole file
 * @resumed: bytes of it already there
 *
 * Starts a progress bar on stderr, if stderr is a terminal and the file
 * is large enough for one to tell anything. End it with
 * fcc_progress_end().
 */
void
fcc_progress_begin (FccProgress *progress,
                    const char  *label,
                    guint64      total,
                    guint64      resumed)
{
  progress->label = g_strdup (label);
  progress->total = total;
  progress->resumed = resumed;
  progress->start_us = g_get_monotonic_time ();
  progress->last_draw_us = 0;
  progress->fd = total - resumed >= PROGRESS_MIN_SIZE && isatty (STDERR_FILENO)
                 ? STDERR_FILENO : -1;
}

/**
 * fcc_progress_update:
 * @done: bytes of the file there now, resumed ones included
 *
 * Redraws the bar, at most ten times a second and always at the end.
 */
void
fcc_progress_update (FccProgress *progress,
                     guint64      done)
{
  gint64 now;

  if (progress->fd < 0)
    return;
  now = g_get_monotonic_time ();
  if (done < progress->total && now - progress->last_draw_us < PROGRESS_INTERVAL_US)
    return;
  draw (progress, done, now);
}

/**
 * fcc_progress_end:
 *
 * Ends the bar's line, if one was drawn, so that what follows (an error,
 * the next file's bar) starts on a line of its own.
 */
void
fcc_progress_end (FccProgress *progress)
{
  if (progress->last_draw_us != 0)
    g_printerr ("\n");
  progress->last_draw_us = 0;
  g_clear_pointer (&progress->label, g_free);
}
