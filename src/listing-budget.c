#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include "errors.h"
#include "listing-budget.h"

/* errors.c's reply to a listing too large names the figure. */
G_STATIC_ASSERT (FC_LISTING_BUDGET == 67108864);

/**
 * fc_listing_charge:
 * @held: the bytes of listings held now, for all connections
 * @bytes: more bytes one listing is about to hold (> 0), or bytes it
 *   gave back (<= 0, never refused)
 * @listing_total: all that listing holds with @bytes, for the error
 * @error: %FC_ERROR_LISTING_TOO_LARGE when that one listing would pass
 *   %FC_LISTING_BUDGET on its own (asking again will not help),
 *   %FC_ERROR_LISTINGS_BUSY when the others hold the rest
 *
 * Charges a listing's memory against %FC_LISTING_BUDGET before it is
 * taken, so that a page of many long names (an `&` is 8 bytes of HTML)
 * cannot make the daemon hold more than the budget, however many are
 * made at once. Any thread.
 *
 * Returns: whether @bytes may be taken; when not, nothing was charged
 */
gboolean
fc_listing_charge (atomic_size_t  *held,
                   gssize          bytes,
                   gsize           listing_total,
                   GError        **error)
{
  if (bytes <= 0)
    {
      atomic_fetch_sub (held, (gsize) -bytes);
      return TRUE;
    }
  if (listing_total > FC_LISTING_BUDGET)
    {
      g_set_error (error, FC_ERROR, FC_ERROR_LISTING_TOO_LARGE,
                   "listing larger than %u bytes", FC_LISTING_BUDGET);
      return FALSE;
    }
  if (atomic_fetch_add (held, (gsize) bytes) + (gsize) bytes > FC_LISTING_BUDGET)
    {
      atomic_fetch_sub (held, (gsize) bytes);
      g_set_error (error, FC_ERROR, FC_ERROR_LISTINGS_BUSY,
                   "listings in flight would exceed %u bytes", FC_LISTING_BUDGET);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  atomic_size_t *held;
  char *text;                   /* (owned) */
  gsize charged;
} Listing;

static void
listing_free (gpointer data)
{
  Listing *listing = data;

  fc_listing_charge (listing->held, -(gssize) listing->charged, 0, NULL);
  g_free (listing->text);
  g_free (listing);
}

/**
 * fc_listing_take:
 * @held: the counter @text was charged to
 * @text: (transfer full): a listing's bytes, charged to @held
 * @len: its length
 * @charged: what it was charged, its allocation
 *
 * Returns: (transfer full): @text as bytes; freeing them gives the
 *   charge back
 */
GBytes *
fc_listing_take (atomic_size_t *held,
                 char          *text,
                 gsize          len,
                 gsize          charged)
{
  Listing *listing = g_new (Listing, 1);

  *listing = (Listing) { held, text, charged };
  return g_bytes_new_with_free_func (text, len, listing_free, listing);
}

/**
 * fc_listing_bytes:
 * @held: the counter @text was charged to
 * @text: (transfer full): a listing, charged to @held at its
 *   allocated_len (fc_listing_charge())
 *
 * Returns: (transfer full): @text's bytes; freeing them gives the charge
 *   back
 */
GBytes *
fc_listing_bytes (atomic_size_t *held,
                  GString       *text)
{
  gsize len = text->len;
  gsize charged = text->allocated_len;

  return fc_listing_take (held, g_string_free (text, FALSE), len, charged);
}
