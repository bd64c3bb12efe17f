#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FcbZipf FcbZipf;

FcbZipf *fcb_zipf_new    (guint          n,
                          double         exponent);
guint    fcb_zipf_sample (const FcbZipf *zipf,
                          double         u);
void     fcb_zipf_free   (FcbZipf       *zipf);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FcbZipf, fcb_zipf_free)

G_END_DECLS
