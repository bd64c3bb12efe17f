#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "waiter.h"

typedef struct {
  FcWaited waited;
  int peer;
  guint ready;
  guint timeouts;
  guint closing;
  gint64 fired_at;
} Pair;

static void
on_event (FcWaited    *waited,
          FcWaitEvent  event,
          gpointer     user_data)
{
  Pair *pair = (Pair *) waited;
  char buf[64];

  switch (event)
    {
    case FC_WAIT_READY:
      pair->ready++;
      /* Edge-triggered: drain, or the next edge never comes. */
      while (recv (pair->waited.fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
      break;
    case FC_WAIT_TIMEOUT:
      pair->timeouts++;
      pair->fired_at = g_get_monotonic_time ();
      break;
    case FC_WAIT_CLOSING:
      pair->closing++;
      break;
    }
}

static void
pair_init (Pair   *pair,
           gint64  deadline)
{
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), ==, 0);
  *pair = (Pair) { .waited = { .fd = fds[0], .deadline = deadline }, .peer = fds[1] };
}

static void
pair_clear (Pair *pair)
{
  close (pair->waited.fd);
  close (pair->peer);
}

/* Each connection is told once per burst of data, not once per byte. */
static void
test_ready_edge (void)
{
  g_autoptr(FcWaiter) waiter = fc_waiter_new (on_event, NULL, NULL);
  Pair pair;

  pair_init (&pair, G_MAXINT64);
  g_assert_true (fc_waiter_enter (waiter, &pair.waited, NULL));
  /* A fresh socket is writable: that first edge comes at once. */
  fc_waiter_dispatch (waiter, -1);
  g_assert_cmpuint (pair.ready, ==, 1);
  g_assert_cmpint (write (pair.peer, "abc", 3), ==, 3);
  fc_waiter_dispatch (waiter, -1);
  g_assert_cmpuint (pair.ready, ==, 2);
  g_assert_cmpuint (pair.timeouts, ==, 0);
  fc_waiter_leave (waiter, &pair.waited);
  g_assert_cmpuint (fc_waiter_count (waiter), ==, 0);
  pair_clear (&pair);
}

/* With a timeout of 0 a dispatch only takes what is ready: an owner
 * with connections of its own to run never sleeps in it, whatever the
 * deadlines (none here). */
static void
test_dispatch_poll (void)
{
  g_autoptr(FcWaiter) waiter = fc_waiter_new (on_event, NULL, NULL);
  gint64 guard = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  Pair pair;

  pair_init (&pair, G_MAXINT64);
  g_assert_true (fc_waiter_enter (waiter, &pair.waited, NULL));
  fc_waiter_dispatch (waiter, 0);
  g_assert_cmpuint (pair.ready, ==, 1);
  /* Nothing new: it returns at once (the guard only stops a hang). */
  for (guint i = 0; i < 100 && g_get_monotonic_time () < guard; i++)
    fc_waiter_dispatch (waiter, 0);
  g_assert_cmpuint (pair.ready, ==, 1);
  g_assert_cmpuint (pair.timeouts, ==, 0);
  fc_waiter_leave (waiter, &pair.waited);
  pair_clear (&pair);
}

/* Deadlines fire in order, a later one moved earlier fires first, and
 * one moved later does not fire at its old time. */
static void
test_deadlines (void)
{
  g_autoptr(FcWaiter) waiter = fc_waiter_new (on_event, NULL, NULL);
  gint64 now = g_get_monotonic_time ();
  Pair pairs[3];

  pair_init (&pairs[0], now + 50 * 1000);
  pair_init (&pairs[1], now + 400 * 1000);
  pair_init (&pairs[2], now + 100 * 1000);
  for (guint i = 0; i < 3; i++)
    g_assert_true (fc_waiter_enter (waiter, &pairs[i].waited, NULL));
  fc_waiter_set_deadline (waiter, &pairs[1].waited, now + 20 * 1000);
  fc_waiter_set_deadline (waiter, &pairs[2].waited, now + 600 * 1000);

  while (fc_waiter_count (waiter) > 0)
    fc_waiter_dispatch (waiter, -1);

  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (pairs[i].timeouts, ==, 1);
  g_assert_cmpint (pairs[1].fired_at, <=, pairs[0].fired_at);
  g_assert_cmpint (pairs[0].fired_at, <=, pairs[2].fired_at);
  g_assert_cmpint (pairs[2].fired_at, >=, now + 600 * 1000);
  for (guint i = 0; i < 3; i++)
    pair_clear (&pairs[i]);
}

/* Many connections entered and left in any order keep the heap whole. */
static void
test_heap_churn (void)
{
  g_autoptr(FcWaiter) waiter = fc_waiter_new (on_event, NULL, NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  gint64 now = g_get_monotonic_time ();
  Pair pairs[200];

  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      pair_init (&pairs[i], now + g_rand_int_range (rand, 1000, 200 * 1000));
      g_assert_true (fc_waiter_enter (waiter, &pairs[i].waited, NULL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i += 3)
    fc_waiter_leave (waiter, &pairs[i].waited);
  for (guint i = 1; i < G_N_ELEMENTS (pairs); i += 3)
    fc_waiter_set_deadline (waiter, &pairs[i].waited, now + g_rand_int_range (rand, 0, 300 * 1000));

  while (fc_waiter_count (waiter) > 0)
    fc_waiter_dispatch (waiter, -1);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_assert_cmpuint (pairs[i].timeouts, ==, i % 3 == 0 ? 0 : 1);
      if (i % 3 != 0)
        g_assert_cmpint (pairs[i].fired_at, >=, pairs[i].waited.deadline);
      pair_clear (&pairs[i]);
    }
}

/* Freeing the waiter tells the owner of every connection still in it. */
static void
test_closing (void)
{
  FcWaiter *waiter = fc_waiter_new (on_event, NULL, NULL);
  Pair pairs[5];

  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      pair_init (&pairs[i], G_MAXINT64);
      g_assert_true (fc_waiter_enter (waiter, &pairs[i].waited, NULL));
    }
  fc_waiter_free (waiter);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_assert_cmpuint (pairs[i].closing, ==, 1);
      pair_clear (&pairs[i]);
    }
}

static void
collect (gpointer data,
         gpointer user_data)
{
  g_ptr_array_add (user_data, data);
}

/* foreach visits each connection once, those that left not at all (a
 * stop tells every connection it holds). */
static void
test_foreach (void)
{
  g_autoptr(GError) error = NULL;
  FcWaiter *waiter = fc_waiter_new (on_event, NULL, &error);
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  Pair pairs[5];

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      pair_init (&pairs[i], g_get_monotonic_time () + (gint64) (5 - i) * G_USEC_PER_SEC);
      g_assert_true (fc_waiter_enter (waiter, &pairs[i].waited, &error));
    }
  fc_waiter_leave (waiter, &pairs[2].waited);

  fc_waiter_foreach (waiter, collect, seen);
  g_assert_cmpuint (seen->len, ==, G_N_ELEMENTS (pairs) - 1);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      guint index;

      g_assert_cmpint (g_ptr_array_find (seen, &pairs[i].waited, &index), ==, i != 2);
    }

  fc_waiter_free (waiter);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    pair_clear (&pairs[i]);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/waiter/ready/edge", test_ready_edge);
  g_test_add_func ("/waiter/dispatch/poll", test_dispatch_poll);
  g_test_add_func ("/waiter/deadline/order", test_deadlines);
  g_test_add_func ("/waiter/deadline/heap-churn", test_heap_churn);
  g_test_add_func ("/waiter/free/closing", test_closing);
  g_test_add_func ("/waiter/foreach", test_foreach);
  return g_test_run ();
}
