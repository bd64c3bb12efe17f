#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The daemon's settings, from a key file and the command line: one table
 * of keys (the long option names) for both, so that every option can live
 * in the file and the file can hold nothing an option cannot say. No
 * sockets, no I/O but reading the file. */

#define FC_SETTINGS_GROUP "filecached"

#define FC_SETTINGS_ERROR (fc_settings_error_quark ())

typedef enum {
  FC_SETTINGS_ERROR_SYNTAX,        /* not a key file */
  FC_SETTINGS_ERROR_UNKNOWN_GROUP,
  FC_SETTINGS_ERROR_UNKNOWN_KEY,
  FC_SETTINGS_ERROR_BAD_VALUE,
} FcSettingsError;

typedef enum {
  FC_SETTING_ROOT,
  FC_SETTING_HOST,
  FC_SETTING_PORT,
  FC_SETTING_CACHE_SIZE,
  FC_SETTING_MAX_ENTRY_SIZE,
  FC_SETTING_MAX_CLIENTS,
  FC_SETTING_THREADS,
  FC_SETTING_REQUEST_TIMEOUT,
  FC_SETTING_IDLE_TIMEOUT,
  FC_SETTING_SEND_TIMEOUT,
  FC_SETTING_DRAIN_TIMEOUT,
  FC_SETTING_HTTP,
  FC_SETTING_INDEX,
  FC_SETTING_METRICS_PORT,
  FC_SETTING_ACCESS_LOG,
  FC_SETTING_NO_DBUS,
  FC_SETTING_SYSTEM,
  FC_SETTING_VERBOSE,
  FC_N_SETTINGS
} FcSetting;

typedef struct {
  char *root;               /* (owned): the directory to serve */
  char *host;               /* (owned) */
  guint port;               /* 0: pick a free one */
  guint64 cache_size;       /* bytes */
  guint64 max_entry_size;   /* bytes; G_MAXUINT64: no limit of its own */
  guint max_clients;
  guint threads;            /* 0: one per processor */
  guint request_timeout;    /* seconds */
  guint idle_timeout;       /* seconds */
  guint send_timeout;       /* seconds */
  guint drain_timeout;      /* seconds a stop waits for the requests received */
  gboolean http;            /* the HTTP dialect (HTTP.md); `--no-http` turns it off */
  gboolean index;           /* HTTP lists directories */
  guint metrics_port;       /* 0: no metrics port */
  char *access_log;         /* (owned) (nullable): the access log's file; NULL: none */
  gboolean no_dbus;
  gboolean system_bus;
  gboolean verbose;         /* debug messages, one per request */
  guint given;              /* bit 1 << FcSetting for each setting given */
} FcSettings;

GQuark      fc_settings_error_quark (void);

void        fc_settings_init        (FcSettings        *settings);
void        fc_settings_clear       (FcSettings        *settings);
const char *fc_settings_key         (FcSetting          setting);
gboolean    fc_settings_lookup      (const char        *key,
                                     FcSetting         *setting);
gboolean    fc_settings_is_live     (FcSetting          setting);
gboolean    fc_settings_set         (FcSettings        *settings,
                                     FcSetting          setting,
                                     const char        *label,
                                     const char        *value,
                                     GError           **error);
gboolean    fc_settings_load_data   (FcSettings        *settings,
                                     const char        *data,
                                     gsize              len,
                                     const char        *path,
                                     GError           **error);
gboolean    fc_settings_load_file   (FcSettings        *settings,
                                     const char        *path,
                                     GError           **error);
void        fc_settings_merge       (FcSettings        *settings,
                                     const FcSettings  *over);
void        fc_settings_copy_one    (FcSettings        *to,
                                     const FcSettings  *from,
                                     FcSetting          setting);
guint       fc_settings_diff        (const FcSettings  *a,
                                     const FcSettings  *b);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FcSettings, fc_settings_clear)

G_END_DECLS
