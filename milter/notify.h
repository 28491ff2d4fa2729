/* notify: tells the service manager (systemd, Type=notify) what the daemon
   is doing, through sd_notify(3).  Without NOTIFY_SOCKET in the environment
   every call is a no-op, so the daemon behaves the same outside systemd. */
#ifndef FL_MILTER_NOTIFY_H
#define FL_MILTER_NOTIFY_H

/* The socket is bound and the daemon serves: READY=1 with MAINPID (the
   daemon may have forked) and a STATUS= line naming the socket. */
void fl_notify_ready(const char *socket_spec);
/* A SIGHUP reload starts: RELOADING=1 (with MONOTONIC_USEC, as systemd 253+
   expects for Type=notify-reload). */
void fl_notify_reloading(void);
/* The reload is over (applied, or kept the running configuration):
   READY=1 again, with a STATUS= line saying which. */
void fl_notify_reloaded(int rc);
/* SIGTERM: no new connections, the sessions in flight drain: STOPPING=1. */
void fl_notify_stopping(void);

#endif
