/* privs: dropping root privileges and the pid file.  Startup only. */
#ifndef FL_MILTER_PRIVS_H
#define FL_MILTER_PRIVS_H

#include <sys/types.h>

#include "lib/core/config.h"

/* Looks up cfg->user/group.  Returns 1 and sets uid/gid if a switch is due,
   0 if there is nothing to do (user empty, or not root and already that
   user), -1 with the reason appended to err for an unknown user or group. */
int fl_privs_lookup(const struct fl_config *cfg, uid_t *uid_r, gid_t *gid_r,
                    struct fl_buf *err);
/* Switches to uid/gid for good (supplementary groups dropped).  Returns 0
   or -1 (logged). */
int fl_privs_drop(const char *user, uid_t uid, gid_t gid);

/* Writes our pid to path, creating its directory (0755, owned by uid/gid)
   if missing.  Returns 0 or -1 (logged). */
int fl_pidfile_write(const char *path, uid_t uid, gid_t gid);

#endif
