/* notify: see notify.h. */
#include "milter/notify.h"
#include "lib/core/log.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

/* sd_notify returns 0 without NOTIFY_SOCKET, >0 when sent, <0 on error;
   a lost notification is logged once per call, never fatal. */
static void notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        fl_warn("sd_notify(%s): error %d", state, -rc);
}

void fl_notify_ready(const char *socket_spec)
{
    char state[512];
    snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld\nSTATUS=listening on %s",
             (long)getpid(), socket_spec);
    notify(state);
}

void fl_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[128];
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify(state);
}

void fl_notify_reloaded(int rc)
{
    notify(rc == 0 ? "READY=1\nSTATUS=configuration reloaded"
                   : "READY=1\nSTATUS=reload failed: running configuration kept");
}

void fl_notify_stopping(void)
{
    notify("STOPPING=1\nSTATUS=draining sessions");
}
