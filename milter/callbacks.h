/* callbacks: the libmilter callbacks -- every one registered.  They gather
   the SMTP facts into struct fl_conn/fl_msg, call lib/ for the work, and
   apply the verdict at end of message.  Each runs on the libmilter thread
   of its connection. */
#ifndef FL_MILTER_CALLBACKS_H
#define FL_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

/* The largest milter packet accepted (libmilter drops the whole session
   on a bigger one): a header of up to 1 MiB, ten times Postfix's default
   header_size_limit.  Default libmilter: 64 KiB. */
#define FL_MILTER_MAX_DATA ((1024 * 1024) - 1)

/* The filter description passed to smfi_register. */
extern struct smfiDesc fl_milter_desc;

#endif
