#pragma once

#include <stdatomic.h>

#include <glib.h>

G_BEGIN_DECLS

/* The most bytes of listings held at once: LIST replies and HTTP
 * directory pages, while they are made and until they are sent. */
#define FC_LISTING_BUDGET (64u * 1024 * 1024)

gboolean  fc_listing_charge (atomic_size_t  *held,
                             gssize          bytes,
                             gsize           listing_total,
                             GError        **error);
GBytes   *fc_listing_take   (atomic_size_t  *held,
                             char           *text,
                             gsize           len,
                             gsize           charged);
GBytes   *fc_listing_bytes  (atomic_size_t  *held,
                             GString        *text);

G_END_DECLS
