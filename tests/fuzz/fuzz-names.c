/* fc_name_validate() against the name rules of PROTOCOL.md. */
#include "contract.h"
#include "errors.h"
#include "names.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  /* A copy of exactly @size bytes: the name is not NUL-terminated, and
   * AddressSanitizer sees any read past it. */
  g_autofree char *name = g_memdup2 (data, size);
  g_autoptr(GError) error = NULL;
  gboolean valid = fc_name_validate (name, size, &error);

  FZ_CHECK (valid == fz_name_ok (data, size), "fc_name_validate() says %s",
            valid ? "valid" : error->message);
  FZ_CHECK (valid || g_error_matches (error, FC_ERROR, FC_ERROR_INVALID_NAME), "%s",
            error->message);
  return 0;
}
