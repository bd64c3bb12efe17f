#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "watch.h"

/* A cached hit must show that its name still reaches, through plain
 * directories beneath the root, the very file its copy was read from,
 * unchanged. A stat() of every component shows it at a cost (about 1 µs
 * each here, a fifth of a hit's daemon CPU for `1KiB/NN`); inotify(7)
 * shows it for about 0.3 µs, one epoll_wait() over a queue every change
 * fills:
 *
 * - a mark watches the root, each directory down to the file (any entry
 *   created, deleted or moved in it; the directory itself moved or
 *   deleted; attributes) and the file (opened by anyone, modified,
 *   attributes such as times, links or mode, moved or deleted);
 * - any event moves a generation; a copy proved by a stat() while the
 *   queue was empty is trusted without one while the generation has not
 *   moved. The events a hit must know of are those of changes made
 *   before it: inotify queues them inside the system call that makes the
 *   change, so a hit that finds the queue empty comes after none;
 * - a write through a shared mapping queues nothing, but needs a
 *   descriptor open for writing: the file is opened with no watch, the
 *   watch added, and only then a read lease taken, which succeeds only
 *   while nobody has the file open for writing or mapped writable, and
 *   holds back any later opener until it is given back; that opener's
 *   open then queues IN_OPEN, after which the mark proves nothing
 *   ("broken") until the file is armed again. Any open counts, a
 *   reader's too: an event tells no mode;
 * - a directory moved or deleted breaks every mark through it: a name
 *   reached through what replaced it must be watched anew (the events of
 *   the old one say nothing of the new one). Each directory's watch is
 *   added by its path from the root, top down, after its parent's: a
 *   watch never broken has always been where its name leads;
 * - a lost event (the queue overflowed) breaks every mark;
 * - so does any change of the mount table (a bind mount over a file or
 *   a directory of the tree, or its unmount, queues no inotify event):
 *   /proc/self/mountinfo is pollable for that (proc(5)), but a poll
 *   takes the news for everyone reading that descriptor, so each thread
 *   polls a descriptor of its own, with the inotify queue, in one epoll
 *   set of its own: one epoll_wait() a hit. A thread that cannot have
 *   one trusts nothing.
 *
 * Not seen: changes on network or FUSE filesystems made by other
 * machines; files there are never armed (see FcFileId.foreign). */

#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
                    IN_DELETE_SELF | IN_MOVE_SELF)
#define FILE_EVENTS (IN_OPEN | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
/* What leaves a watch saying nothing more of its inode's place or
 * content. */
#define BREAKING (IN_OPEN | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)

typedef struct {
  int wd;
  guint refs;                   /* marks holding it; under FcWatch.lock */
  gboolean removed;             /* its watch is gone (IN_IGNORED, or replaced); under the lock */
  atomic_bool broken;           /* see BREAKING; never cleared */
} State;

struct _FcWatch {
  gatomicrefcount refs;
  guint serial;                 /* tells a thread's probe which watch it polls */
  int fd;                       /* (owned): the inotify instance */
  GMutex lock;                  /* guards states, and one drain at a time */
  GHashTable *states;           /* wd → State, for watches in place */
  atomic_uint generation;
  atomic_bool draining;         /* events are read but not yet acted on */
};

struct _FcWatchMark {
  FcWatch *watch;               /* (owned) */
  guint n_states;
  State *states[];              /* (owned): the root first, the file last */
};

/* A thread's own way to hear of changes: the inotify queue and the mount
 * table, in one epoll set. */
typedef struct {
  guint serial;                 /* the FcWatch polled */
  int epoll_fd;                 /* (owned) */
  int mounts_fd;                /* (owned): /proc/self/mountinfo */
} Probe;

enum { PROBE_QUEUE, PROBE_MOUNTS };

static atomic_uint next_serial = 1;

static void
probe_free (gpointer data)
{
  Probe *probe = data;

  if (probe->epoll_fd >= 0)
    close (probe->epoll_fd);
  if (probe->mounts_fd >= 0)
    close (probe->mounts_fd);
  g_free (probe);
}

static GPrivate thread_probe = G_PRIVATE_INIT (probe_free);

static void drain (FcWatch *watch, gboolean mounts_changed);

/* This thread's probe of @watch, made on its first use; NULL when one
 * cannot be made (out of descriptors, no /proc). */
static Probe *
probe_get (FcWatch *watch)
{
  Probe *probe = g_private_get (&thread_probe);
  struct epoll_event queue = { .events = EPOLLIN, .data.u32 = PROBE_QUEUE };
  struct epoll_event mounts = { .events = EPOLLPRI, .data.u32 = PROBE_MOUNTS };

  if (probe != NULL && probe->serial == watch->serial)
    return probe->epoll_fd >= 0 ? probe : NULL;
  probe = g_new (Probe, 1);
  probe->serial = watch->serial;
  probe->mounts_fd = open ("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  probe->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (probe->mounts_fd < 0 || probe->epoll_fd < 0 ||
      epoll_ctl (probe->epoll_fd, EPOLL_CTL_ADD, watch->fd, &queue) != 0 ||
      epoll_ctl (probe->epoll_fd, EPOLL_CTL_ADD, probe->mounts_fd, &mounts) != 0)
    {
      static gsize told = 0;
      int errsv = errno;

      if (probe->epoll_fd >= 0)
        close (probe->epoll_fd);
      probe->epoll_fd = -1;
      if (g_once_init_enter (&told))
        {
          g_message (_("Cached hits are proved by a stat() each: cannot watch the mount table: %s"),
                     g_strerror (errsv));
          g_once_init_leave (&told, 1);
        }
    }
  g_private_replace (&thread_probe, probe);
  if (probe->epoll_fd < 0)
    return NULL;
  /* A change of the mount table made before this descriptor was opened
   * is news to no poll of it: taken as one, in case no other thread has
   * acted on it yet. */
  g_mutex_lock (&watch->lock);
  drain (watch, TRUE);
  g_mutex_unlock (&watch->lock);
  return probe;
}

/**
 * fc_watch_new:
 * @error: why there can be none (EMFILE, or the per-user limit of
 *   inotify instances, fs.inotify.max_user_instances)
 *
 * Returns: (transfer full): a watch with no mark yet; any thread
 */
FcWatch *
fc_watch_new (GError **error)
{
  FcWatch *watch;
  int fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create an inotify instance: %s"), g_strerror (errsv));
      return NULL;
    }
  watch = g_new0 (FcWatch, 1);
  g_atomic_ref_count_init (&watch->refs);
  watch->fd = fd;
  g_mutex_init (&watch->lock);
  watch->states = g_hash_table_new (NULL, NULL);
  atomic_init (&watch->generation, 1);
  watch->serial = atomic_fetch_add (&next_serial, 1);
  return watch;
}

/**
 * fc_watch_ref:
 * @watch: a watch
 *
 * Returns: (transfer full): @watch; marks hold one each
 */
FcWatch *
fc_watch_ref (FcWatch *watch)
{
  g_atomic_ref_count_inc (&watch->refs);
  return watch;
}

/**
 * fc_watch_unref:
 * @watch: (transfer full): a watch
 *
 * Frees @watch with its last reference: every mark is gone by then.
 */
void
fc_watch_unref (FcWatch *watch)
{
  if (!g_atomic_ref_count_dec (&watch->refs))
    return;
  g_assert (g_hash_table_size (watch->states) == 0);
  g_hash_table_unref (watch->states);
  g_mutex_clear (&watch->lock);
  close (watch->fd);
  g_free (watch);
}

/* Acts on every event queued, and on a change of the mount table seen
 * by this thread, under the lock. The flag tells a hit that finds the
 * queue empty meanwhile that what was read is not acted on yet; the
 * generation moves only for an event about a watch in place (not for
 * the IN_IGNORED that removing one queues). */
static void
break_all (FcWatch *watch)
{
  GHashTableIter iter;
  State *state;

  g_hash_table_iter_init (&iter, watch->states);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &state))
    atomic_store (&state->broken, TRUE);
}

static void
drain (FcWatch  *watch,
       gboolean  mounts_changed)
{
  /* inotify(7): enough for at least one event of the longest name. */
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  gboolean moved = FALSE;
  gssize len;

  atomic_store (&watch->draining, TRUE);
  if (mounts_changed)
    {
      break_all (watch);
      moved = TRUE;
    }
  while ((len = read (watch->fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + len; )
      {
        const struct inotify_event *event = (const struct inotify_event *) p;
        State *state;

        p += sizeof *event + event->len;
        if (event->mask & IN_Q_OVERFLOW)
          {
            break_all (watch);
            moved = TRUE;
            continue;
          }
        state = g_hash_table_lookup (watch->states, GINT_TO_POINTER (event->wd));
        if (state == NULL)
          continue;
        moved = TRUE;
        if (event->mask & BREAKING)
          atomic_store (&state->broken, TRUE);
        if (event->mask & IN_IGNORED)
          {
            state->removed = TRUE;
            g_hash_table_remove (watch->states, GINT_TO_POINTER (state->wd));
          }
      }
  /* 0 is no generation (FcCacheEntry.trusted): skipped when it wraps. */
  if (moved && atomic_fetch_add (&watch->generation, 1) == G_MAXUINT)
    atomic_fetch_add (&watch->generation, 1);
  atomic_store (&watch->draining, FALSE);
}

/**
 * fc_watch_thread_init:
 * @watch: a watch
 *
 * Makes the calling thread's two descriptors for fc_watch_quiet() now
 * (a worker, as it starts: what it holds is all made at start), rather
 * than at its first hit. They are closed as the thread ends.
 */
void
fc_watch_thread_init (FcWatch *watch)
{
  probe_get (watch);
}

/**
 * fc_watch_quiet:
 * @watch: a watch
 * @generation: (out): with %TRUE, the generation now
 *
 * The hot path's one system call (epoll_wait() with no timeout, about
 * 0.3 µs): no change is known but those the generation has counted. A
 * copy proved by a stat() that followed a %TRUE here stays proved while
 * the generation is the same. With events queued, or the mount table
 * changed, it acts on them (another thread's hit may be acting on the
 * queue) and answers %FALSE. Any thread; each keeps two descriptors for
 * it until it ends.
 *
 * Returns: whether nothing is queued or being acted on
 */
gboolean
fc_watch_quiet (FcWatch *watch,
                guint   *generation)
{
  Probe *probe = probe_get (watch);
  struct epoll_event events[2];
  int n;

  if (probe == NULL)
    return FALSE;
  n = epoll_wait (probe->epoll_fd, events, G_N_ELEMENTS (events), 0);
  if (n != 0)
    {
      gboolean mounts_changed = FALSE;

      for (int i = 0; i < n; i++)
        mounts_changed |= events[i].data.u32 == PROBE_MOUNTS;
      /* This thread alone has taken that news from its descriptor: it
       * must be acted on before any copy is trusted again. */
      if (mounts_changed)
        g_mutex_lock (&watch->lock);
      else if (n < 0 || !g_mutex_trylock (&watch->lock))
        return FALSE;
      drain (watch, mounts_changed);
      g_mutex_unlock (&watch->lock);
      return FALSE;
    }
  if (atomic_load (&watch->draining))
    return FALSE;
  *generation = atomic_load (&watch->generation);
  return *generation != 0;
}

/* A state for @wd, just returned by inotify_add_watch(): the one in
 * place, or a new one. Under the lock. */
static State *
state_for (FcWatch *watch,
           int      wd)
{
  State *state = g_hash_table_lookup (watch->states, GINT_TO_POINTER (wd));

  if (state == NULL)
    {
      state = g_new0 (State, 1);
      state->wd = wd;
      g_hash_table_insert (watch->states, GINT_TO_POINTER (wd), state);
    }
  state->refs++;
  return state;
}

static void
state_release (FcWatch *watch,
               State   *state)
{
  if (--state->refs > 0)
    return;
  if (!state->removed)
    {
      g_hash_table_remove (watch->states, GINT_TO_POINTER (state->wd));
      inotify_rm_watch (watch->fd, state->wd);
    }
  g_free (state);
}

/* Why @name cannot be proved unchanged without a stat(): @errsv. */
static void
set_watch_error (GError     **error,
                 const char  *name,
                 int          errsv)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               _("Cannot watch “%s” for changes: %s"), name, g_strerror (errsv));
}

/* Adds a watch on @path (a broken one in place is replaced: what it
 * broke for stays broken), or sets @error. Under the lock. */
static State *
add (FcWatch     *watch,
     const char  *path,
     guint32      mask,
     const char  *name,
     GError     **error)
{
  int wd = inotify_add_watch (watch->fd, path, mask);
  State *state;

  if (wd >= 0)
    {
      state = g_hash_table_lookup (watch->states, GINT_TO_POINTER (wd));
      if (state == NULL || !atomic_load (&state->broken))
        return state_for (watch, wd);
      /* The next event for the old watch number is its IN_IGNORED, which
       * no state claims any more. */
      state->removed = TRUE;
      g_hash_table_remove (watch->states, GINT_TO_POINTER (wd));
      inotify_rm_watch (watch->fd, wd);
      wd = inotify_add_watch (watch->fd, path, mask);
      if (wd >= 0)
        return state_for (watch, wd);
    }
  {
    static gsize told = 0;
    int errsv = errno;

    set_watch_error (error, name, errsv);
    /* The one cause an admin can act on; the hits it slows are many. */
    if (errsv == ENOSPC && g_once_init_enter (&told))
      {
        g_message (_("The limit of inotify watches (fs.inotify.max_user_watches) is reached: "
                     "cached hits not watched now take a stat() of each component of their name"));
        g_once_init_leave (&told, 1);
      }
  }
  return NULL;
}

/* Adds the next watch of @mark (see add()). Under the lock. */
static gboolean
mark_add (FcWatchMark  *mark,
          const char   *path,
          guint32       mask,
          const char   *name,
          GError      **error)
{
  State *state = add (mark->watch, path, mask, name, error);

  if (state == NULL)
    return FALSE;
  mark->states[mark->n_states++] = state;
  return TRUE;
}

/**
 * fc_watch_arm:
 * @watch: a watch
 * @root_fd: the served directory
 * @name: a name that passed fc_name_validate(), of a file cached now
 * @error: why the file cannot be proved unchanged without a stat()
 *   (the per-user limit of watches, fs.inotify.max_user_watches: ENOSPC;
 *   the file open for writing: EAGAIN; no lease allowed: EACCES; gone)
 *
 * Watches @name's directories and file (see above). The mark says
 * nothing of the file's identity now: the caller proves that with a
 * stat() after this returns, and trusts the copy from the generation
 * fc_watch_quiet() gave after it. A few system calls per component;
 * never on a hit that is already trusted. Any thread.
 *
 * Returns: (transfer full) (nullable): the mark, or %NULL with @error set
 */
FcWatchMark *
fc_watch_arm (FcWatch     *watch,
              int          root_fd,
              const char  *name,
              GError     **error)
{
  g_autoptr(FcWatchMark) mark = NULL;
  g_autoptr(GMutexLocker) locker = NULL;
  char path[PATH_MAX];
  struct stat st;
  guint n_dirs = 1;
  gsize base;
  int fd;

  for (const char *p = name; *p != '\0'; p++)
    n_dirs += *p == '/';
  if (strlen (name) + 64 >= PATH_MAX)
    {
      set_watch_error (error, name, ENAMETOOLONG);
      return NULL;
    }
  mark = g_malloc0 (sizeof *mark + (n_dirs + 1) * sizeof (State *));
  mark->watch = fc_watch_ref (watch);

  /* The file, opened before its watch is there, so that this open is no
   * event of it. */
  fd = openat (root_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      int errsv = fd < 0 ? errno : EINVAL;

      if (fd >= 0)
        close (fd);
      set_watch_error (error, name, errsv);
      return NULL;
    }

  locker = g_mutex_locker_new (&watch->lock);
  base = g_snprintf (path, sizeof path, "/proc/self/fd/%d", root_fd);
  /* The root itself: its descriptor's magic link, followed. */
  if (!mark_add (mark, path, DIR_EVENTS | IN_ONLYDIR, name, error))
    goto out;
  for (const char *slash = strchr (name, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
    {
      g_snprintf (path + base, sizeof path - base, "/%.*s", (int) (slash - name), name);
      if (!mark_add (mark, path, DIR_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW, name, error))
        goto out;
    }
  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  if (!mark_add (mark, path, FILE_EVENTS, name, error))
    goto out;
  g_clear_pointer (&locker, g_mutex_locker_free);

  /* The watch is there: from here a writer's open queues IN_OPEN. */
  if (fcntl (fd, F_SETLEASE, F_RDLCK) != 0)
    {
      set_watch_error (error, name, errno);
      goto out;
    }
  fcntl (fd, F_SETLEASE, F_UNLCK);
  close (fd);
  return g_steal_pointer (&mark);

out:
  close (fd);
  return NULL;
}

/**
 * fc_watch_mark_intact:
 * @mark: a mark
 *
 * Lock-free; any thread, the caller keeping @mark alive.
 *
 * Returns: whether no event has broken any of @mark's watches
 */
gboolean
fc_watch_mark_intact (const FcWatchMark *mark)
{
  for (guint i = 0; i < mark->n_states; i++)
    if (atomic_load_explicit (&mark->states[i]->broken, memory_order_relaxed))
      return FALSE;
  return TRUE;
}

/**
 * fc_watch_mark_free:
 * @mark: (transfer full): a mark
 *
 * Removes the watches no other mark holds. Any thread; takes the
 * watch's lock, so never under the cache lock.
 */
void
fc_watch_mark_free (FcWatchMark *mark)
{
  FcWatch *watch = mark->watch;

  g_mutex_lock (&watch->lock);
  for (guint i = 0; i < mark->n_states; i++)
    state_release (watch, mark->states[i]);
  g_mutex_unlock (&watch->lock);
  fc_watch_unref (watch);
  g_free (mark);
}
