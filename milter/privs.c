/* privs: see privs.h. */
#include "milter/privs.h"
#include "lib/core/log.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fl_privs_lookup(const struct fl_config *cfg, uid_t *uid_r, gid_t *gid_r,
                    struct fl_buf *err)
{
    if (*cfg->user == '\0')
        return 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (pw == NULL) {
        fl_buf_puts(err,
                    "unknown user (create it, e.g. adduser --system --group faultline, "
                    "or set user to an existing one)");
        return -1;
    }
    *uid_r = pw->pw_uid;
    *gid_r = pw->pw_gid;
    if (*cfg->group) {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL) {
            fl_buf_puts(err, "unknown group");
            return -1;
        }
        *gid_r = gr->gr_gid;
    }
    if (geteuid() != 0)
        return 0; /* cannot switch; run as whoever started us */
    return 1;
}

int fl_privs_drop(const char *user, uid_t uid, gid_t gid)
{
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        fl_error("cannot drop privileges to %s: %s", user, strerror(errno));
        return -1;
    }
    /* Make sure there is no way back. */
    if (uid != 0 && setuid(0) == 0) {
        fl_error("privileges could be regained after dropping them; refusing to run");
        return -1;
    }
    fl_info("running as user %s (uid %u, gid %u)", user, (unsigned)uid, (unsigned)gid);
    return 0;
}

int fl_pidfile_write(const char *path, uid_t uid, gid_t gid)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *d = dirname(dir);
    struct stat st;
    if (stat(d, &st) < 0) {
        if (mkdir(d, 0755) < 0) {
            fl_error("pidfile directory %s: %s", d, strerror(errno));
            return -1;
        }
        if (geteuid() == 0 && chown(d, uid, gid) < 0)
            fl_warn("pidfile directory %s: chown: %s", d, strerror(errno));
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fl_error("pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0) {
        fl_error("pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
