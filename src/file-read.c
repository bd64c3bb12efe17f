#define G_LOG_DOMAIN "filecached"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "abandon.h"
#include "beneath.h"
#include "errors.h"
#include "file-read.h"
#include "settle.h"

/**
 * fc_file_unchanged:
 * @fd: an open file
 * @id: (inout): its identity as last proved; a change of metadata alone is
 *   taken into it
 *
 * Whether the content of @fd can still be the one it had when @id was
 * taken, checked after a read that no writer overlapped (see
 * proof_begin()): a write that began and ended since stamped size,
 * mtime or ctime. On its own, before and after a read, it proves
 * nothing: the kernel stamps mtime and ctime when a write() begins
 * (file_modified() precedes the copy in generic_perform_write()), so a
 * write still copying, or stores through a shared mapping, pass it.
 * mtime may be put back (touch -r, utimensat()): that moves ctime.
 * ctime moves too for a rename over the name, an unlink, a new link, a
 * chmod or a chown, which leave the open file's bytes alone; each of those
 * also changes the link count, the mode or the owner, and a rewrite with
 * mtime put back changes none of them. So a moved ctime is a change of
 * content unless one of those moved with it (a rewrite and a chmod between
 * two checks would pass: each check is at most one read apart).
 */
gboolean
fc_file_unchanged (int       fd,
                   FcFileId *id)
{
  struct stat st;
  FcFileId now = *id;

  if (fstat (fd, &st) != 0)
    return FALSE;
  fc_file_id_from_stat (&now, &st);
  if (now.size != id->size || now.mtime_ns != id->mtime_ns)
    return FALSE;
  if (now.ctime_ns == id->ctime_ns)
    return TRUE;
  if (now.mode == id->mode && now.uid == id->uid && now.gid == id->gid &&
      now.nlink == id->nlink)
    return FALSE;
  *id = now;
  return TRUE;
}

static void
set_changed_error (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                       _("The file changed while it was read"));
}

/**
 * fc_file_read_init:
 *
 * Makes the process immune to the signal a lease break sends (SIGIO,
 * whose default action ends the process): a writer opening a file while
 * a read holds its lease only waits for the read's end, which is the
 * whole answer. Call it once before any read, from the main thread.
 */
void
fc_file_read_init (void)
{
  struct sigaction ignore = { .sa_handler = SIG_IGN };

  sigaction (SIGIO, &ignore, NULL);
}

/* Without the right to leases the weaker settle rule holds
 * (fc_settle_readable()), which a writer that pauses mid-rewrite can
 * outwait: an admin must know, once, not per read. */
static void
warn_no_lease (int fd,
               int errsv)
{
  static gsize told;

  if (g_once_init_enter (&told))
    {
      g_autofree char *path = fc_fd_path (fd);

      g_warning (_("Cannot take a read lease on “%s”: %s; a file rewritten in place is served only "
                   "once it has not changed for a settle period, which a writer that pauses "
                   "mid-rewrite can outlast (give the daemon CAP_LEASE or ownership of the files)"),
                 path != NULL ? path : "?", g_strerror (errsv));
      g_once_init_leave (&told, 1);
    }
}

/* The proof that nobody writes while a read runs. A read lease
 * (F_SETLEASE F_RDLCK, fcntl(2)) can only be taken while nobody has the
 * file open for writing (a writable shared mapping counts, even once its
 * descriptor is closed), and while it is held any open() for writing or
 * truncate() waits until it is given back (or lease-break-time, 45 s, has
 * passed, which one read never approaches): so bytes read under it, with
 * the identity unchanged after, are one version, whatever write() or
 * mmap() a writer uses. Taking it needs the file's owner or CAP_LEASE,
 * and a filesystem with leases; a network or FUSE filesystem may grant
 * one that other machines' writers never see. Without one, the version
 * is trusted only once settled (fc_settle_readable()).
 *
 * Returns whether a lease was taken and must be given back; FALSE with
 * %G_IO_ERROR_BUSY when no read now could be proved. */
static gboolean
proof_begin (int              fd,
             const FcFileId  *id,
             gboolean        *leased,
             GError         **error)
{
  *leased = FALSE;
  if (!id->foreign)
    {
      if (fcntl (fd, F_SETLEASE, F_RDLCK) == 0)
        return *leased = TRUE;
      if (errno == EAGAIN)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                               _("The file is open for writing"));
          return FALSE;
        }
      /* EINVAL: a filesystem without leases (procfs, sysfs), where no
       * writer rewrites anything in place; the admin can do nothing. */
      if (errno == EACCES || errno == EPERM)
        warn_no_lease (fd, errno);
    }
  if (fc_settle_check (id, NULL, fc_settle_readable))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                       _("The file changed too recently to be read as one version"));
  return FALSE;
}

/* Gives the lease back once a change would stamp another ctime. Until
 * then a writer that opened, wrote and closed between this read and the
 * next could keep the identity, so the lease stays (closing the file
 * gives it back; a writer waits for that, or for lease-break-time):
 * only for a file changed within the clock's last tick, or whose ctime
 * is ahead of the clock. */
static void
proof_end (int             fd,
           const FcFileId *id,
           gboolean        leased)
{
  if (leased && fc_settle_tick_passed (id))
    fcntl (fd, F_SETLEASE, F_UNLCK);
}

/* Reads until @want bytes or the end of the file; returns how many, or
 * -1 with errno set. */
static gssize
read_fully (int      fd,
            guint64  offset,
            char    *buf,
            gsize    want)
{
  gsize done = 0;

  while (done < want)
    {
      ssize_t n = pread (fd, buf + done, want - done, (off_t) (offset + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += (gsize) n;
    }
  return (gssize) done;
}

/* A file that reads longer or shorter than its size while its identity
 * holds is a pseudo-file (procfs, sysfs): its stat size says nothing, and
 * serving it would drop or invent content. */
static gboolean
check_length (gssize           n,
              gsize            want,
              int              fd,
              FcFileId        *id,
              GError         **error)
{
  if (n < 0)
    {
      int saved_errno = errno;

      g_set_error (error, FC_ERROR, FC_ERROR_READ_FAILED,
                   _("Read failed: %s"), g_strerror (saved_errno));
      return FALSE;
    }
  if (!fc_file_unchanged (fd, id))
    {
      set_changed_error (error);
      return FALSE;
    }
  if ((gsize) n != want)
    {
      g_set_error_literal (error, FC_ERROR, FC_ERROR_SIZE_MISMATCH,
                           _("The file’s content is not as long as its size says"));
      return FALSE;
    }
  return TRUE;
}

/* The kernel's readahead for a file read in order grows to
 * read_ahead_kb (8 MiB on this project's machine) in one go, inside the
 * read() that triggers it: bench/pressure saw the pool and the bulk
 * senders spend 30-70 ms of a processor in one pread() (zeroing a sparse
 * file's page cache), and a kernel without preemption (preempt=none)
 * lets no woken worker run on that processor meanwhile; with
 * read_ahead_kb at 256 the probes' p99 fell from 38-90 ms to 5-6 ms.
 * So a large read turns the kernel's readahead off for the file
 * (POSIX_FADV_RANDOM: each read reads what it asks) and asks for the
 * next piece, as large as itself, on its own (POSIX_FADV_WILLNEED
 * starts it and returns): no system call does more than one piece's
 * work, and the disk still reads ahead of the reader. A small file is
 * read in one go, and left alone. */
#define OWN_READAHEAD_MIN (256 * 1024)

static void
read_ahead_bounded (int             fd,
                    const FcFileId *id,
                    guint64         offset,
                    gsize           ask)
{
  guint64 next = offset + ask;

  if (ask < OWN_READAHEAD_MIN)
    return;
  posix_fadvise (fd, 0, 0, POSIX_FADV_RANDOM);
  if (next < id->size)
    posix_fadvise (fd, (off_t) next, (off_t) MIN (id->size - next, ask), POSIX_FADV_WILLNEED);
}

/* Reads @ask bytes from @offset, of which @want must be there, proved
 * to belong to the version @id names. */
static gboolean
read_proved (int        fd,
             FcFileId  *id,
             guint64    offset,
             char      *buf,
             gsize      ask,
             gsize      want,
             GError   **error)
{
  gboolean leased, proved;
  gssize n;

  if (!proof_begin (fd, id, &leased, error))
    return FALSE;
  read_ahead_bounded (fd, id, offset, ask);
  n = read_fully (fd, offset, buf, ask);
  /* The identity is checked before the lease goes: no writer got in. */
  proved = check_length (n, want, fd, id, error);
  proof_end (fd, id, leased);
  return proved;
}

/**
 * fc_file_read_at:
 * @fd: an open file
 * @id: (inout): its identity as last proved (fc_file_unchanged())
 * @offset: where to start, in bytes
 * @buf: (out caller-allocates): at least @want bytes, plus one when the
 *   read reaches the end of the file
 * @want: bytes to read; at most `id->size - offset`
 * @error: %G_IO_ERROR_BUSY when the file changed, is open for writing,
 *   or (without a lease) changed too recently (nothing read can be
 *   trusted), %FC_ERROR_SIZE_MISMATCH when it is shorter (or, read to its
 *   end, longer) than its size, %FC_ERROR_READ_FAILED
 *
 * Reads @want bytes of the version @id names, under a read lease taken
 * on @fd for the read (kept until @fd is closed while ctime's tick is
 * not over: see proof_end()). Any thread; one read on @fd at a time.
 *
 * Returns: %TRUE when exactly @want bytes of that version are in @buf
 */
gboolean
fc_file_read_at (int              fd,
                 FcFileId        *id,
                 guint64          offset,
                 char            *buf,
                 gsize            want,
                 GError         **error)
{
  /* Reaching the end, one byte more tells a longer pseudo-file. */
  gsize ask = offset + want == id->size ? want + 1 : want;

  return read_proved (fd, id, offset, buf, ask, want, error);
}

/**
 * fc_file_readable:
 * @fd: an open file
 * @id: (inout): its identity as last proved (fc_file_unchanged())
 * @error: %G_IO_ERROR_BUSY as fc_file_read_at() would fail now (the file
 *   is open for writing, changed, or without a lease changed too
 *   recently)
 *
 * Whether a read of the version @id names could be proved now, reading
 * nothing: what a HEAD asks, whose status must be the GET's (HTTP.md).
 * Takes the lease and gives it back as a read does. Any thread.
 *
 * Returns: %TRUE when a read now would be proved
 */
gboolean
fc_file_readable (int        fd,
                  FcFileId  *id,
                  GError   **error)
{
  /* A proved read of nothing: no pread(), the same proof. */
  return read_proved (fd, id, 0, NULL, 0, 0, error);
}

/* A whole load reads this much at a time: each slice is proved on its
 * own, and a stop is seen between two. */
#define WHOLE_SLICE (1024 * 1024)

/**
 * fc_file_read_whole:
 * @fd: an open file
 * @id: its identity when opened
 * @wanted_by: (nullable): the flight the load lands, for work that gives
 *   up once nobody waits for it; %NULL: done in any case
 * @error: as for fc_file_read_at(), %G_IO_ERROR_NO_SPACE when there is
 *   no memory for it (the caller can still stream it), or
 *   %G_IO_ERROR_CANCELLED once long work is abandoned, or every joiner of
 *   @wanted_by has left (src/abandon.h)
 *
 * Reads the whole of the version @id names into memory, 1 MiB at a time.
 * An allocation sized by a file never aborts the process. Any thread.
 *
 * Returns: (transfer full): the content, or %NULL with @error set
 */
GBytes *
fc_file_read_whole (int              fd,
                    const FcFileId  *id,
                    FcFlight        *wanted_by,
                    GError         **error)
{
  FcFileId proved = *id;
  g_autofree char *data = NULL;
  gsize want;

  /* One byte more: reading to the end tells a longer pseudo-file. */
  if (id->size < G_MAXSIZE)
    data = g_try_malloc (id->size + 1);
  if (data == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _("Not enough memory to load %" PRIu64 " bytes"), id->size);
      return NULL;
    }

  /* An empty file is read too: a pseudo-file tells by a byte. */
  for (guint64 offset = 0; offset == 0 || offset < id->size; offset += want)
    {
      want = (gsize) MIN (id->size - offset, WHOLE_SLICE);
      if (!fc_long_work_go_on (wanted_by, N_("Loading abandoned: the daemon is stopping"),
                               N_("Loading abandoned: nobody waits for it any more"), error))
        return NULL;
      if (!fc_file_read_at (fd, &proved, offset, data + offset, want, error))
        return NULL;
      if (want == 0)
        break;
    }
  return g_bytes_new_take (g_steal_pointer (&data), id->size);
}
