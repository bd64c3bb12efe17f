#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "watch.h"

/* A cached hit must show that its name still reaches, through plain
 * directories beneath the root, the very file its copy was read from,
 * unchanged. A stat() of every component shows it at a cost (about 1 µs
 * each here, more than a third of a hit's system time); inotify(7) shows
 * it for 0.25 µs, one ioctl(FIONREAD) on a queue every change fills:
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
 * - a lost event (the queue overflowed) breaks every mark.
 *
 * Not seen: a filesystem mounted over a directory of the tree (no
 * event), and changes on network or FUSE filesystems made by other
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

/* Acts on every event queued, under the lock. The flag tells a hit that
 * finds the queue empty meanwhile that what was read is not acted on
 * yet; the generation moves only for an event about a watch in place
 * (not for the IN_IGNORED that removing one queues). */
static void
drain (FcWatch *watch)
{
  /* inotify(7): enough for at least one event of the longest name. */
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  gboolean moved = FALSE;
  gssize len;

  atomic_store (&watch->draining, TRUE);
  while ((len = read (watch->fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + len; )
      {
        const struct inotify_event *event = (const struct inotify_event *) p;
        State *state;

        p += sizeof *event + event->len;
        if (event->mask & IN_Q_OVERFLOW)
          {
            GHashTableIter iter;

            g_hash_table_iter_init (&iter, watch->states);
            while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &state))
              atomic_store (&state->broken, TRUE);
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
 * fc_watch_quiet:
 * @watch: a watch
 * @generation: (out): with %TRUE, the generation now
 *
 * The hot path's one system call (ioctl(FIONREAD), about 0.25 µs): no
 * change is known but those the generation has counted. A copy proved
 * by a stat() that followed a %TRUE here stays proved while the
 * generation is the same. With events queued it acts on them (another
 * thread's hit may be doing so) and answers %FALSE. Any thread.
 *
 * Returns: whether nothing is queued or being acted on
 */
gboolean
fc_watch_quiet (FcWatch *watch,
                guint   *generation)
{
  int queued = 0;

  if (ioctl (watch->fd, FIONREAD, &queued) != 0 || queued > 0)
    {
      if (g_mutex_trylock (&watch->lock))
        {
          drain (watch);
          g_mutex_unlock (&watch->lock);
        }
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

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot watch “%s” for changes: %s"), name, g_strerror (errsv));
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
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("Cannot watch “%s” for changes: %s"), name, g_strerror (ENAMETOOLONG));
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
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot watch “%s” for changes: %s"), name, g_strerror (errsv));
      return NULL;
    }

  locker = g_mutex_locker_new (&watch->lock);
  base = g_snprintf (path, sizeof path, "/proc/self/fd/%d", root_fd);
  /* The root itself: its descriptor's magic link, followed. */
  mark->states[mark->n_states] = add (watch, path, DIR_EVENTS | IN_ONLYDIR, name, error);
  if (mark->states[mark->n_states] == NULL)
    goto out;
  mark->n_states++;
  for (const char *slash = strchr (name, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
    {
      g_snprintf (path + base, sizeof path - base, "/%.*s", (int) (slash - name), name);
      mark->states[mark->n_states] = add (watch, path,
                                          DIR_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW, name, error);
      if (mark->states[mark->n_states] == NULL)
        goto out;
      mark->n_states++;
    }
  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  mark->states[mark->n_states] = add (watch, path, FILE_EVENTS, name, error);
  if (mark->states[mark->n_states] == NULL)
    goto out;
  mark->n_states++;
  g_clear_pointer (&locker, g_mutex_locker_free);

  /* The watch is there: from here a writer's open queues IN_OPEN. */
  if (fcntl (fd, F_SETLEASE, F_RDLCK) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot watch “%s” for changes: %s"), name, g_strerror (errsv));
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
