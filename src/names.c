#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <glib/gi18n.h>

#include "errors.h"
#include "names.h"

static gboolean
component_is_dots (const char *start,
                   gsize       len)
{
  return (len == 1 && start[0] == '.') ||
         (len == 2 && start[0] == '.' && start[1] == '.');
}

/**
 * fc_name_validate:
 * @name: the requested name; need not be NUL-terminated
 * @len: its length in bytes
 * @error: set to %FC_ERROR_INVALID_NAME on failure
 *
 * Checks @name against the name rules of the wire protocol. A valid name
 * is a relative path that cannot climb out of the root lexically; links
 * are the opener's business (fc_open_beneath()).
 *
 * Returns: %TRUE if @name may be looked up
 */
gboolean
fc_name_validate (const char  *name,
                  gsize        len,
                  GError     **error)
{
  const char *component = name;
  const char *reason = NULL;

  if (len == 0 || len > FC_NAME_MAX)
    reason = N_("length out of range");
  else if (!g_utf8_validate_len (name, len, NULL))
    reason = N_("not valid UTF-8");

  for (gsize i = 0; reason == NULL && i <= len; i++)
    {
      if (i == len || name[i] == '/')
        {
          gsize clen = (gsize) (name + i - component);

          if (clen == 0)
            reason = N_("empty component");
          else if (component_is_dots (component, clen))
            reason = N_("“.” or “..” component");
          component = name + i + 1;
        }
      else if ((guchar) name[i] < 0x20 || name[i] == 0x7f)
        reason = N_("control character");
    }

  if (reason == NULL)
    return TRUE;

  g_set_error (error, FC_ERROR, FC_ERROR_INVALID_NAME,
               _("Invalid name: %s"), _(reason));
  return FALSE;
}
