#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if HAVE_OPENAT2_H
#include <linux/openat2.h>
#endif

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "beneath.h"
#include "errors.h"
#include "names.h"

/* The same bound the kernel puts on nested links (MAXSYMLINKS). */
#define MAX_LINKS 40

#define FILE_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
/* Resolves without opening: neither blocks on a FIFO nor wakes a device. */
#define PATH_FLAGS (O_PATH | O_CLOEXEC)

static int
open_error (const char  *name,
            int          saved_errno,
            GError     **error)
{
  FcError code;

  switch (saved_errno)
    {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      code = FC_ERROR_NOT_FOUND;
      break;
    case EACCES:
    case EPERM:
      code = FC_ERROR_PERMISSION_DENIED;
      break;
    case EXDEV:
      code = FC_ERROR_OUTSIDE_ROOT;
      break;
    case ELOOP:
      code = FC_ERROR_LINK_LOOP;
      break;
    case EISDIR:
    case ENXIO:
    case ENODEV:
      code = FC_ERROR_NOT_REGULAR;
      break;
    default:
      code = FC_ERROR_READ_FAILED;
      break;
    }

  g_set_error (error, FC_ERROR, code, _("Cannot open “%s”: %s"),
               name, g_strerror (saved_errno));
  return -1;
}

/* What a confined open is after: the only type it accepts, and the
 * flags it opens that with once the O_PATH descriptor shows the type. */
typedef struct {
  mode_t type;                  /* S_IFREG or S_IFDIR */
  int flags;
} Kind;

static const Kind file_kind = { S_IFREG, FILE_FLAGS };
/* Opening a directory for reading has no side effects; O_DIRECTORY makes
 * the reopen by name (without /proc) refuse anything else unopened. */
static const Kind dir_kind = { S_IFDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC };

/* Takes @fd: refuses anything but @kind's type, closing it unread. A
 * directory opener's "not a directory" is ENOTDIR's answer, not found,
 * as a path ending in `/` that is not a directory is a 404 (HTTP.md). */
static int
check_kind (int           fd,
            const Kind   *kind,
            const char   *name,
            struct stat  *st,
            GError      **error)
{
  if (fstat (fd, st) != 0)
    {
      int saved_errno = errno;
      g_close (fd, NULL);
      return open_error (name, saved_errno, error);
    }

  if ((st->st_mode & S_IFMT) == kind->type)
    return fd;

  g_close (fd, NULL);
  if (kind->type == S_IFDIR)
    g_set_error (error, FC_ERROR, FC_ERROR_NOT_FOUND,
                 _("Cannot open “%s”: not a directory"), name);
  else
    g_set_error (error, FC_ERROR, FC_ERROR_NOT_REGULAR,
                 _("Cannot open “%s”: not a regular file"), name);
  return -1;
}

/**
 * fc_fd_path:
 * @fd: an open descriptor
 *
 * For messages and for checking where a file lies: costs a readlink()
 * of /proc. Any thread.
 *
 * Returns: (transfer full) (nullable): the absolute path the kernel
 *   reached @fd by (" (deleted)" appended once it is unlinked), or %NULL
 *   without /proc
 */
char *
fc_fd_path (int fd)
{
  char link[64];
  char path[PATH_MAX];
  ssize_t n;

  g_snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, sizeof path - 1);
  if (n <= 0)
    return NULL;
  path[n] = '\0';
  return g_strdup (path);
}

static gboolean
path_is_beneath (const char *path,
                 const char *root)
{
  gsize len = strlen (root);

  if (strcmp (root, "/") == 0)
    return TRUE;
  return strncmp (path, root, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* The fast resolvers refuse any path that leaves the root on the way,
 * even one that comes back (an absolute link to a file inside,
 * "../root/x"). The contract asks only where the file lies once every
 * link is resolved, so such a name gets a second, slower look: resolve it
 * fully, ask the kernel where it ended, and keep it only if it lies
 * beneath the root. Without /proc, the answer stays no.
 * Returns an O_PATH descriptor, or -1 with *saved_errno set. */
static int
resolve_escaping (int  root_fd,
                  const char *name,
                  int *saved_errno)
{
  g_autofree char *root = fc_fd_path (root_fd);
  g_autofree char *path = NULL;
  int pfd;

  pfd = openat (root_fd, name, PATH_FLAGS);
  if (pfd < 0)
    {
      *saved_errno = errno;
      return -1;
    }

  path = fc_fd_path (pfd);
  if (root == NULL || path == NULL || !path_is_beneath (path, root))
    {
      g_close (pfd, NULL);
      *saved_errno = EXDEV;
      return -1;
    }
  return pfd;
}

/* Resolves @name beneath @root_fd and opens what it reaches with @flags
 * (PATH_FLAGS or FILE_FLAGS). Returns a descriptor, or -1 with
 * *saved_errno set: EXDEV when the path left the root on the way, ENOSYS
 * when the kernel lacks the means. */
typedef int (*Resolver) (int          root_fd,
                         const char  *name,
                         int          flags,
                         int         *saved_errno);

static int
resolve_openat2 (int          root_fd,
                 const char  *name,
                 int          flags,
                 int         *saved_errno)
{
#if HAVE_OPENAT2_H && defined(SYS_openat2)
  struct open_how how = {
    .flags = flags,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  int fd;
  guint tries = 0;

  /* EAGAIN: the kernel saw a rename race during a ".." step; bounded so a
   * hostile renamer cannot pin a thread here. */
  do
    fd = (int) syscall (SYS_openat2, root_fd, name, &how, sizeof how);
  while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 8);

  *saved_errno = errno;
  return fd;
#else
  *saved_errno = ENOSYS;
  return -1;
#endif
}

typedef struct {
  GPtrArray *dirs;     /* (element-type int): descriptors from the root down */
  GQueue pending;      /* (element-type utf8) (owned): components still to walk */
  guint links;
} Walk;

static void
walk_clear (Walk *walk)
{
  /* Index 0 is the caller's root_fd, which is not ours to close. */
  for (guint i = 1; i < walk->dirs->len; i++)
    g_close (GPOINTER_TO_INT (g_ptr_array_index (walk->dirs, i)), NULL);
  g_ptr_array_unref (walk->dirs);
  g_queue_clear_full (&walk->pending, g_free);
}

static void
walk_push_path (Walk       *walk,
                const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  /* Pushed in reverse so the first component is walked first. */
  for (gssize i = (gssize) g_strv_length (parts) - 1; i >= 0; i--)
    if (parts[i][0] != '\0' && strcmp (parts[i], ".") != 0)
      g_queue_push_head (&walk->pending, g_strdup (parts[i]));
}

static int
walk_top (Walk *walk)
{
  return GPOINTER_TO_INT (g_ptr_array_index (walk->dirs, walk->dirs->len - 1));
}

/* Splices the target of the link @component (in the current directory)
 * into the walk, as the kernel's RESOLVE_BENEATH would follow it.
 * Returns 0 or an errno. */
static int
walk_follow_link (Walk       *walk,
                  const char *component)
{
  char target[4096];
  ssize_t n;

  if (++walk->links > MAX_LINKS)
    return ELOOP;

  n = readlinkat (walk_top (walk), component, target, sizeof target - 1);
  if (n < 0)
    return errno;
  target[n] = '\0';

  if (target[0] == '/')
    return EXDEV;

  walk_push_path (walk, target);
  return 0;
}

static gboolean
is_link (int fd)
{
  struct stat st;

  return fstat (fd, &st) == 0 && S_ISLNK (st.st_mode);
}

/* The Resolver for kernels without openat2(): one component at a time,
 * never following a link by the kernel (`O_NOFOLLOW`), resolving links
 * and `..` itself against the stack of directories opened so far, so it
 * can tell when a path would leave the root. Renames racing with the
 * walk can make it fail, never escape. */
static int
resolve_walk (int          root_fd,
              const char  *name,
              int          flags,
              int         *saved_errno)
{
  Walk walk = { g_ptr_array_new (), G_QUEUE_INIT, 0 };
  int fd = -1;

  *saved_errno = 0;
  g_ptr_array_add (walk.dirs, GINT_TO_POINTER (root_fd));
  walk_push_path (&walk, name);

  while (*saved_errno == 0 && fd < 0)
    {
      g_autofree char *component = g_queue_pop_head (&walk.pending);
      gboolean last = g_queue_is_empty (&walk.pending);
      int next;

      if (component == NULL)
        {
          /* The path ended on a directory (a link to "." or similar). */
          *saved_errno = EISDIR;
          break;
        }

      if (strcmp (component, "..") == 0)
        {
          if (walk.dirs->len == 1)
            *saved_errno = EXDEV;
          else
            g_close (GPOINTER_TO_INT (g_ptr_array_steal_index (walk.dirs, walk.dirs->len - 1)), NULL);
          continue;
        }

      next = openat (walk_top (&walk), component,
                     last ? flags | O_NOFOLLOW
                          : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      /* O_PATH | O_NOFOLLOW opens a link itself where other flags fail. */
      if (next >= 0 && last && (flags & O_PATH) && is_link (next))
        {
          g_close (next, NULL);
          next = -1;
          errno = ELOOP;
        }
      if (next >= 0)
        {
          if (last)
            fd = next;
          else
            g_ptr_array_add (walk.dirs, GINT_TO_POINTER (next));
          continue;
        }

      /* O_NOFOLLOW refuses a link with ELOOP (last) or ENOTDIR (O_DIRECTORY):
       * find out whether it was one before giving up. */
      *saved_errno = errno;
      if (*saved_errno == ELOOP || *saved_errno == ENOTDIR)
        {
          struct stat lst;

          if (fstatat (walk_top (&walk), component, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISLNK (lst.st_mode))
            *saved_errno = walk_follow_link (&walk, component);
        }
    }

  walk_clear (&walk);
  return fd;
}

/* The Resolver of fc_open_beneath() and friends: openat2() where the
 * kernel has it, the walk where it does not (learnt once per process). */
static int
resolve_default (int          root_fd,
                 const char  *name,
                 int          flags,
                 int         *saved_errno)
{
  static gint have_openat2 = TRUE;
  int fd;

  if (g_atomic_int_get (&have_openat2))
    {
      fd = resolve_openat2 (root_fd, name, flags, saved_errno);
      if (fd >= 0 || *saved_errno != ENOSYS)
        return fd;
      g_atomic_int_set (&have_openat2, FALSE);
    }
  return resolve_walk (root_fd, name, flags, saved_errno);
}

/* Resolves @name beneath @root_fd to an O_PATH descriptor, which opens
 * nothing; a path that leaves the root on the way gets the second look of
 * resolve_escaping(). Returns the descriptor, or -1 with @error set. */
static int
resolve_path (Resolver      resolve,
              int           root_fd,
              const char   *name,
              GError      **error)
{
  int saved_errno;
  int pfd;

  pfd = resolve (root_fd, name, PATH_FLAGS, &saved_errno);
  if (pfd < 0 && saved_errno == ENOSYS)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "openat2() is not available");
      return -1;
    }
  if (pfd < 0 && saved_errno == EXDEV)
    pfd = resolve_escaping (root_fd, name, &saved_errno);
  if (pfd < 0)
    return open_error (name, saved_errno, error);
  return pfd;
}

/* Opening for reading is not free of effects on anything but a regular
 * file or a directory: it releases a writer blocked in open() on a FIFO
 * (whose message is then lost), rewinds a tape, hangs up a modem. So the
 * name is first resolved to an O_PATH descriptor, which opens nothing,
 * and only @kind's type is opened for reading, through /proc so that it
 * is the very inode checked. Without /proc, it is resolved again by name
 * and checked again after opening: a file swapped for a FIFO in between
 * is still refused, though that FIFO was opened. */
static int
open_beneath (Resolver      resolve,
              const Kind   *kind,
              int           root_fd,
              const char   *name,
              struct stat  *st,
              GError      **error)
{
  char reopen[64];
  int saved_errno;
  int pfd;
  int fd;

  pfd = resolve_path (resolve, root_fd, name, error);
  if (pfd < 0)
    return -1;
  pfd = check_kind (pfd, kind, name, st, error);
  if (pfd < 0)
    return -1;

  g_snprintf (reopen, sizeof reopen, "/proc/self/fd/%d", pfd);
  fd = open (reopen, kind->flags);
  saved_errno = errno;
  g_close (pfd, NULL);
  if (fd < 0 && saved_errno == ENOENT)
    fd = resolve (root_fd, name, kind->flags, &saved_errno);
  if (fd < 0)
    return open_error (name, saved_errno, error);
  return check_kind (fd, kind, name, st, error);
}

/**
 * fc_open_beneath_openat2:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate()
 * @st: (out): the opened file's status
 * @error: an %FC_ERROR, or %G_IO_ERROR_NOT_SUPPORTED when the kernel
 *   lacks openat2()
 *
 * Opens @name for reading with the kernel refusing any resolution that
 * leaves @root_fd, through `..` or any symbolic link; a name refused so
 * is resolved once more in full and opened only if the file it reaches
 * lies beneath the root. Nothing but a regular file is ever opened for
 * reading.
 *
 * Returns: a descriptor of a regular file, or -1
 */
int
fc_open_beneath_openat2 (int           root_fd,
                         const char   *name,
                         struct stat  *st,
                         GError      **error)
{
  return open_beneath (resolve_openat2, &file_kind, root_fd, name, st, error);
}

/**
 * fc_open_beneath_walk:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate()
 * @st: (out): the opened file's status
 * @error: an %FC_ERROR
 *
 * The same contract as fc_open_beneath_openat2() for kernels without it,
 * resolving one component at a time in user space.
 *
 * Returns: a descriptor of a regular file, or -1
 */
int
fc_open_beneath_walk (int           root_fd,
                      const char   *name,
                      struct stat  *st,
                      GError      **error)
{
  return open_beneath (resolve_walk, &file_kind, root_fd, name, st, error);
}

/**
 * fc_open_beneath:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate()
 * @st: (out): the opened file's status
 * @error: an %FC_ERROR
 *
 * Opens @name beneath @root_fd for reading, never opening a file that
 * lies outside it once every link is resolved.
 * Uses openat2() where the kernel has it and falls back to
 * fc_open_beneath_walk() where it does not.
 *
 * Returns: a descriptor of a regular file, or -1
 */
int
fc_open_beneath (int           root_fd,
                 const char   *name,
                 struct stat  *st,
                 GError      **error)
{
  return open_beneath (resolve_default, &file_kind, root_fd, name, st, error);
}

/**
 * fc_open_dir_beneath:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate(), or "" for @root_fd itself
 * @st: (out): the opened directory's status
 * @error: an %FC_ERROR: %FC_ERROR_NOT_FOUND also when @name is not a
 *   directory (ENOTDIR's answer)
 *
 * fc_open_beneath() for a directory, to read its entries (fdopendir()):
 * the same confinement, the same refusal of anything else unopened.
 * Any thread.
 *
 * Returns: an `O_RDONLY | O_DIRECTORY` descriptor, or -1
 */
int
fc_open_dir_beneath (int           root_fd,
                     const char   *name,
                     struct stat  *st,
                     GError      **error)
{
  int fd;

  /* No resolver takes "" (openat2() says ENOENT, the walk ends on no
   * component): the root is @root_fd itself, nothing to confine. */
  if (name[0] != '\0')
    return open_beneath (resolve_default, &dir_kind, root_fd, name, st, error);

  fd = openat (root_fd, ".", dir_kind.flags);
  if (fd < 0)
    return open_error (".", errno, error);
  return check_kind (fd, &dir_kind, ".", st, error);
}

/**
 * fc_stat_beneath:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate()
 * @st: (out): the status of what @name reaches, when %TRUE
 * @error: an %FC_ERROR: %FC_ERROR_OUTSIDE_ROOT when that lies outside
 *   @root_fd, %FC_ERROR_NOT_FOUND for a dangling link
 *
 * The status of whatever @name reaches once every link is resolved,
 * under fc_open_beneath()'s confinement, of any type, opening nothing
 * (an O_PATH descriptor): for a listing that shows a link as what it
 * resolves to. Any thread.
 *
 * Returns: whether @st was filled
 */
gboolean
fc_stat_beneath (int           root_fd,
                 const char   *name,
                 struct stat  *st,
                 GError      **error)
{
  int pfd = resolve_path (resolve_default, root_fd, name, error);
  int saved_errno;
  int rc;

  if (pfd < 0)
    return FALSE;
  rc = fstat (pfd, st);
  saved_errno = errno;
  g_close (pfd, NULL);
  if (rc == 0)
    return TRUE;
  open_error (name, saved_errno, error);
  return FALSE;
}

/**
 * fc_stat_beneath_plain:
 * @root_fd: a directory descriptor
 * @name: a name that passed fc_name_validate()
 * @st: (out): the file's status, when %TRUE
 *
 * The cheap test a cached copy is served on, without opening anything:
 * @name is a regular file reached from @root_fd through directories
 * only, no component a symbolic link, so it lies beneath the root at
 * this instant. A link anywhere on the way (a directory moved out and
 * linked back in, PROTOCOL.md's "once every link is resolved") answers
 * %FALSE, and so does any failure: the caller then takes the full
 * confined path of fc_open_beneath(), which knows which links stay
 * inside. Costs one fstatat() per component: a name without `/` costs
 * exactly the one a freshness check needs anyway. Any thread; sets no
 * error, as there is nothing to report that the full path will not.
 *
 * Returns: whether @st holds the status of a regular file so reached
 */
gboolean
fc_stat_beneath_plain (int          root_fd,
                       const char  *name,
                       struct stat *st)
{
  char prefix[FC_NAME_MAX + 1];
  gsize len;

  if (fstatat (root_fd, name, st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0 ||
      !S_ISREG (st->st_mode))
    return FALSE;
  if (strchr (name, '/') == NULL)
    return TRUE;

  len = strlen (name);
  if (len >= sizeof prefix)
    return FALSE;
  memcpy (prefix, name, len + 1);
  /* Each directory in turn: once one is known not to be a link, the next
   * fstatat() follows no link to reach its child. */
  for (char *slash = strchr (prefix, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
    {
      struct stat dir;
      gboolean plain;

      *slash = '\0';
      plain = fstatat (root_fd, prefix, &dir, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) == 0 &&
              S_ISDIR (dir.st_mode);
      *slash = '/';
      if (!plain)
        return FALSE;
    }
  return TRUE;
}
