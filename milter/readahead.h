/* readahead: fewer system calls per MTA command.

   libmilter reads each milter command with poll(2) + read(2) of its 5-byte
   head, then poll(2) + read(2) of its body, and after each command polls
   once more (1 ms) to see whether the next one is there: about 180 system
   calls per message, over half the daemon's CPU on a virtual machine.  The
   MTA writes the commands it expects no reply to (macros, headers, body
   chunks: the SMFIP_NR_* steps) back to back, so one read(2) can take many
   of them at once.

   This module interposes read(2), poll(2) and close(2) for the sockets
   libmilter accepts (accept(2) is interposed in listener.c and registers
   them here): a small read from such a socket fills a per-socket buffer
   with one read(2) of up to FL_READAHEAD_SIZE bytes and is served from it;
   poll(2) reports POLLIN at once, without a system call, for a socket whose
   buffer holds data; close(2) drops the buffer.  A read from a TCP socket
   re-arms TCP_QUICKACK, so the MTA's commands that get no reply are not
   held back by its Nagle algorithm waiting for our delayed ACK.  Reads of at least
   FL_READAHEAD_SIZE bytes with an empty buffer go straight to the socket.
   Every other descriptor of the process (DNS, Redis, the metrics server)
   is passed through untouched.  The buffer is allocated when it is filled
   and freed when it is drained, so an idle session holds none.

   Thread-safety: libmilter serves a session on one worker thread at a time
   and hands it over through its own locks; the buffer is touched only by
   that thread, and the fields poll(2) reads for the other sessions are
   read atomically. */
#ifndef FL_MILTER_READAHEAD_H
#define FL_MILTER_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>

enum { FL_READAHEAD_SIZE = 16384 };

/* Sizes the descriptor table to the process's descriptor limit.  Called
   once, before libmilter accepts its first connection; until then (and if
   it fails: out of memory) every descriptor is passed through. */
void fl_readahead_init(void);
/* Buffers reads of fd, a connected stream socket just accepted (tcp: a
   TCP one, whose reads re-arm TCP_QUICKACK). */
void fl_readahead_add(int fd, bool tcp);
/* Whether fd is a socket registered with fl_readahead_add and not closed
   since: one libmilter accepted. */
bool fl_readahead_accepted(int fd);
/* Bytes of fd read ahead and not yet handed out (tests). */
size_t fl_readahead_pending(int fd);

#endif
