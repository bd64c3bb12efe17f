#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "waiter.h"

/* Events taken from the kernel per epoll_wait(): enough that a busy
 * worker pays one system call for many requests. */
#define BATCH 64

/* Deadlines live in a binary min-heap keyed by FcWaited.key. A deadline
 * that moves later (every request pushes the idle deadline on) only
 * updates FcWaited.deadline; the heap learns of it when the old key comes
 * up, so the hot path pays no heap work. A deadline that moves earlier
 * is sifted up at once. */
struct _FcWaiter {
  int epoll_fd;
  FcWaiterFunc func;
  gpointer user_data;
  FcWaited **heap;              /* (owned) (array length=n_heap): the waited, unowned */
  guint n_heap;
  guint heap_size;
};

static void
heap_place (FcWaiter *waiter,
            FcWaited *waited,
            guint     slot)
{
  waiter->heap[slot] = waited;
  waited->index = slot + 1;
}

static void
heap_sift_up (FcWaiter *waiter,
              guint     slot)
{
  FcWaited *waited = waiter->heap[slot];

  while (slot > 0)
    {
      guint parent = (slot - 1) / 2;

      if (waiter->heap[parent]->key <= waited->key)
        break;
      heap_place (waiter, waiter->heap[parent], slot);
      slot = parent;
    }
  heap_place (waiter, waited, slot);
}

static void
heap_sift_down (FcWaiter *waiter,
                guint     slot)
{
  FcWaited *waited = waiter->heap[slot];

  for (;;)
    {
      guint child = 2 * slot + 1;

      if (child >= waiter->n_heap)
        break;
      if (child + 1 < waiter->n_heap && waiter->heap[child + 1]->key < waiter->heap[child]->key)
        child++;
      if (waited->key <= waiter->heap[child]->key)
        break;
      heap_place (waiter, waiter->heap[child], slot);
      slot = child;
    }
  heap_place (waiter, waited, slot);
}

static void
heap_remove (FcWaiter *waiter,
             FcWaited *waited)
{
  guint slot = waited->index - 1;
  FcWaited *last = waiter->heap[--waiter->n_heap];

  waited->index = 0;
  if (last == waited)
    return;
  heap_place (waiter, last, slot);
  if (slot > 0 && waiter->heap[(slot - 1) / 2]->key > last->key)
    heap_sift_up (waiter, slot);
  else
    heap_sift_down (waiter, slot);
}

/**
 * fc_waiter_new:
 * @func: told of every connection that can go on, timed out, or is
 *   dropped because the waiter is freed
 * @user_data: for @func
 * @error: a #GIOError when the kernel refuses an epoll set
 *
 * Returns: (transfer full): an empty waiter, to be used by one thread only
 */
FcWaiter *
fc_waiter_new (FcWaiterFunc   func,
               gpointer       user_data,
               GError       **error)
{
  int fd = epoll_create1 (EPOLL_CLOEXEC);
  FcWaiter *waiter;

  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an epoll set: %s"), g_strerror (saved_errno));
      return NULL;
    }

  waiter = g_new0 (FcWaiter, 1);
  waiter->epoll_fd = fd;
  waiter->func = func;
  waiter->user_data = user_data;
  return waiter;
}

/**
 * fc_waiter_enter:
 * @waiter: a waiter
 * @waited: (transfer none): a connection not yet in any waiter, its fd
 *   and deadline set; it must stay valid until it leaves
 * @error: a #GIOError when the kernel refuses the descriptor
 *
 * Watches @waited until fc_waiter_leave(), its deadline, or the waiter's
 * end. Readiness is edge-triggered (EPOLLET, for reading and writing at
 * once): the owner must have read or written until the kernel said
 * EAGAIN, or read less than it asked for, before it waits again, and is
 * told only of what changes after that.
 */
gboolean
fc_waiter_enter (FcWaiter  *waiter,
                 FcWaited  *waited,
                 GError   **error)
{
  struct epoll_event event = {
    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
    .data.ptr = waited,
  };

  g_return_val_if_fail (waited->index == 0, FALSE);

  if (epoll_ctl (waiter->epoll_fd, EPOLL_CTL_ADD, waited->fd, &event) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot watch a connection: %s"), g_strerror (saved_errno));
      return FALSE;
    }

  if (waiter->n_heap == waiter->heap_size)
    {
      waiter->heap_size = MAX (64, waiter->heap_size * 2);
      waiter->heap = g_renew (FcWaited *, waiter->heap, waiter->heap_size);
    }
  waited->key = waited->deadline;
  waiter->heap[waiter->n_heap++] = waited;
  heap_sift_up (waiter, waiter->n_heap - 1);
  return TRUE;
}

/**
 * fc_waiter_enter_shared:
 * @waiter: a waiter
 * @waited: (transfer none): a descriptor that other waiters may watch
 *   too (a listening socket), its fd set; it must stay valid until it
 *   leaves with fc_waiter_leave_shared() or the waiter is freed
 * @error: a #GIOError when the kernel refuses the descriptor
 *
 * Watches @waited for input, level-triggered and with EPOLLEXCLUSIVE:
 * of the waiters asleep on it, the kernel wakes one (or a few) per
 * event, not all. It has no deadline, is not counted by
 * fc_waiter_count() and is not told FC_WAIT_CLOSING. Any thread (the
 * epoll set is the kernel's), as long as the owner's callback cannot see
 * @waited freed meanwhile.
 */
gboolean
fc_waiter_enter_shared (FcWaiter  *waiter,
                        FcWaited  *waited,
                        GError   **error)
{
  struct epoll_event event = {
    .events = EPOLLIN | EPOLLEXCLUSIVE,
    .data.ptr = waited,
  };

  waited->shared = TRUE;
  if (epoll_ctl (waiter->epoll_fd, EPOLL_CTL_ADD, waited->fd, &event) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot watch a listening socket: %s"), g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/**
 * fc_waiter_leave_shared:
 * @waiter: the waiter @waited was entered in by fc_waiter_enter_shared()
 * @waited: that descriptor, still open
 *
 * Stops watching @waited: no event for it is read from the kernel after
 * this returns (one read before may still be told). Any thread.
 */
void
fc_waiter_leave_shared (FcWaiter *waiter,
                        FcWaited *waited)
{
  epoll_ctl (waiter->epoll_fd, EPOLL_CTL_DEL, waited->fd, NULL);
}

/**
 * fc_waiter_set_deadline:
 * @waiter: the waiter @waited is in
 * @waited: a connection in @waiter
 * @deadline: monotonic µs after which it times out; %G_MAXINT64 for never
 *
 * Costs nothing when the deadline moves later, O(log n) when earlier.
 */
void
fc_waiter_set_deadline (FcWaiter *waiter,
                        FcWaited *waited,
                        gint64    deadline)
{
  waited->deadline = deadline;
  if (waited->index != 0 && deadline < waited->key)
    {
      waited->key = deadline;
      heap_sift_up (waiter, waited->index - 1);
    }
}

/**
 * fc_waiter_leave:
 * @waiter: the waiter @waited is in
 * @waited: a connection in @waiter, or one that already left
 *
 * Stops watching @waited. Call it before closing the descriptor.
 */
void
fc_waiter_leave (FcWaiter *waiter,
                 FcWaited *waited)
{
  if (waited->index == 0)
    return;
  /* A descriptor shared with another process would outlive close() in
   * the epoll set; say so explicitly. */
  epoll_ctl (waiter->epoll_fd, EPOLL_CTL_DEL, waited->fd, NULL);
  heap_remove (waiter, waited);
}

static int
wait_ms (FcWaiter *waiter,
         int       max_ms)
{
  gint64 left;

  if (waiter->n_heap == 0 || waiter->heap[0]->key == G_MAXINT64)
    return max_ms;
  left = waiter->heap[0]->key - g_get_monotonic_time ();
  if (left <= 0)
    return 0;
  left = MIN ((left + 999) / 1000, G_MAXINT);
  return max_ms >= 0 ? (int) MIN (left, max_ms) : (int) left;
}

/* Deadlines that moved later are put back in place; the others fire. */
static void
expire (FcWaiter *waiter)
{
  gint64 now = g_get_monotonic_time ();

  while (waiter->n_heap > 0 && waiter->heap[0]->key <= now)
    {
      FcWaited *waited = waiter->heap[0];

      if (waited->deadline > now)
        {
          waited->key = waited->deadline;
          heap_sift_down (waiter, 0);
          continue;
        }
      fc_waiter_leave (waiter, waited);
      waiter->func (waited, FC_WAIT_TIMEOUT, waiter->user_data);
    }
}

/**
 * fc_waiter_dispatch:
 * @waiter: a waiter
 * @max_ms: the longest to sleep, in milliseconds; -1 for as long as the
 *   deadlines allow, 0 to take only what is ready now (an owner with work
 *   of its own queued polls so)
 *
 * Sleeps until a watched connection is ready or its deadline comes, then
 * tells the owner of each: FC_WAIT_READY for those ready (in the order
 * the kernel gives), then FC_WAIT_TIMEOUT for those whose deadline has
 * passed. A callback may enter, leave or re-time any connection.
 */
void
fc_waiter_dispatch (FcWaiter *waiter,
                    int       max_ms)
{
  struct epoll_event events[BATCH];
  int n = epoll_wait (waiter->epoll_fd, events, BATCH, wait_ms (waiter, max_ms));

  for (int i = 0; i < n; i++)
    {
      FcWaited *waited = events[i].data.ptr;

      /* Data and the peer's FIN that arrive together make one edge: a
       * reader that stops at a short read would never hear of the FIN. */
      if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        waited->peer_closed = TRUE;
      waiter->func (waited, FC_WAIT_READY, waiter->user_data);
    }
  if (n < 0 && errno != EINTR)
    g_warning ("epoll_wait: %s", g_strerror (errno));
  expire (waiter);
}

/**
 * fc_waiter_count:
 * @waiter: a waiter
 *
 * Returns: how many connections are in @waiter
 */
guint
fc_waiter_count (FcWaiter *waiter)
{
  return waiter->n_heap;
}

/**
 * fc_waiter_foreach:
 * @waiter: a waiter
 * @func: called with each #FcWaited in @waiter, in no order; it must not
 *   enter, leave or re-time any (collect them, then act)
 * @user_data: for @func
 *
 * For the rare event that concerns every connection (a stop); O(n).
 */
void
fc_waiter_foreach (FcWaiter *waiter,
                   GFunc     func,
                   gpointer  user_data)
{
  for (guint i = 0; i < waiter->n_heap; i++)
    func (waiter->heap[i], user_data);
}

/**
 * fc_waiter_free:
 * @waiter: a waiter
 *
 * Tells the owner of every connection still in @waiter (FC_WAIT_CLOSING),
 * then frees it.
 */
void
fc_waiter_free (FcWaiter *waiter)
{
  while (waiter->n_heap > 0)
    {
      FcWaited *waited = waiter->heap[waiter->n_heap - 1];

      fc_waiter_leave (waiter, waited);
      waiter->func (waited, FC_WAIT_CLOSING, waiter->user_data);
    }
  close (waiter->epoll_fd);
  g_free (waiter->heap);
  g_free (waiter);
}
