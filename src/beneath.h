#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

int fc_open_beneath          (int           root_fd,
                              const char   *name,
                              struct stat  *st,
                              GError      **error);
int fc_open_beneath_openat2  (int           root_fd,
                              const char   *name,
                              struct stat  *st,
                              GError      **error);
int fc_open_beneath_walk     (int           root_fd,
                              const char   *name,
                              struct stat  *st,
                              GError      **error);
int fc_open_dir_beneath      (int           root_fd,
                              const char   *name,
                              struct stat  *st,
                              GError      **error);
gboolean fc_stat_beneath     (int           root_fd,
                              const char   *name,
                              struct stat  *st,
                              GError      **error);

gboolean fc_stat_beneath_plain (int           root_fd,
                                const char   *name,
                                struct stat  *st);

char    *fc_fd_path            (int           fd);

G_END_DECLS
