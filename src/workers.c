#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "acceptor.h"
#include "connection.h"
#include "thread-sched.h"
#include "waiter.h"
#include "workers.h"

/* Where flights hand a worker's parked connections back. Shared by the
 * worker and by each flight one of its connections joined (through a
 * Ticket), since a flight may land after the worker has ended. */
typedef struct {
  gatomicrefcount refs;
  GMutex lock;
  GQueue landed;                /* (element-type FcConn) (unowned): guarded by lock */
  int wake_fd;                  /* (unowned): the worker's eventfd; -1 once it has ended: guarded by lock */
} Mailbox;

/* One parked connection's place in a flight, held by the flight until it
 * calls back (or the connection leaves it), and by the worker while the
 * connection is parked: a connection that closes while parked cancels
 * its ticket, which the flight may still hold. */
typedef struct {
  gatomicrefcount refs;
  Mailbox *mailbox;             /* (owned) */
  FcConn *conn;                 /* (unowned) (nullable): only its worker touches it, and only while
                                 * the mailbox is open; NULL once it closed: guarded by mailbox->lock */
} Ticket;

/* Each worker accepts for itself: every listening socket is in every
 * worker's epoll set (EPOLLEXCLUSIVE, so a connection wakes one worker,
 * not all), and the worker that takes a connection serves it from then
 * on, from that same set, reading its request at once (it has usually
 * arrived with the handshake's last ACK). A connection costs no thread
 * hand-off, eventfd, wake-up or context switch on its way in (nginx's
 * shape; an acceptor thread handing connections over, memcached's, cost
 * 14 µs of 42 per one-request connection, bench/compare http-newconn),
 * and a request in steady state no lock but the cache's.
 *
 * A bulk sender is the same loop, at the workers' priority: a worker
 * hands it a connection whose large reply is under way (FC_CONN_BULK,
 * %FC_BULK_BODY_MIN), through the same kind of queue and eventfd, and it
 * sends the rest, then hands the connection back to that worker, its
 * home (FC_CONN_HOME), which reads and answers what comes next. One
 * thread owns a connection at a time, so replies stay in order; a home
 * counts its connections away and does not end before they are back or
 * closed, so a drain or a retirement waits for them. */
typedef struct _Worker Worker;

/* A worker's watch on one listening socket. */
typedef struct {
  FcWaited waited;              /* first: the waiter's events point here; shared */
  FcListener *listener;         /* (owned) */
  guint backoff_ms;             /* 0 while accepting: fc_listener_accept() */
  gint64 retry;                 /* monotonic µs: when a back-off ends */
  gboolean watched;             /* in the worker's epoll set */
} Listening;

/* A connection on its way to a bulk sender, and the worker it goes back
 * to. */
typedef struct {
  FcConn *conn;                 /* (owned) */
  Worker *home;                 /* (unowned): outlives the connection's stay away */
} Move;

struct _Worker {
  FcWorkers *workers;           /* (unowned) */
  gboolean bulk;                /* a bulk sender; fixed before its thread starts */
  GThread *thread;              /* (owned) (nullable) */
  FcWaiter *waiter;             /* (owned): this thread's alone */
  FcWaited wake;                /* the eventfd: new connections, landed flights, or stop */
  FcConnScratch scratch;
  Mailbox *mailbox;             /* (owned) */
  /* Connections to run again without waiting for the kernel (edge-
   * triggered epoll will not repeat what it said): those whose turn's
   * budget ran out, and those whose flight landed. All are still in the
   * waiter, which owns them. This thread's alone. */
  GQueue ready;                 /* (element-type FcConn) (unowned) */
  /* Parked connections whose flight has not handed them back: those
   * whose peer leaves meanwhile are closed at once. This thread's alone. */
  GHashTable *parked;           /* (element-type FcConn Ticket) (owned): keys unowned, one ref each value */
  /* A bulk sender's: the home of each connection it holds. This
   * thread's alone. */
  GHashTable *homes;            /* (element-type FcConn Worker) (owned) (nullable): both unowned */
  guint next_sender;            /* a worker's: where its next look for the least busy sender starts */
  atomic_uint carrying;         /* a sender's: connections handed to it, not yet gone */

  gint64 listen_retry;          /* this thread's alone: the first back-off's end; G_MAXINT64: none */
  atomic_bool held_back;        /* over its share of connections: not accepting for now
                                 * (worker_balance()); set under lock */

  GMutex lock;
  /* The listening sockets: accept() and every change to their watch
   * happen under lock while accepting, so that once the main thread has
   * set it FALSE (and left the sets itself), no worker touches a socket
   * it may close next. */
  GPtrArray *listening;         /* (element-type Listening) (owned): guarded by lock */
  gboolean accepting;           /* guarded by lock */
  GQueue moved;                 /* (owned): guarded by lock: a worker's connections back
                                 * from a sender (element-type FcConn); a sender's,
                                 * handed to it (element-type Move) */
  guint away;                   /* guarded by lock: a worker's connections on a sender or
                                 * on their way back (in moved): it ends only once none is */
  gboolean stopping;            /* guarded by lock */
  gboolean retiring;            /* guarded by lock: no new connections; ends with its last */
  gboolean draining;            /* guarded by lock: retiring, and each connection ends after
                                 * what it has received (fc_conn_drain()) */
  gboolean drain_seen;          /* this thread's alone: draining, as last read */
  gboolean drained;             /* this thread's alone: its connections were told */
  atomic_bool finished;         /* its thread is about to return: join it */
};

/* The workers that take new connections, and those retired by a reload
 * that lowered --threads, each serving its connections to their end. All
 * but the Workers' own fields belong to the main thread. */
struct _FcWorkers {
  FcServeContext *context;      /* (unowned) */
  GPtrArray *active;            /* (element-type Worker) (owned) */
  atomic_uint n_active;         /* active->len, for the workers' threads */
  atomic_uint n_held_back;      /* workers not accepting for now, fewer than n_active */
  GMutex balance_lock;
  GPtrArray *held_back;         /* (element-type Worker) (unowned): those workers, each
                                 * there until it accepts again or stops; guarded by
                                 * balance_lock */
  GPtrArray *retired;           /* (element-type Worker) (owned) */
  GPtrArray *senders;           /* (element-type Worker) (owned): the bulk senders, fixed at
                                 * start; read by every worker */
  guint started;                /* workers ever started, to name them */
  GPtrArray *listeners;         /* (element-type FcListener) (owned): each new worker watches these */
  gboolean accepting;           /* FALSE from fc_workers_stop_accepting() on */
  FcWorkersRefuse refuse;
  gpointer refuse_data;
  int ended_fd;                 /* (owned): eventfd, written by each worker as it ends */
  guint ended_watch;            /* its source in the main context */
  gboolean draining;            /* a stop under way: no worker starts or retires */
  FcWorkersDrained drained;     /* (nullable): called once all have ended, after a drain */
  gpointer drained_data;
};

static void
wake_fd_write (int fd)
{
  static const guint64 one = 1;

  if (write (fd, &one, sizeof one) != sizeof one)
    g_warning (_("Cannot wake a worker thread: %s"), g_strerror (errno));
}

static Mailbox *
mailbox_new (int wake_fd)
{
  Mailbox *mailbox = g_new0 (Mailbox, 1);

  g_atomic_ref_count_init (&mailbox->refs);
  g_mutex_init (&mailbox->lock);
  g_queue_init (&mailbox->landed);
  mailbox->wake_fd = wake_fd;
  return mailbox;
}

static Mailbox *
mailbox_ref (Mailbox *mailbox)
{
  g_atomic_ref_count_inc (&mailbox->refs);
  return mailbox;
}

static void
mailbox_unref (Mailbox *mailbox)
{
  if (!g_atomic_ref_count_dec (&mailbox->refs))
    return;
  g_queue_clear (&mailbox->landed);
  g_mutex_clear (&mailbox->lock);
  g_free (mailbox);
}

/* The worker has ended, or is ending: flights that land from now on
 * touch neither its connections nor its eventfd. */
static void
mailbox_close (Mailbox *mailbox)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&mailbox->lock);

  mailbox->wake_fd = -1;
  g_queue_clear (&mailbox->landed);
}

static Ticket *
ticket_ref (Ticket *ticket)
{
  g_atomic_ref_count_inc (&ticket->refs);
  return ticket;
}

static void
ticket_unref (Ticket *ticket)
{
  if (!g_atomic_ref_count_dec (&ticket->refs))
    return;
  mailbox_unref (ticket->mailbox);
  g_free (ticket);
}

/* In the landing thread: hands the parked connection back to its worker,
 * which runs its request again, unless it has closed meanwhile. The
 * eventfd is written only when the queue was empty, as for new
 * connections. */
static void
on_flight_landed (FcFlight *flight G_GNUC_UNUSED,
                  gpointer  user_data)
{
  Ticket *ticket = user_data;
  Mailbox *mailbox = ticket->mailbox;

  g_mutex_lock (&mailbox->lock);
  if (mailbox->wake_fd >= 0 && ticket->conn != NULL)
    {
      gboolean was_empty = g_queue_is_empty (&mailbox->landed);

      g_queue_push_tail (&mailbox->landed, ticket->conn);
      if (was_empty)
        wake_fd_write (mailbox->wake_fd);
    }
  g_mutex_unlock (&mailbox->lock);
  ticket_unref (ticket);
}

/* In a bulk sender: it lets go of @conn (closed, or going home), and
 * returns the worker @conn came from. */
static Worker *
sender_forget (Worker *sender,
               FcConn *conn)
{
  Worker *home = g_hash_table_lookup (sender->homes, conn);

  g_hash_table_remove (sender->homes, conn);
  atomic_fetch_sub (&sender->carrying, 1);
  return home;
}

/* In a bulk sender: @conn goes back to @home, which runs it next; or,
 * when %NULL, one of @home's connections has closed. The eventfd is
 * written under the lock: once nothing of it is away, a retiring home
 * may end and be freed, so nothing of it is touched after. */
static void
home_take_back (Worker *home,
                FcConn *conn)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&home->lock);

  if (conn != NULL)
    {
      g_queue_push_tail (&home->moved, conn);
      if (home->moved.length == 1)
        wake_fd_write (home->wake.fd);
    }
  else if (--home->away == 0 && home->retiring)
    wake_fd_write (home->wake.fd);
}

/* Closes @conn, out of the waiter already; a sender tells its home. */
static void
worker_free_conn (Worker *worker,
                  FcConn *conn)
{
  fc_conn_free (conn);
  if (worker->bulk)
    home_take_back (sender_forget (worker, conn), NULL);
}

static void
worker_close (Worker *worker,
              FcConn *conn)
{
  fc_waiter_leave (worker->waiter, fc_conn_waited (conn));
  worker_free_conn (worker, conn);
}

static void
worker_wake (Worker *worker)
{
  wake_fd_write (worker->wake.fd);
}

/* In a worker: @conn's large reply goes on from the least busy bulk
 * sender, which runs it next. Ties go round, so two fast readers of one
 * worker go to two senders. */
static void
worker_send_bulk (Worker *worker,
                  FcConn *conn)
{
  GPtrArray *senders = worker->workers->senders;
  Worker *sender = NULL;
  guint least = G_MAXUINT;
  Move *move = g_new (Move, 1);
  gboolean was_empty;

  for (guint i = 0; i < senders->len; i++)
    {
      Worker *candidate = g_ptr_array_index (senders, (worker->next_sender + i) % senders->len);
      guint carrying = atomic_load (&candidate->carrying);

      if (carrying < least)
        {
          sender = candidate;
          least = carrying;
        }
    }
  worker->next_sender = (worker->next_sender + 1) % senders->len;

  fc_waiter_leave (worker->waiter, fc_conn_waited (conn));
  g_mutex_lock (&worker->lock);
  worker->away++;
  g_mutex_unlock (&worker->lock);

  *move = (Move) { .conn = conn, .home = worker };
  atomic_fetch_add (&sender->carrying, 1);
  g_mutex_lock (&sender->lock);
  was_empty = g_queue_is_empty (&sender->moved);
  g_queue_push_tail (&sender->moved, move);
  g_mutex_unlock (&sender->lock);
  if (was_empty)
    worker_wake (sender);
}

/* In a bulk sender: @conn's large reply is sent; its home reads on. */
static void
sender_send_home (Worker *sender,
                  FcConn *conn)
{
  fc_waiter_leave (sender->waiter, fc_conn_waited (conn));
  home_take_back (sender_forget (sender, conn), conn);
}

/* A parked connection's peer has gone: it leaves its flight (which gives
 * up once nobody else waits for it) and closes now, so that its slot
 * among --max-clients and its descriptor are not held until the work
 * ends. A flight that lands meanwhile finds its ticket cancelled. */
static void
worker_close_parked (Worker *worker,
                     FcConn *conn)
{
  Ticket *ticket = g_hash_table_lookup (worker->parked, conn);
  Mailbox *mailbox = worker->mailbox;

  if (fc_flight_leave (fc_conn_parked_on (conn), on_flight_landed, ticket))
    ticket_unref (ticket);
  g_mutex_lock (&mailbox->lock);
  ticket->conn = NULL;
  g_queue_remove (&mailbox->landed, conn);
  g_mutex_unlock (&mailbox->lock);
  g_hash_table_remove (worker->parked, conn);
  worker_close (worker, conn);
}

/* A connection waits for long work: it stays in the waiter, where only
 * its peer's leaving is heeded, and its worker serves others until the
 * flight lands. */
static void
worker_park (Worker *worker,
             FcConn *conn)
{
  Ticket *ticket = g_new (Ticket, 1);

  g_atomic_ref_count_init (&ticket->refs);
  ticket->mailbox = mailbox_ref (worker->mailbox);
  ticket->conn = conn;
  /* The worker's reference first: the flight may land, and drop its own,
   * as soon as it is joined. */
  g_hash_table_insert (worker->parked, conn, ticket);
  if (!fc_flight_join (fc_conn_parked_on (conn), on_flight_landed, ticket_ref (ticket)))
    {
      /* Landed already: its result is there to take. */
      ticket_unref (ticket);
      g_hash_table_remove (worker->parked, conn);
      g_queue_push_tail (&worker->ready, conn);
      return;
    }
  /* A FIN that came with the request made no edge of its own. */
  if (fc_conn_peer_gone (conn))
    worker_close_parked (worker, conn);
}

static void
worker_run_conn (Worker *worker,
                 FcConn *conn)
{
  switch (fc_conn_run (conn, worker->waiter, &worker->scratch))
    {
    case FC_CONN_CLOSE:
      worker_close (worker, conn);
      break;
    case FC_CONN_WAIT:
      break;
    case FC_CONN_YIELD:
      g_queue_push_tail (&worker->ready, conn);
      break;
    case FC_CONN_PARK:
      worker_park (worker, conn);
      break;
    case FC_CONN_BULK:
      worker_send_bulk (worker, conn);
      break;
    case FC_CONN_HOME:
      sender_send_home (worker, conn);
      break;
    }
}

/* Runs each connection ready now once; those that yield again go to the
 * back, for the next round, after the waiter has been polled. */
static void
worker_run_ready (Worker *worker)
{
  for (guint n = worker->ready.length; n > 0; n--)
    worker_run_conn (worker, g_queue_pop_head (&worker->ready));
}

/* Takes in the connections whose flight landed: parked no more. */
static void
worker_take_landed (Worker *worker)
{
  GQueue landed;
  FcConn *conn;

  g_mutex_lock (&worker->mailbox->lock);
  landed = worker->mailbox->landed;
  g_queue_init (&worker->mailbox->landed);
  g_mutex_unlock (&worker->mailbox->lock);

  while ((conn = g_queue_pop_head (&landed)) != NULL)
    {
      g_hash_table_remove (worker->parked, conn);
      g_queue_push_tail (&worker->ready, conn);
    }
}

static void
collect_conn (gpointer data,
              gpointer user_data)
{
  Worker *worker = ((gpointer *) user_data)[0];
  GPtrArray *conns = ((gpointer *) user_data)[1];

  if (data != &worker->wake)
    g_ptr_array_add (conns, data);
}

/* Tells each connection the daemon stops; those with nothing left to
 * answer are closed or half-closed now. */
static void
worker_drain_conns (Worker *worker)
{
  g_autoptr(GPtrArray) conns = g_ptr_array_new ();
  gpointer both[] = { worker, conns };

  worker->drained = TRUE;
  fc_waiter_foreach (worker->waiter, collect_conn, both);
  for (guint i = 0; i < conns->len; i++)
    {
      FcConn *conn = fc_conn_from_waited (g_ptr_array_index (conns, i));

      fc_conn_drain (conn);
      /* A yielded or parked one runs from the ready list, draining. */
      if (!fc_conn_held (conn))
        worker_run_conn (worker, conn);
    }
}

/* Enters @conn, handed over from another thread, in @worker's waiter,
 * and runs it; or closes it when @worker stops or the kernel refuses. */
static void
worker_enter_moved (Worker   *worker,
                    FcConn   *conn,
                    gboolean  stopping)
{
  g_autoptr(GError) error = NULL;

  if (stopping || !fc_waiter_enter (worker->waiter, fc_conn_waited (conn), &error))
    {
      if (error != NULL)
        g_warning ("%s", error->message);
      worker_free_conn (worker, conn);
      return;
    }
  /* Back home after a stop began: it answers what it has received. */
  if (worker->drain_seen)
    fc_conn_drain (conn);
  worker_run_conn (worker, conn);
}

/* Takes in the connections the workers or the bulk senders handed over
 * (@moved, taken under the lock). */
static void
worker_take_moved (Worker   *worker,
                   GQueue   *moved,
                   gboolean  stopping)
{
  gpointer item;

  while ((item = g_queue_pop_head (moved)) != NULL)
    {
      FcConn *conn = item;

      if (worker->bulk)
        {
          Move *move = item;

          conn = move->conn;
          g_hash_table_insert (worker->homes, conn, move->home);
          g_free (move);
        }
      worker_enter_moved (worker, conn, stopping);
    }
}

/* Takes in the connections a worker or a bulk sender handed over, and
 * the flights landed; returns FALSE once the worker is to stop. */
static gboolean
worker_take_inbox (Worker *worker)
{
  GQueue moved = G_QUEUE_INIT;
  guint64 count;
  gboolean stopping;

  if (read (worker->wake.fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_warning (_("Cannot read a worker’s event descriptor: %s"), g_strerror (errno));
  worker_take_landed (worker);

  g_mutex_lock (&worker->lock);
  moved = worker->moved;
  g_queue_init (&worker->moved);
  if (!worker->bulk)
    worker->away -= moved.length;
  stopping = worker->stopping;
  worker->drain_seen = worker->draining;
  g_mutex_unlock (&worker->lock);

  worker_take_moved (worker, &moved, stopping);
  return !stopping;
}

/* Watches @listening again, unless accepting has stopped. Under lock. */
static void
worker_watch (Worker    *worker,
              Listening *listening)
{
  g_autoptr(GError) error = NULL;

  if (!worker->accepting || atomic_load (&worker->held_back) || listening->watched)
    return;
  if (fc_waiter_enter_shared (worker->waiter, &listening->waited, &error))
    listening->watched = TRUE;
  else
    g_warning ("%s", error->message);
}

/* Stops watching @listening, for now or for good. Under lock. */
static void
worker_unwatch (Worker    *worker,
                Listening *listening)
{
  if (listening->watched)
    fc_waiter_leave_shared (worker->waiter, &listening->waited);
  listening->watched = FALSE;
}

/* Watches @listener from now on. Under lock; any thread. */
static void
worker_add_listener (Worker     *worker,
                     FcListener *listener)
{
  Listening *listening = g_new0 (Listening, 1);

  listening->waited.fd = fc_listener_get_fd (listener);
  listening->waited.deadline = G_MAXINT64;
  listening->listener = fc_listener_ref (listener);
  g_ptr_array_add (worker->listening, listening);
  worker_watch (worker, listening);
}

static void
listening_free (gpointer data)
{
  Listening *listening = data;

  fc_listener_unref (listening->listener);
  g_free (listening);
}

/* @worker, which was held back, is not any more. */
static void
held_back_remove (Worker *worker)
{
  FcWorkers *workers = worker->workers;

  g_mutex_lock (&workers->balance_lock);
  g_ptr_array_remove_fast (workers->held_back, worker);
  atomic_fetch_sub (&workers->n_held_back, 1);
  g_mutex_unlock (&workers->balance_lock);
}

/* No more accept() on any listening socket. Under lock; any thread. */
static void
worker_stop_accepting (Worker *worker)
{
  worker->accepting = FALSE;
  if (atomic_exchange (&worker->held_back, FALSE))
    held_back_remove (worker);
  for (guint i = 0; i < worker->listening->len; i++)
    worker_unwatch (worker, g_ptr_array_index (worker->listening, i));
}

/* nginx's ngx_accept_disabled: a connection wakes whichever worker
 * sleeps first on the listening sockets, so connections opened in a
 * burst can gather on one worker while another idles. A worker serving
 * well over its share of the connections open (over share + 8 + 1/8)
 * leaves the listening sockets to the others until it is back under it.
 * One worker at least always accepts: one over its share that may not
 * stop wakes those that did, to look at their share again (their own
 * connections may all be idle). */
static void
worker_balance (Worker *worker)
{
  FcWorkers *workers = worker->workers;
  guint n_active = atomic_load_explicit (&workers->n_active, memory_order_relaxed);
  guint share = atomic_load_explicit (&workers->context->clients, memory_order_relaxed) /
                MAX (n_active, 1);
  /* The wake descriptor is in the count too. */
  gboolean over = n_active > 1 && fc_waiter_count (worker->waiter) > 1 + share + 8 + share / 8;
  gint64 now;

  if (over == atomic_load_explicit (&worker->held_back, memory_order_relaxed))
    return;
  if (over)
    {
      guint held = atomic_load (&workers->n_held_back);

      do
        if (held + 1 >= n_active)
          {
            g_mutex_lock (&workers->balance_lock);
            for (guint i = 0; i < workers->held_back->len; i++)
              worker_wake (g_ptr_array_index (workers->held_back, i));
            g_mutex_unlock (&workers->balance_lock);
            return;
          }
      while (!atomic_compare_exchange_weak (&workers->n_held_back, &held, held + 1));
    }
  now = g_get_monotonic_time ();
  g_mutex_lock (&worker->lock);
  /* Retired or stopped meanwhile: it accepts nothing any more anyway. */
  if (!worker->accepting)
    {
      if (over)
        atomic_fetch_sub (&workers->n_held_back, 1);
      g_mutex_unlock (&worker->lock);
      return;
    }
  atomic_store (&worker->held_back, over);
  if (over)
    {
      g_mutex_lock (&workers->balance_lock);
      g_ptr_array_add (workers->held_back, worker);
      g_mutex_unlock (&workers->balance_lock);
    }
  else
    held_back_remove (worker);
  for (guint i = 0; i < worker->listening->len; i++)
    {
      Listening *listening = g_ptr_array_index (worker->listening, i);

      if (over)
        worker_unwatch (worker, listening);
      else if (listening->retry <= now)
        worker_watch (worker, listening);
    }
  g_mutex_unlock (&worker->lock);
}

/* The back-offs that have ended: their sockets are watched again. */
static void
worker_retry_listening (Worker *worker)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&worker->lock);

  worker->listen_retry = G_MAXINT64;
  for (guint i = 0; i < worker->listening->len; i++)
    {
      Listening *listening = g_ptr_array_index (worker->listening, i);

      if (listening->watched || !worker->accepting)
        continue;
      if (listening->retry <= now)
        worker_watch (worker, listening);
      else
        worker->listen_retry = MIN (worker->listen_retry, listening->retry);
    }
}

/* A new connection, taken by this worker: beyond --max-clients it goes
 * to the main thread to be refused, else it is served at once (the
 * request is usually there already: read first, wait after). The count
 * is raised before it is compared, so that workers accepting at once
 * never admit one too many. */
static void
worker_admit (Worker *worker,
              int     fd)
{
  FcServeContext *context = worker->workers->context;
  FcConn *conn;
  g_autoptr(GError) error = NULL;

  if (atomic_fetch_add (&context->clients, 1) >= atomic_load (&context->max_clients))
    {
      atomic_fetch_sub (&context->clients, 1);
      worker->workers->refuse (fd, worker->workers->refuse_data);
      return;
    }
  atomic_fetch_add (&context->clients_total, 1);

  conn = fc_conn_new (context, fd);
  if (!fc_waiter_enter (worker->waiter, fc_conn_waited (conn), &error))
    {
      g_warning ("%s", error->message);
      fc_conn_free (conn);
      return;
    }
  worker_run_conn (worker, conn);
}

/* Connections taken per wake-up at most, so that a burst of them does
 * not keep the worker from those it serves already. */
#define ACCEPT_BATCH 16

/* @listening is readable: takes what connections are waiting, and
 * serves each. */
static void
worker_accept (Worker    *worker,
               Listening *listening)
{
  int fds[ACCEPT_BATCH];
  guint n = 0;

  g_mutex_lock (&worker->lock);
  while (worker->accepting && listening->watched && n < ACCEPT_BATCH)
    {
      FcAcceptResult result = fc_listener_accept (listening->listener, &listening->backoff_ms, &fds[n]);

      if (result == FC_ACCEPT_TAKEN)
        {
          n++;
          continue;
        }
      if (result == FC_ACCEPT_FAILED)
        {
          worker_unwatch (worker, listening);
          listening->retry = g_get_monotonic_time () + listening->backoff_ms * (gint64) 1000;
          worker->listen_retry = MIN (worker->listen_retry, listening->retry);
        }
      break;
    }
  g_mutex_unlock (&worker->lock);

  for (guint i = 0; i < n; i++)
    worker_admit (worker, fds[i]);
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
  if (waited->shared)
    {
      worker_accept (worker, (Listening *) waited);
      return;
    }

  conn = fc_conn_from_waited (waited);
  switch (event)
    {
    case FC_WAIT_READY:
      /* A held connection is run from the ready list, which is what
       * readiness would do; but one that is parked may be over. */
      if (!fc_conn_held (conn))
        worker_run_conn (worker, conn);
      else if (g_hash_table_contains (worker->parked, conn) && fc_conn_peer_gone (conn))
        worker_close_parked (worker, conn);
      break;
    case FC_WAIT_TIMEOUT:
      /* A reader slow but steady waits on, as it did: in the ready list
       * too if it yielded. */
      if (fc_conn_send_goes_on (conn) && fc_waiter_enter (worker->waiter, waited, NULL))
        break;
      /* Only one that yielded can be there: a parked one has no
       * deadline. Rare, so a walk of the list is no cost. */
      if (fc_conn_held (conn))
        g_queue_remove (&worker->ready, conn);
      fc_conn_timed_out (conn);
      worker_free_conn (worker, conn);
      break;
    case FC_WAIT_CLOSING:
      worker_free_conn (worker, conn);
      break;
    }
}

/* A retired worker ends once it serves nothing: no connection in its
 * waiter but the wake descriptor, none on a bulk sender or on its way
 * back. */
static gboolean
worker_done_retiring (Worker *worker)
{
  g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&worker->lock);

  return worker->retiring && worker->away == 0 &&
         fc_waiter_count (worker->waiter) <= 1;
}

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;

  /* A sender stays at the workers' priority, not lowered as long work
   * is: at nice 10 a large reply got a third of a processor shared
   * with another process instead of a half (with group scheduling the
   * daemon's weight on a processor follows its threads' there) and
   * half its rate beside hashing and loading (bench/README.md,
   * "bench/pressure"). Having slept is not enough for a woken worker
   * to run before a sender that has been running (it waited up to
   * 60 ms): the slices do that, without changing the shares. */
  fc_thread_sched_enter (worker->bulk ? FC_THREAD_BULK : FC_THREAD_WORKER);
  /* The wake descriptor leaves the waiter when stopping is seen. While
   * connections are ready to run, the waiter is only polled. The
   * connections are drained between two dispatches, never from a
   * callback: others of the same batch would be told of after their
   * end. */
  if (!worker->bulk && worker->workers->context->watch != NULL)
    fc_watch_thread_init (worker->workers->context->watch);
  while (worker->wake.index != 0 && !worker_done_retiring (worker))
    {
      int max_ms = g_queue_is_empty (&worker->ready) ? -1 : 0;

      if (G_UNLIKELY (worker->listen_retry != G_MAXINT64))
        {
          gint64 left = worker->listen_retry - g_get_monotonic_time ();

          if (left <= 0)
            worker_retry_listening (worker);
          else if (max_ms < 0)
            max_ms = (int) MIN ((left + 999) / 1000, G_MAXINT);
        }
      if (!worker->bulk)
        worker_balance (worker);
      fc_waiter_dispatch (worker->waiter, max_ms);
      if (worker->drain_seen && !worker->drained)
        worker_drain_conns (worker);
      worker_run_ready (worker);
    }

  /* Every connection still open is closed, mid-reply, ready or parked:
   * the flights they joined no longer reach them. */
  mailbox_close (worker->mailbox);
  g_queue_clear (&worker->ready);
  g_hash_table_remove_all (worker->parked);
  g_clear_pointer (&worker->waiter, fc_waiter_free);
  /* The main thread joins and frees it (on_worker_ended()), so a retired
   * worker's thread, eventfd and buffers go now, not at the next reload. */
  atomic_store (&worker->finished, TRUE);
  wake_fd_write (worker->workers->ended_fd);
  return NULL;
}

/* Tells @worker to close what it still serves and end. */
static void
worker_tell_stop (Worker *worker)
{
  g_mutex_lock (&worker->lock);
  worker->stopping = TRUE;
  g_mutex_unlock (&worker->lock);
  if (worker->thread != NULL)
    worker_wake (worker);
}

/* Stops @worker's thread and joins it. */
static void
worker_join (Worker *worker)
{
  if (worker->thread == NULL)
    return;
  worker_tell_stop (worker);
  g_thread_join (worker->thread);
  worker->thread = NULL;
}

/* Stops @worker, joins it, frees it. A worker or sender that hands
 * connections to this one must have been joined before. */
static void
worker_free (Worker *worker)
{
  worker_join (worker);
  g_clear_pointer (&worker->waiter, fc_waiter_free);
  g_ptr_array_unref (worker->listening);
  /* Handed over after its thread ended, in a stop that cuts. */
  while (!g_queue_is_empty (&worker->moved))
    {
      gpointer item = g_queue_pop_head (&worker->moved);

      if (worker->bulk)
        {
          fc_conn_free (((Move *) item)->conn);
          g_free (item);
        }
      else
        fc_conn_free (item);
    }
  g_clear_pointer (&worker->homes, g_hash_table_unref);
  fc_conn_scratch_clear (&worker->scratch);
  g_clear_pointer (&worker->parked, g_hash_table_unref);
  if (worker->mailbox != NULL)
    {
      mailbox_close (worker->mailbox);
      mailbox_unref (worker->mailbox);
    }
  if (worker->wake.fd >= 0)
    close (worker->wake.fd);
  g_mutex_clear (&worker->lock);
  g_free (worker);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Worker, worker_free)

static Worker *
worker_new (FcWorkers  *workers,
            gboolean    bulk,
            GError    **error)
{
  g_autoptr(Worker) worker = g_new0 (Worker, 1);
  guint number = bulk ? workers->senders->len + 1 : ++workers->started;
  g_autofree char *name = g_strdup_printf (bulk ? "fc-bulk-%u" : "fc-worker-%u", number);

  worker->workers = workers;
  worker->bulk = bulk;
  g_mutex_init (&worker->lock);
  worker->listening = g_ptr_array_new_with_free_func (listening_free);
  worker->listen_retry = G_MAXINT64;
  g_queue_init (&worker->moved);
  fc_conn_scratch_init (&worker->scratch);
  worker->scratch.bulk_sender = bulk;
  if (bulk)
    worker->homes = g_hash_table_new (NULL, NULL);
  g_queue_init (&worker->ready);
  worker->parked = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) ticket_unref);
  worker->wake.fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  worker->wake.deadline = G_MAXINT64;
  if (worker->wake.fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an event descriptor: %s"), g_strerror (saved_errno));
      return NULL;
    }
  worker->mailbox = mailbox_new (worker->wake.fd);

  worker->waiter = fc_waiter_new (on_wait_event, worker, error);
  if (worker->waiter == NULL || !fc_waiter_enter (worker->waiter, &worker->wake, error))
    return NULL;
  /* A bulk sender is handed its connections; a worker takes its own. */
  worker->accepting = !bulk && workers->accepting;
  for (guint i = 0; worker->accepting && i < workers->listeners->len; i++)
    worker_add_listener (worker, g_ptr_array_index (workers->listeners, i));

  worker->thread = g_thread_try_new (name, worker_main, worker, error);
  if (worker->thread == NULL)
    {
      if (bulk)
        g_prefix_error (error, _("Cannot start bulk sender thread %u: "), number);
      else
        g_prefix_error (error, _("Cannot start worker thread %u: "), number);
      return NULL;
    }
  return g_steal_pointer (&worker);
}

/* Removes from @array, and so joins and frees, the workers that ended. */
static void
reap_ended (GPtrArray *array)
{
  for (guint i = array->len; i > 0; i--)
    {
      Worker *worker = g_ptr_array_index (array, i - 1);

      if (atomic_load (&worker->finished))
        g_ptr_array_remove_index (array, i - 1);
    }
}

/* Main thread: some worker has ended (retired, or drained). */
static gboolean
on_worker_ended (int          fd,
                 GIOCondition condition,
                 gpointer     user_data)
{
  FcWorkers *workers = user_data;
  FcWorkersDrained drained = workers->drained;
  guint64 count;

  if (read (fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_warning (_("Cannot read a worker’s event descriptor: %s"), g_strerror (errno));
  reap_ended (workers->retired);
  reap_ended (workers->active);
  if (drained != NULL && workers->active->len == 0 && workers->retired->len == 0)
    {
      workers->drained = NULL;
      drained (workers->drained_data);
    }
  return G_SOURCE_CONTINUE;
}

/**
 * fc_workers_new:
 * @context: (transfer none): the serving context; must outlive the workers
 * @n_threads: how many worker threads, at least 1
 * @n_senders: how many bulk senders, at least 1: threads at the workers'
 *   priority that send the rest of each reply larger than
 *   %FC_BULK_BODY_MIN; fixed for the workers' life
 * @refuse: called in a worker thread with each connection accepted
 *   beyond the context's max_clients
 * @refuse_data: for @refuse
 * @error: a #GThreadError or #GIOError when a thread, an epoll set or an
 *   eventfd cannot be made: all are made here, at start, so that a limit
 *   on threads (RLIMIT_NPROC, a pids cgroup, TasksMax=) is a clear
 *   start-up error and never a crash under load
 *
 * Returns: (transfer full): running workers, or %NULL
 */
FcWorkers *
fc_workers_new (FcServeContext   *context,
                guint             n_threads,
                guint             n_senders,
                FcWorkersRefuse   refuse,
                gpointer          refuse_data,
                GError          **error)
{
  g_autoptr(FcWorkers) workers = g_new0 (FcWorkers, 1);

  g_return_val_if_fail (n_threads > 0, NULL);
  g_return_val_if_fail (n_senders > 0, NULL);

  workers->context = context;
  workers->refuse = refuse;
  workers->refuse_data = refuse_data;
  workers->accepting = TRUE;
  workers->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) fc_listener_unref);
  workers->active = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_free);
  g_mutex_init (&workers->balance_lock);
  workers->held_back = g_ptr_array_new ();
  workers->retired = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_free);
  workers->senders = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_free);
  workers->ended_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (workers->ended_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _("Cannot create an event descriptor: %s"), g_strerror (saved_errno));
      return NULL;
    }
  workers->ended_watch = g_unix_fd_add (workers->ended_fd, G_IO_IN, on_worker_ended, workers);
  /* Before any worker, which may hand them a connection at once. */
  while (workers->senders->len < n_senders)
    {
      Worker *sender = worker_new (workers, TRUE, error);

      if (sender == NULL)
        return NULL;
      g_ptr_array_add (workers->senders, sender);
    }
  if (!fc_workers_set_threads (workers, n_threads, error))
    return NULL;
  return g_steal_pointer (&workers);
}

/**
 * fc_workers_set_threads:
 * @workers: running workers
 * @n_threads: how many should take new connections, at least 1
 * @error: as for fc_workers_new(), when a new thread cannot be made
 *
 * Starts more workers, or retires the last ones: a retired worker takes
 * no new connection and ends with the last it serves, so no connection or
 * transfer is cut; it is joined once it has ended. Main thread.
 *
 * Returns: %FALSE when fewer threads than asked could be started; those
 *   that could serve
 */
gboolean
fc_workers_set_threads (FcWorkers  *workers,
                        guint       n_threads,
                        GError    **error)
{
  g_return_val_if_fail (n_threads > 0, FALSE);

  /* A reload during a stop: every worker is on its way out already. */
  if (workers->draining)
    return TRUE;

  while (workers->active->len > n_threads)
    {
      Worker *worker = g_ptr_array_steal_index (workers->active, workers->active->len - 1);

      g_mutex_lock (&worker->lock);
      worker->retiring = TRUE;
      worker_stop_accepting (worker);
      g_mutex_unlock (&worker->lock);
      worker_wake (worker);
      g_ptr_array_add (workers->retired, worker);
    }
  atomic_store (&workers->n_active, workers->active->len);

  while (workers->active->len < n_threads)
    {
      Worker *worker = worker_new (workers, FALSE, error);

      if (worker == NULL)
        return FALSE;
      g_ptr_array_add (workers->active, worker);
      atomic_store (&workers->n_active, workers->active->len);
    }
  /* Each share changed: one held back may be the last left. */
  for (guint i = 0; i < workers->active->len; i++)
    worker_wake (g_ptr_array_index (workers->active, i));
  return TRUE;
}

/**
 * fc_workers_get_threads:
 * @workers: running workers
 *
 * Returns: how many workers take new connections
 */
guint
fc_workers_get_threads (FcWorkers *workers)
{
  return workers->active->len;
}

/**
 * fc_workers_listen:
 * @workers: running workers
 * @socket: (transfer none): a listening, non-blocking socket; the caller
 *   closes it, after fc_workers_stop_accepting()
 *
 * Every worker, and every one started later, accepts connections on
 * @socket from now on (fc_listener_accept()): those beyond the context's
 * max_clients go to the refuse function, every other one is served by
 * the worker that took it. Main thread.
 */
void
fc_workers_listen (FcWorkers *workers,
                   GSocket   *socket)
{
  g_autoptr(FcListener) listener = fc_listener_new (socket);

  if (!workers->accepting)
    return;
  g_ptr_array_add (workers->listeners, fc_listener_ref (listener));
  for (guint i = 0; i < workers->active->len; i++)
    {
      Worker *worker = g_ptr_array_index (workers->active, i);
      g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&worker->lock);

      worker_add_listener (worker, listener);
    }
}

/**
 * fc_workers_stop_accepting:
 * @workers: workers
 *
 * No worker accepts on any listening socket once this returns: each
 * has left their watch, and none is inside accept(), so the caller may
 * close them. Connections already taken are served. Main thread.
 */
void
fc_workers_stop_accepting (FcWorkers *workers)
{
  GPtrArray *all[] = { workers->active, workers->retired };

  workers->accepting = FALSE;
  g_ptr_array_set_size (workers->listeners, 0);
  for (guint a = 0; a < G_N_ELEMENTS (all); a++)
    for (guint i = 0; i < all[a]->len; i++)
      {
        Worker *worker = g_ptr_array_index (all[a], i);
        g_autoptr(GMutexLocker) locker G_GNUC_UNUSED = g_mutex_locker_new (&worker->lock);

        worker_stop_accepting (worker);
      }
}

/**
 * fc_workers_free:
 * @workers: workers
 *
 * Stops every worker: each closes all its connections (replies in flight
 * are cut) and its thread is joined before this returns. Main thread,
 * where the workers' ends are watched.
 */
void
fc_workers_free (FcWorkers *workers)
{
  GPtrArray *all[] = { workers->active, workers->retired, workers->senders };

  g_clear_handle_id (&workers->ended_watch, g_source_remove);
  /* Tell them all first, so they stop together; join them all before
   * any is freed, as workers and senders hand connections to each
   * other until they end. */
  for (guint a = 0; a < G_N_ELEMENTS (all); a++)
    for (guint i = 0; all[a] != NULL && i < all[a]->len; i++)
      worker_tell_stop (g_ptr_array_index (all[a], i));
  for (guint a = 0; a < G_N_ELEMENTS (all); a++)
    for (guint i = 0; all[a] != NULL && i < all[a]->len; i++)
      worker_join (g_ptr_array_index (all[a], i));
  g_ptr_array_unref (workers->active);
  g_ptr_array_unref (workers->retired);
  g_clear_pointer (&workers->senders, g_ptr_array_unref);
  g_ptr_array_unref (workers->listeners);
  g_ptr_array_unref (workers->held_back);
  g_mutex_clear (&workers->balance_lock);
  /* Only now: every worker writes it as it ends. */
  if (workers->ended_fd >= 0)
    close (workers->ended_fd);
  g_free (workers);
}

/**
 * fc_workers_drain:
 * @workers: running workers
 * @drained: called in the main thread once every worker has ended
 * @user_data: for @drained
 *
 * The daemon stops: every worker takes no new connection, lets each of
 * its connections answer what it has received and finish its reply
 * (fc_conn_drain()), and ends with the last. Call it after
 * fc_workers_stop_accepting(). Main thread; whatever
 * is left is cut by fc_workers_free().
 */
void
fc_workers_drain (FcWorkers        *workers,
                  FcWorkersDrained  drained,
                  gpointer          user_data)
{
  GPtrArray *all[] = { workers->active, workers->retired };

  workers->draining = TRUE;
  workers->drained = drained;
  workers->drained_data = user_data;
  for (guint a = 0; a < G_N_ELEMENTS (all); a++)
    for (guint i = 0; i < all[a]->len; i++)
      {
        Worker *worker = g_ptr_array_index (all[a], i);

        g_mutex_lock (&worker->lock);
        worker->retiring = TRUE;
        worker->draining = TRUE;
        g_mutex_unlock (&worker->lock);
        worker_wake (worker);
      }
}
