#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "size.h"
#include "settings.h"

G_DEFINE_QUARK (fc-settings-error-quark, fc_settings_error)

typedef enum {
  TYPE_TEXT,
  TYPE_NUMBER,
  TYPE_SIZE,
  TYPE_BOOLEAN,
} SettingType;

typedef struct {
  const char *key;
  SettingType type;
  gsize offset;             /* of the field in FcSettings */
  guint min;                /* TYPE_NUMBER */
  guint max;
  gboolean live;            /* a running daemon can apply a new value */
} SettingInfo;

#define FIELD(name) G_STRUCT_OFFSET (FcSettings, name)

static const SettingInfo infos[FC_N_SETTINGS] = {
  [FC_SETTING_ROOT] = { "root", TYPE_TEXT, FIELD (root), 0, 0, FALSE },
  [FC_SETTING_HOST] = { "host", TYPE_TEXT, FIELD (host), 0, 0, FALSE },
  [FC_SETTING_PORT] = { "port", TYPE_NUMBER, FIELD (port), 0, G_MAXUINT16, FALSE },
  [FC_SETTING_CACHE_SIZE] = { "cache-size", TYPE_SIZE, FIELD (cache_size), 0, 0, TRUE },
  [FC_SETTING_MAX_ENTRY_SIZE] = { "max-entry-size", TYPE_SIZE, FIELD (max_entry_size), 0, 0, TRUE },
  [FC_SETTING_MAX_CLIENTS] = { "max-clients", TYPE_NUMBER, FIELD (max_clients), 1, 1000000, TRUE },
  /* A reload starts the new workers at once (a thread limit is then a
   * warning, never a failure under load) or retires the surplus, each
   * ending with its last connection. */
  [FC_SETTING_THREADS] = { "threads", TYPE_NUMBER, FIELD (threads), 1, 1024, TRUE },
  [FC_SETTING_REQUEST_TIMEOUT] = { "request-timeout", TYPE_NUMBER, FIELD (request_timeout), 1, 86400, TRUE },
  [FC_SETTING_IDLE_TIMEOUT] = { "idle-timeout", TYPE_NUMBER, FIELD (idle_timeout), 1, 86400, TRUE },
  [FC_SETTING_SEND_TIMEOUT] = { "send-timeout", TYPE_NUMBER, FIELD (send_timeout), 1, 86400, TRUE },
  /* 0 cuts at once, as before draining was; an hour is far past any
   * service manager's patience (systemd's TimeoutStopSec= is 90 s). */
  [FC_SETTING_DRAIN_TIMEOUT] = { "drain-timeout", TYPE_NUMBER, FIELD (drain_timeout), 0, 3600, TRUE },
  /* Key `http`, as HTTP.md names it; on the command line only its
   * negation, `--no-http`, since it is on by default. */
  [FC_SETTING_HTTP] = { "http", TYPE_BOOLEAN, FIELD (http), 0, 0, TRUE },
  [FC_SETTING_INDEX] = { "index", TYPE_BOOLEAN, FIELD (index), 0, 0, TRUE },
  /* 0, the default, is off: unlike the main port's, a free one picked
   * at random would be of no use to a scraper. */
  [FC_SETTING_METRICS_PORT] = { "metrics-port", TYPE_NUMBER, FIELD (metrics_port), 0, G_MAXUINT16, FALSE },
  /* A reload opens the file again, changed or not: logrotate's
   * postrotate sends SIGHUP after renaming it. */
  [FC_SETTING_ACCESS_LOG] = { "access-log", TYPE_TEXT, FIELD (access_log), 0, 0, TRUE },
  [FC_SETTING_NO_DBUS] = { "no-dbus", TYPE_BOOLEAN, FIELD (no_dbus), 0, 0, FALSE },
  [FC_SETTING_SYSTEM] = { "system", TYPE_BOOLEAN, FIELD (system_bus), 0, 0, FALSE },
  [FC_SETTING_VERBOSE] = { "verbose", TYPE_BOOLEAN, FIELD (verbose), 0, 0, TRUE },
};

#undef FIELD

/**
 * fc_settings_init:
 * @settings: (out caller-allocates): settings to fill
 *
 * Fills @settings with the defaults, none of them marked as given. Free
 * with fc_settings_clear().
 */
void
fc_settings_init (FcSettings *settings)
{
  *settings = (FcSettings) {
    .root = g_strdup ("."),
    .host = g_strdup ("localhost"),
    .port = 3030,
    .cache_size = G_GUINT64_CONSTANT (64) << 20,
    .max_entry_size = G_MAXUINT64,
    .max_clients = 10000,
    .request_timeout = 10,
    .idle_timeout = 60,
    .send_timeout = 30,
    /* Room for every small reply and a few MiB at a slow client's pace,
     * yet a stop stays far inside systemd's 90 s TimeoutStopSec= and a
     * rolling restart of many nodes does not crawl. */
    .drain_timeout = 5,
    .http = TRUE,
  };
}

void
fc_settings_clear (FcSettings *settings)
{
  g_clear_pointer (&settings->root, g_free);
  g_clear_pointer (&settings->host, g_free);
  g_clear_pointer (&settings->access_log, g_free);
}

/**
 * fc_settings_key:
 * @setting: a setting
 *
 * Returns: (transfer none): its key in the file, which is also its long
 *   option without the leading `--`
 */
const char *
fc_settings_key (FcSetting setting)
{
  g_return_val_if_fail (setting < FC_N_SETTINGS, NULL);
  return infos[setting].key;
}

/**
 * fc_settings_lookup:
 * @key: a key, as in the file
 * @setting: (out): the setting it names
 *
 * Returns: whether @key names a setting
 */
gboolean
fc_settings_lookup (const char *key,
                    FcSetting  *setting)
{
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    if (strcmp (key, infos[i].key) == 0)
      {
        *setting = (FcSetting) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * fc_settings_is_live:
 * @setting: a setting
 *
 * Returns: whether a running daemon applies a new value on reload; the
 *   others (where it listens, what it serves and its bus)
 *   take a restart
 */
gboolean
fc_settings_is_live (FcSetting setting)
{
  g_return_val_if_fail (setting < FC_N_SETTINGS, FALSE);
  return infos[setting].live;
}

static gboolean
parse_boolean (const char *value,
               gboolean   *out)
{
  /* What g_key_file_get_boolean() accepts. */
  if (strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
    *out = TRUE;
  else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

/**
 * fc_settings_set:
 * @settings: settings
 * @setting: the one to set
 * @label: how the user wrote its name (`--port`, `port`), for messages
 * @value: (nullable): its text; %NULL sets a boolean (a command-line flag)
 * @error: %FC_SETTINGS_ERROR_BAD_VALUE, with a message starting with @label
 *
 * Parses @value and marks @setting as given; leaves @settings as it was
 * on error. Numbers are decimal only: an admin writing `010` means ten.
 */
gboolean
fc_settings_set (FcSettings  *settings,
                 FcSetting    setting,
                 const char  *label,
                 const char  *value,
                 GError     **error)
{
  const SettingInfo *info;
  gpointer field;

  g_return_val_if_fail (setting < FC_N_SETTINGS, FALSE);
  info = &infos[setting];
  field = G_STRUCT_MEMBER_P (settings, info->offset);
  g_return_val_if_fail (value != NULL || info->type == TYPE_BOOLEAN, FALSE);

  switch (info->type)
    {
    case TYPE_TEXT:
      if (*value == '\0')
        {
          g_set_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE,
                       _("%s needs a value"), label);
          return FALSE;
        }
      g_free (*(char **) field);
      *(char **) field = g_strdup (value);
      break;

    case TYPE_NUMBER:
      {
        guint64 number;

        if (!g_ascii_string_to_unsigned (value, 10, info->min, info->max, &number, NULL))
          {
            g_set_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE,
                         _("%s takes a whole number from %u to %u, not “%s”"),
                         label, info->min, info->max, value);
            return FALSE;
          }
        *(guint *) field = (guint) number;
      }
      break;

    case TYPE_SIZE:
      if (!fc_size_parse (value, field, NULL))
        {
          g_set_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE,
                       _("%s takes a size in bytes, with an optional K, M or G suffix, not “%s”"),
                       label, value);
          return FALSE;
        }
      break;

    case TYPE_BOOLEAN:
      if (value == NULL)
        *(gboolean *) field = TRUE;
      else if (!parse_boolean (value, field))
        {
          g_set_error (error, FC_SETTINGS_ERROR, FC_SETTINGS_ERROR_BAD_VALUE,
                       _("%s takes true or false, not “%s”"), label, value);
          return FALSE;
        }
      break;

    default:
      g_assert_not_reached ();
    }

  settings->given |= 1u << setting;
  return TRUE;
}

/* The 1-based number of the line that gave @key its value in @group (the
 * last one: GKeyFile keeps the last of duplicate keys), or of the line
 * opening @group when @key is NULL; 0 if there is none. GKeyFile keeps
 * no line numbers, and an admin needs one. */
static guint
find_line (const char *data,
           gsize       len,
           const char *group,
           const char *key)
{
  const char *p = data;
  const char *end = data + len;
  gboolean in_group = FALSE;
  guint number = 0;
  guint found = 0;

  while (p < end)
    {
      const char *eol = memchr (p, '\n', (gsize) (end - p));
      const char *next = eol != NULL ? eol + 1 : end;
      g_autofree char *line = g_strstrip (g_strndup (p, (gsize) ((eol != NULL ? eol : end) - p)));
      char *equals;

      number++;
      p = next;
      if (line[0] == '[')
        {
          gsize n = strlen (line);

          in_group = n >= 2 && line[n - 1] == ']' && n - 2 == strlen (group) &&
                     strncmp (line + 1, group, n - 2) == 0;
          if (in_group && key == NULL)
            return number;
          continue;
        }
      if (!in_group || key == NULL || line[0] == '#' || (equals = strchr (line, '=')) == NULL)
        continue;
      *equals = '\0';
      if (strcmp (g_strchomp (line), key) == 0)
        found = number;
    }
  return found;
}

static void
set_file_error (GError     **error,
                gint         code,
                const char  *path,
                guint        line,
                const char  *message)
{
  if (line > 0)
    g_set_error (error, FC_SETTINGS_ERROR, code, "%s:%u: %s", path, line, message);
  else
    g_set_error (error, FC_SETTINGS_ERROR, code, "%s: %s", path, message);
}

/**
 * fc_settings_load_data:
 * @settings: settings to update
 * @data: a key file's text
 * @len: its length in bytes
 * @path: where it was read from, to name in messages
 * @error: a #FcSettingsError whose message names @path, the line when
 *   there is one, the key and the problem
 *
 * Sets every setting the file gives, from the group `[filecached]`. A
 * group or key it does not know is an error, not ignored: a typo must not
 * leave a default silently in place. On error @settings is unchanged.
 */
gboolean
fc_settings_load_data (FcSettings  *settings,
                       const char  *data,
                       gsize        len,
                       const char  *path,
                       GError     **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) groups = NULL;
  g_auto(GStrv) keys = NULL;
  g_auto(FcSettings) loaded = { NULL };

  /* Translated keys (threads[de]) are kept, so as to be refused as
   * unknown, not dropped unseen. */
  if (!g_key_file_load_from_data (file, data, len, G_KEY_FILE_KEEP_TRANSLATIONS, &local_error))
    {
      set_file_error (error, FC_SETTINGS_ERROR_SYNTAX, path, 0, local_error->message);
      return FALSE;
    }

  groups = g_key_file_get_groups (file, NULL);
  for (gsize i = 0; groups[i] != NULL; i++)
    if (strcmp (groups[i], FC_SETTINGS_GROUP) != 0)
      {
        g_autofree char *message =
          g_strdup_printf (_("unknown group [%s]: the settings go in [%s]"), groups[i], FC_SETTINGS_GROUP);

        set_file_error (error, FC_SETTINGS_ERROR_UNKNOWN_GROUP, path,
                        find_line (data, len, groups[i], NULL), message);
        return FALSE;
      }

  fc_settings_init (&loaded);
  keys = g_key_file_get_keys (file, FC_SETTINGS_GROUP, NULL, NULL);
  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      guint line = find_line (data, len, FC_SETTINGS_GROUP, keys[i]);
      g_autofree char *value = NULL;
      FcSetting setting;

      if (!fc_settings_lookup (keys[i], &setting))
        {
          g_autofree char *message = g_strdup_printf (_("unknown key “%s”"), keys[i]);

          set_file_error (error, FC_SETTINGS_ERROR_UNKNOWN_KEY, path, line, message);
          return FALSE;
        }
      /* get_string, not get_value: it undoes the escapes (\s, \\). */
      value = g_key_file_get_string (file, FC_SETTINGS_GROUP, keys[i], &local_error);
      if (value == NULL || !fc_settings_set (&loaded, setting, keys[i], value, &local_error))
        {
          g_autofree char *message = value != NULL ? NULL
            : g_strdup_printf ("%s: %s", keys[i], local_error->message);

          set_file_error (error, FC_SETTINGS_ERROR_BAD_VALUE, path, line,
                          message != NULL ? message : local_error->message);
          return FALSE;
        }
    }

  fc_settings_merge (settings, &loaded);
  return TRUE;
}

/**
 * fc_settings_load_file:
 * @settings: settings to update
 * @path: a key file
 * @error: a #GFileError if it cannot be read, else as fc_settings_load_data()
 *
 * Reads @path and loads it with fc_settings_load_data().
 */
gboolean
fc_settings_load_file (FcSettings  *settings,
                       const char  *path,
                       GError     **error)
{
  g_autofree char *data = NULL;
  gsize len;

  if (!g_file_get_contents (path, &data, &len, error))
    return FALSE;
  return fc_settings_load_data (settings, data, len, path, error);
}

/**
 * fc_settings_copy_one:
 * @to: settings to update
 * @from: settings to copy from
 * @setting: which one
 *
 * Copies one setting's value, and whether it was given, from @from.
 */
void
fc_settings_copy_one (FcSettings       *to,
                      const FcSettings *from,
                      FcSetting         setting)
{
  const SettingInfo *info = &infos[setting];
  gpointer dest = G_STRUCT_MEMBER_P (to, info->offset);
  gconstpointer src = G_STRUCT_MEMBER_P (from, info->offset);
  guint bit = 1u << setting;

  switch (info->type)
    {
    case TYPE_TEXT:
      g_free (*(char **) dest);
      *(char **) dest = g_strdup (*(char *const *) src);
      break;
    case TYPE_NUMBER:
      *(guint *) dest = *(const guint *) src;
      break;
    case TYPE_SIZE:
      *(guint64 *) dest = *(const guint64 *) src;
      break;
    case TYPE_BOOLEAN:
      *(gboolean *) dest = *(const gboolean *) src;
      break;
    default:
      g_assert_not_reached ();
    }
  to->given = (to->given & ~bit) | (from->given & bit);
}

/**
 * fc_settings_merge:
 * @settings: settings to update
 * @over: settings whose given ones win
 *
 * Copies every setting given in @over into @settings, and marks it given
 * there: defaults, then the file, then the command line.
 */
void
fc_settings_merge (FcSettings       *settings,
                   const FcSettings *over)
{
  for (guint i = 0; i < FC_N_SETTINGS; i++)
    if ((over->given & (1u << i)) != 0)
      fc_settings_copy_one (settings, over, (FcSetting) i);
}

/**
 * fc_settings_diff:
 * @a: settings
 * @b: other settings
 *
 * Returns: a bit 1 << #FcSetting for each setting whose value differs
 *   (whether given or not)
 */
guint
fc_settings_diff (const FcSettings *a,
                  const FcSettings *b)
{
  guint changed = 0;

  for (guint i = 0; i < FC_N_SETTINGS; i++)
    {
      const SettingInfo *info = &infos[i];
      gconstpointer x = G_STRUCT_MEMBER_P (a, info->offset);
      gconstpointer y = G_STRUCT_MEMBER_P (b, info->offset);
      gboolean same;

      switch (info->type)
        {
        case TYPE_TEXT:
          same = g_strcmp0 (*(char *const *) x, *(char *const *) y) == 0;
          break;
        case TYPE_NUMBER:
          same = *(const guint *) x == *(const guint *) y;
          break;
        case TYPE_SIZE:
          same = *(const guint64 *) x == *(const guint64 *) y;
          break;
        case TYPE_BOOLEAN:
          same = *(const gboolean *) x == *(const gboolean *) y;
          break;
        default:
          g_assert_not_reached ();
        }
      if (!same)
        changed |= 1u << i;
    }
  return changed;
}
