/* Starts PROGRAM ARGS... as systemd starts a socket-activated service:
 * the listening sockets are already descriptors 3 and up, and
 * LISTEN_PID names the process that will run PROGRAM, which only the
 * process itself knows before exec (GSubprocess cannot set it).
 *
 * Usage: activate N_FDS PROGRAM [ARG...] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main (int argc, char *argv[])
{
  char pid[32];

  if (argc < 3)
    {
      fprintf (stderr, "usage: activate N_FDS PROGRAM [ARG...]\n");
      return 2;
    }
  snprintf (pid, sizeof pid, "%ld", (long) getpid ());
  if (setenv ("LISTEN_PID", pid, 1) != 0 || setenv ("LISTEN_FDS", argv[1], 1) != 0)
    {
      perror ("setenv");
      return 127;
    }
  execv (argv[2], argv + 2);
  perror (argv[2]);
  return 127;
}
