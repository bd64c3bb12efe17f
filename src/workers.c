#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "connection.h"
#include "waiter.h"
#include "workers.h"

/* memcached's shape: the acceptor hands each connection to one worker
 * through a queue and an eventfd; from then on that worker alone serves
 * it, from its own epoll set, so a request in steady state costs no
 * context switch and no lock but the cache's. */
typedef struct {
  FcWorkers *workers;           /* (unowned) */
  GThread *thread;              /* (owned) (nullable) */
  FcWaiter *waiter;             /* (owned): this thread's alone */
  FcWaited wake;                /* the eventfd: new connections, or stop */
  FcConnScratch scratch;

  GMutex lock;
  GQueue inbox;                 /* (element-type GSocketConnection) (owned): guarded by lock */
  gboolean stopping;            /* guarded by lock */
} Worker;

struct _FcWorkers {
  FcServeContext *context;      /* (unowned) */
  Worker *threads;              /* (owned) (array length=n_threads) */
  guint n_threads;
  guint next;                   /* round-robin: the acceptor's thread only */
};

static void
worker_close (Worker *worker,
              FcConn *conn)
{
  fc_waiter_leave (worker->waiter, fc_conn_waited (conn));
  fc_conn_free (conn);
}

static void
worker_run_conn (Worker *worker,
                 FcConn *conn)
{
  if (!fc_conn_run (conn, worker->waiter, &worker->scratch))
    worker_close (worker, conn);
}

/* Takes in the connections the acceptor queued; returns FALSE once the
 * worker is to stop. */
static gboolean
worker_take_inbox (Worker *worker)
{
  GQueue inbox = G_QUEUE_INIT;
  guint64 count;
  gboolean stopping;
  GSocketConnection *connection;

  if (read (worker->wake.fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_warning (_("Cannot read a worker’s event descriptor: %s"), g_strerror (errno));

  g_mutex_lock (&worker->lock);
  inbox = worker->inbox;
  g_queue_init (&worker->inbox);
  stopping = worker->stopping;
  g_mutex_unlock (&worker->lock);

  while ((connection = g_queue_pop_head (&inbox)) != NULL)
    {
      FcConn *conn = fc_conn_new (worker->workers->context, connection);
      g_autoptr(GError) error = NULL;

      g_object_unref (connection);
      if (stopping || !fc_waiter_enter (worker->waiter, fc_conn_waited (conn), &error))
        {
          if (error != NULL)
            g_warning ("%s", error->message);
          fc_conn_free (conn);
          continue;
        }
      /* The request is usually there already: read first, wait after. */
      worker_run_conn (worker, conn);
    }
  return !stopping;
}

static void
on_wait_event (FcWaited    *waited,
               FcWaitEvent  event,
               gpointer     user_data)
{
  Worker *worker = user_data;
  FcConn *conn;

  if (waited == &worker->wake)
    {
      if (event == FC_WAIT_READY && !worker_take_inbox (worker))
        fc_waiter_leave (worker->waiter, &worker->wake);
      return;
    }

  conn = fc_conn_from_waited (waited);
  switch (event)
    {
    case FC_WAIT_READY:
      worker_run_conn (worker, conn);
      break;
    case FC_WAIT_TIMEOUT:
      fc_conn_timed_out (conn);
      fc_conn_free (conn);
      break;
    case FC_WAIT_CLOSING:
      fc_conn_free (conn);
      break;
    }
}

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;

  /* The wake descriptor leaves the waiter when stopping is seen. */
  while (worker->wake.index != 0)
    fc_waiter_dispatch (worker->waiter);

  /* Every connection still open is closed, mid-reply or not. */
  g_clear_pointer (&worker->waiter, fc_waiter_free);
  return NULL;
}

static gboolean
worker_init (Worker     *worker,
             FcWorkers  *workers,
             guint       number,
             GError    **error)
{
  g_autofree char *name = g_strdup_printf ("fc-worker-%u", number);

  worker->workers = workers;
  g_mutex_init (&worker->lock);
  g_queue_init (&worker->inbox);
  fc_conn_scratch_init (&worker->scratch);
  worker->wake.fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  worker->wake.deadline = G_MAXINT64;
  if (worker->wake.fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an event descriptor: %s"), g_strerror (saved_errno));
      return FALSE;
    }

  worker->waiter = fc_waiter_new (on_wait_event, worker, error);
  if (worker->waiter == NULL || !fc_waiter_enter (worker->waiter, &worker->wake, error))
    return FALSE;

  worker->thread = g_thread_try_new (name, worker_main, worker, error);
  if (worker->thread == NULL)
    {
      g_prefix_error (error, _("Cannot start worker thread %u: "), number + 1);
      return FALSE;
    }
  return TRUE;
}

/**
 * fc_workers_new:
 * @context: (transfer none): the serving context; must outlive the workers
 * @n_threads: how many worker threads, at least 1
 * @error: a #GThreadError or #GIOError when a thread, an epoll set or an
 *   eventfd cannot be made: all are made here, at start, so that a limit
 *   on threads (RLIMIT_NPROC, a pids cgroup, TasksMax=) is a clear
 *   start-up error and never a crash under load
 *
 * Returns: (transfer full): running workers, or %NULL
 */
FcWorkers *
fc_workers_new (FcServeContext  *context,
                guint            n_threads,
                GError         **error)
{
  g_autoptr(FcWorkers) workers = g_new0 (FcWorkers, 1);

  g_return_val_if_fail (n_threads > 0, NULL);

  workers->context = context;
  workers->threads = g_new0 (Worker, n_threads);
  for (guint i = 0; i < n_threads; i++)
    {
      workers->threads[i].wake.fd = -1;
      workers->n_threads = i + 1;
      if (!worker_init (&workers->threads[i], workers, i, error))
        return NULL;
    }
  return g_steal_pointer (&workers);
}

/**
 * fc_workers_adopt:
 * @workers: running workers
 * @connection: (transfer none): an accepted connection, already counted in
 *   the context's clients
 *
 * Hands @connection to the next worker, round-robin. Called from the
 * acceptor's thread only. The worker's eventfd is written only when its
 * queue was empty, so a burst of connections costs one wake-up.
 */
void
fc_workers_adopt (FcWorkers         *workers,
                  GSocketConnection *connection)
{
  static const guint64 one = 1;
  Worker *worker = &workers->threads[workers->next];
  gboolean was_empty;

  workers->next = (workers->next + 1) % workers->n_threads;

  g_mutex_lock (&worker->lock);
  was_empty = g_queue_is_empty (&worker->inbox);
  g_queue_push_tail (&worker->inbox, g_object_ref (connection));
  g_mutex_unlock (&worker->lock);

  if (was_empty && write (worker->wake.fd, &one, sizeof one) != sizeof one)
    g_warning (_("Cannot wake a worker thread: %s"), g_strerror (errno));
}

/**
 * fc_workers_free:
 * @workers: workers
 *
 * Stops every worker: each closes all its connections (replies in flight
 * are cut) and its thread is joined before this returns.
 */
void
fc_workers_free (FcWorkers *workers)
{
  static const guint64 one = 1;

  for (guint i = 0; i < workers->n_threads; i++)
    {
      Worker *worker = &workers->threads[i];

      g_mutex_lock (&worker->lock);
      worker->stopping = TRUE;
      g_mutex_unlock (&worker->lock);
      if (worker->thread != NULL && write (worker->wake.fd, &one, sizeof one) != sizeof one)
        g_warning (_("Cannot wake a worker thread: %s"), g_strerror (errno));
    }

  for (guint i = 0; i < workers->n_threads; i++)
    {
      Worker *worker = &workers->threads[i];

      if (worker->thread != NULL)
        g_thread_join (worker->thread);
      g_clear_pointer (&worker->waiter, fc_waiter_free);
      while (!g_queue_is_empty (&worker->inbox))
        {
          g_object_unref (g_queue_pop_head (&worker->inbox));
          atomic_fetch_sub (&workers->context->clients, 1);
        }
      fc_conn_scratch_clear (&worker->scratch);
      if (worker->wake.fd >= 0)
        close (worker->wake.fd);
      g_mutex_clear (&worker->lock);
    }
  g_free (workers->threads);
  g_free (workers);
}
