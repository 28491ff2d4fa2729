#!/usr/bin/python3
# tests/dns/fakedns.py -- faultline's hermetic test DNS server.
#
# Serves fixture zone files on 127.0.0.1 (UDP and TCP on one port) the way a
# recursive resolver would answer a forwarding client such as libunbound:
# RA set, CNAME chains inside our zones followed into the answer section,
# NXDOMAIN/NODATA with the zone SOA in AUTHORITY, names in none of our zones
# REFUSED.  Faults (delay, SERVFAIL, drop, truncation, TCP refusal, garbage,
# wrong message ID, Extended DNS Errors, any rcode) are read from a text file
# that is reloaded on SIGHUP and whenever it changes.  Every query received is
# logged as "proto qname qtype" so tests can count what reached the server.
#
# All DNS messages are built and parsed with dnspython; nothing here packs
# wire format by hand (the "malformed" fault cuts a dnspython-rendered
# message short).  Single-threaded asyncio: a delayed answer is a timer, so
# it never holds up other queries.
#
# Needs Debian's python3-dnspython (run with /usr/bin/python3).  See README
# beside this file for the fixture and fault formats.

import argparse
import asyncio
import os
import shutil
import signal
import socket
import struct
import sys

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

OUR_PAYLOAD = 1232  # what we advertise in EDNS answers
MAX_CNAME_CHAIN = 16
TCP_IDLE_TIMEOUT = 30.0  # seconds a TCP connection may sit idle
FAULT_POLL = 0.2  # seconds between fault-file mtime checks


def warn(msg):
    print("fakedns: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Zones


class ZoneSet:
    """The loaded fixture zones, answering like a recursive resolver."""

    def __init__(self, paths):
        self.zones = {}  # origin Name -> (dns.zone.Zone, set of existing names)
        for path in self._expand(paths):
            self._load(path)
        if not self.zones:
            raise ValueError("no zone files found in %s" % " ".join(paths))

    @staticmethod
    def _expand(paths):
        out = []
        for p in paths:
            if os.path.isdir(p):
                out.extend(
                    os.path.join(p, f)
                    for f in sorted(os.listdir(p))
                    if f.endswith(".zone")
                )
            else:
                out.append(p)
        return out

    def _load(self, path):
        try:
            z = dns.zone.from_file(path, relativize=False)
        except dns.zone.UnknownOrigin:
            # No $ORIGIN in the file: the file name (minus .zone) is the origin.
            base = os.path.basename(path)
            if base.endswith(".zone"):
                base = base[: -len(".zone")]
            z = dns.zone.from_file(path, origin=base, relativize=False)
        if z.origin in self.zones:
            raise ValueError("%s: zone %s loaded twice" % (path, z.origin))
        # Every name that exists, including empty non-terminals.
        exists = set()
        for name in z.nodes:
            n = name
            while n.is_subdomain(z.origin):
                exists.add(n)
                if n == z.origin:
                    break
                n = n.parent()
        self.zones[z.origin] = (z, exists)

    def find_zone(self, qname):
        best = None
        for origin in self.zones:
            if qname.is_subdomain(origin):
                if best is None or len(origin) > len(best):
                    best = origin
        return None if best is None else self.zones[best]

    @staticmethod
    def _soa(z):
        soa = z.get_rdataset(z.origin, dns.rdatatype.SOA)
        ttl = min(soa.ttl, soa[0].minimum)  # RFC 2308 negative TTL
        return dns.rrset.from_rdata_list(z.origin, ttl, list(soa))

    @staticmethod
    def _node(z, exists, qname):
        """The node for qname (wildcard-synthesised if need be), or None.
        Returns (node, exists_flag)."""
        node = z.get_node(qname)
        if node is not None:
            return node, True
        if qname in exists:
            return None, True  # empty non-terminal
        # Closest encloser, then its wildcard (RFC 4592).
        n = qname.parent()
        while n not in exists:
            n = n.parent()
        wild = z.get_node(dns.name.Name((b"*",) + n.labels))
        if wild is not None:
            return wild, True
        return None, False

    def resolve(self, qname, qtype):
        """Returns (rcode, answer rrsets, authority rrsets)."""
        answer = []
        seen = set()
        for _ in range(MAX_CNAME_CHAIN):
            found = self.find_zone(qname)
            if found is None:
                if not answer:
                    return dns.rcode.REFUSED, [], []
                warn("CNAME chain leaves our zones at %s" % qname)
                return dns.rcode.SERVFAIL, answer, []
            z, exists = found
            node, name_exists = self._node(z, exists, qname)
            if not name_exists:
                return dns.rcode.NXDOMAIN, answer, [self._soa(z)]
            if node is None:
                return dns.rcode.NOERROR, answer, [self._soa(z)]
            if qtype == dns.rdatatype.ANY:
                sets = [rds for rds in node.rdatasets]
            else:
                rds = node.get_rdataset(dns.rdataclass.IN, qtype)
                sets = [rds] if rds is not None else []
            if sets:
                for rds in sets:
                    answer.append(dns.rrset.from_rdata_list(qname, rds.ttl, list(rds)))
                return dns.rcode.NOERROR, answer, []
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None:
                return dns.rcode.NOERROR, answer, [self._soa(z)]
            answer.append(dns.rrset.from_rdata_list(qname, cname.ttl, list(cname)))
            seen.add(qname)
            qname = cname[0].target
            if qname in seen:
                warn("CNAME loop at %s" % qname)
                return dns.rcode.SERVFAIL, answer, []
        warn("CNAME chain longer than %d" % MAX_CNAME_CHAIN)
        return dns.rcode.SERVFAIL, answer, []


# --------------------------------------------------------------------------
# Faults

OUTCOMES = (
    "servfail",
    "refused",
    "nxdomain",
    "rcode",
    "drop",
    "truncate",
    "notcp",
    "malformed",
    "badid",
)


class Fault:
    def __init__(self, lineno, name, rdtype, action, args):
        self.lineno = lineno
        self.action = action
        self.arg = None
        self.text = None
        if name == "*":
            self.suffix = dns.name.root
            self.exact = None
        elif name.startswith("*."):
            self.suffix = dns.name.from_text(name[2:])
            self.exact = None
        else:
            self.suffix = None
            self.exact = dns.name.from_text(name)
        self.rdtype = None if rdtype.upper() == "ANY" else dns.rdatatype.from_text(rdtype)
        if action == "delay":
            if len(args) != 1:
                raise ValueError("delay takes one argument, milliseconds")
            self.arg = int(args[0])
            if self.arg < 0:
                raise ValueError("negative delay")
        elif action == "rcode":
            if len(args) != 1:
                raise ValueError("rcode takes one argument, a name or number")
            self.arg = dns.rcode.from_text(args[0].upper())
        elif action == "ede":
            if not args:
                raise ValueError("ede takes a code and optional text")
            code = args[0]
            if code.isdigit():
                self.arg = int(code)
                if self.arg > 65535:
                    raise ValueError("EDE code out of range")
            else:
                self.arg = dns.edns.EDECode.from_text(code.upper().replace("-", "_"))
            self.text = " ".join(args[1:]) or None
        elif action in OUTCOMES:
            if args:
                raise ValueError("%s takes no argument" % action)
        else:
            raise ValueError("unknown action %r" % action)

    def matches(self, qname, qtype):
        if self.rdtype is not None and self.rdtype != qtype:
            return False
        if self.exact is not None:
            return qname == self.exact
        return qname != self.suffix and qname.is_subdomain(self.suffix)


class Plan:
    """What the matching faults say to do with one query."""

    def __init__(self):
        self.outcome = None  # one of OUTCOMES or None (answer normally)
        self.rcode = None  # for outcome "rcode"
        self.delay_ms = 0
        self.edes = []  # dns.edns.EDEOption list


def parse_faults(text):
    """Returns a list of Fault; raises ValueError('line N: ...')."""
    faults = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if len(words) < 3:
            raise ValueError("line %d: need NAME TYPE ACTION [ARG]" % lineno)
        try:
            faults.append(Fault(lineno, words[0], words[1], words[2].lower(), words[3:]))
        except Exception as e:  # dns exceptions, ValueError, ...
            raise ValueError("line %d: %s" % (lineno, e)) from None
    return faults


class FaultSet:
    def __init__(self, path, log):
        self.path = path
        self.log = log
        self.faults = []
        self.key = None
        self.generation = 0

    def _stat_key(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return ("missing",)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self, initial=False):
        """(Re)reads the file.  At start-up an error is fatal (raises);
        later the old rules stay and the error is logged."""
        if self.path is None:
            return
        self.key = self._stat_key()
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        self.generation += 1
        try:
            faults = parse_faults(text)
        except ValueError as e:
            msg = "%s: %s" % (self.path, e)
            warn(msg)
            self.log.note("faults rejected %d %s" % (self.generation, msg))
            if initial:
                raise
            return
        self.faults = faults
        self.log.note("faults reloaded %d %d" % (self.generation, len(faults)))

    def check(self):
        if self.path is not None and self._stat_key() != self.key:
            self.load()

    def plan(self, qname, qtype):
        p = Plan()
        for f in self.faults:
            if not f.matches(qname, qtype):
                continue
            if f.action == "delay":
                p.delay_ms = max(p.delay_ms, f.arg)
            elif f.action == "ede":
                p.edes.append(dns.edns.EDEOption(f.arg, f.text))
            elif p.outcome is None:
                p.outcome = f.action
                if f.action == "rcode":
                    p.rcode = f.arg
                elif f.action in ("servfail", "refused", "nxdomain"):
                    p.outcome = "rcode"
                    p.rcode = dns.rcode.from_text(f.action.upper())
        return p


# --------------------------------------------------------------------------
# Query log


class QueryLog:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8") if path else None

    def query(self, proto, qname, qtype):
        if self.f:
            self.f.write("%s %s %s\n" % (proto, qname, qtype))
            self.f.flush()

    def note(self, text):
        if self.f:
            self.f.write("# %s\n" % text)
            self.f.flush()


# --------------------------------------------------------------------------
# The server


class Reply:
    """What to do for one query: send wire (after delay_ms), drop, or (TCP)
    reset the connection."""

    def __init__(self, wire=None, delay_ms=0, reset=False):
        self.wire = wire
        self.delay_ms = delay_ms
        self.reset = reset


class Server:
    def __init__(self, args):
        self.args = args
        self.zone_paths = args.zones
        self.log = QueryLog(args.log)
        self.zones = ZoneSet(self.zone_paths)
        self.log.note("zones loaded %d" % len(self.zones.zones))
        self.faults = FaultSet(args.faults, self.log)
        self.faults.load(initial=True)
        self.max_udp = args.max_udp

    def reload(self):
        try:
            self.zones = ZoneSet(self.zone_paths)
            self.log.note("zones reloaded %d" % len(self.zones.zones))
        except Exception as e:
            warn("zone reload failed, keeping old zones: %s" % e)
            self.log.note("zones rejected %s" % e)
        self.faults.load()

    # -- building answers ----------------------------------------------------

    def _render(self, resp, limit):
        try:
            return resp.to_wire(max_size=limit)
        except dns.exception.TooBig:
            resp.answer = []
            resp.authority = []
            resp.additional = []
            resp.flags |= dns.flags.TC
            return resp.to_wire(max_size=limit)

    def handle(self, wire, proto):
        """Returns a Reply (never raises)."""
        try:
            return self._handle(wire, proto)
        except Exception as e:  # never crash on a packet
            warn("internal error on %s query: %r" % (proto, e))
            return Reply()

    def _handle(self, wire, proto):
        self.faults.check()
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            # Garbage: logged, never answered (answering would mean digging
            # an ID out of bytes dnspython could not parse).
            self.log.query(proto, "-", "-")
            return Reply()
        if q.flags & dns.flags.QR:
            self.log.query(proto, "-", "-")
            return Reply()  # a response sent to us: ignore
        if len(q.question) != 1:
            self.log.query(proto, "-", "-")
            r = dns.message.make_response(q, True, OUR_PAYLOAD)
            r.set_rcode(dns.rcode.FORMERR)
            return Reply(r.to_wire())
        qrr = q.question[0]
        qname, qtype = qrr.name, qrr.rdtype
        self.log.query(proto, qname.to_text().lower(), dns.rdatatype.to_text(qtype))

        resp = dns.message.make_response(q, True, OUR_PAYLOAD)
        plan = self.faults.plan(qname, qtype)
        limit = 65535
        if proto == "udp":
            limit = max(512, q.payload) if q.edns >= 0 else 512
            limit = min(limit, self.max_udp)
        delay = plan.delay_ms
        out = plan.outcome

        if out == "drop":
            return Reply()
        if out == "notcp" and proto == "tcp":
            return Reply(reset=True, delay_ms=delay)

        if q.opcode() != dns.opcode.QUERY:
            rcode, answer, authority = dns.rcode.NOTIMP, [], []
        elif qrr.rdclass != dns.rdataclass.IN:
            rcode, answer, authority = dns.rcode.REFUSED, [], []
        elif q.edns > 0:
            rcode, answer, authority = dns.rcode.BADVERS, [], []
        elif qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            rcode, answer, authority = dns.rcode.REFUSED, [], []
        else:
            rcode, answer, authority = self.zones.resolve(qname, qtype)

        if out == "rcode":
            rcode, answer, authority = plan.rcode, [], []
            if plan.rcode == dns.rcode.NXDOMAIN:
                found = self.zones.find_zone(qname)
                if found is not None:
                    authority = [self.zones._soa(found[0])]

        resp.answer = answer
        resp.authority = authority
        if q.edns >= 0:
            # EDNS options (EDE) exist only when the query had EDNS.
            resp.use_edns(0, 0, OUR_PAYLOAD, q.payload, options=plan.edes)
        resp.set_rcode(rcode)

        if out in ("truncate", "notcp") and proto == "udp":
            resp.answer = []
            resp.authority = []
            resp.additional = []
            resp.flags |= dns.flags.TC
            return Reply(resp.to_wire(), delay)
        if out == "badid":
            resp.id = (q.id + 1) & 0xFFFF
        if out == "malformed":
            return Reply(self._malformed(resp, qname), delay)
        return Reply(self._render(resp, limit), delay)

    @staticmethod
    def _malformed(resp, qname):
        """A message that parses up to the header and question but claims an
        answer record whose data is cut short: render a real one-record
        answer with dnspython, then drop the end of its rdata."""
        resp.answer = [dns.rrset.from_text(qname, 300, "IN", "A", "192.0.2.1")]
        resp.authority = []
        resp.additional = []
        resp.use_edns(False)  # no OPT, so the cut lands inside the A rdata
        resp.set_rcode(dns.rcode.NOERROR)
        wire = resp.to_wire()
        return wire[:-3]


# --------------------------------------------------------------------------
# Transports


class UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server):
        self.server = server
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        reply = self.server.handle(data, "udp")
        if reply.wire is None:
            return
        if reply.delay_ms:
            loop = asyncio.get_running_loop()
            loop.call_later(reply.delay_ms / 1000.0, self._send, reply.wire, addr)
        else:
            self._send(reply.wire, addr)

    def _send(self, wire, addr):
        try:
            self.transport.sendto(wire, addr)
        except Exception as e:
            warn("udp send to %s failed: %r" % (addr, e))

    def error_received(self, exc):
        pass  # ICMP port unreachable from a client that went away


async def tcp_client(server, reader, writer):
    loop = asyncio.get_running_loop()
    last_due = 0.0  # loop time when the last delayed action fires

    def send(wire):
        if writer.is_closing():
            return
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
        except Exception:
            pass

    def reset():
        if writer.is_closing():
            return
        sock = writer.get_extra_info("socket")
        try:
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        except Exception:
            pass
        writer.transport.abort()  # closes with RST because of SO_LINGER 0

    try:
        while True:
            try:
                hdr = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                (length,) = struct.unpack("!H", hdr)
                data = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                break
            reply = server.handle(data, "tcp")
            if reply.delay_ms:
                last_due = max(last_due, loop.time() + reply.delay_ms / 1000.0)
            if reply.reset:
                if reply.delay_ms:
                    loop.call_later(reply.delay_ms / 1000.0, reset)
                    continue
                reset()
                return
            if reply.wire is None:
                continue
            if reply.delay_ms:
                loop.call_later(reply.delay_ms / 1000.0, send, reply.wire)
            else:
                send(reply.wire)
                await writer.drain()
    except Exception as e:
        warn("tcp connection error: %r" % e)
    finally:
        # The client closed its side (or went idle) but may still read:
        # let delayed answers queued for this connection go out first.
        wait = last_due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait + 0.01)
        if not writer.is_closing():
            writer.close()


def bind_pair(port):
    """Binds UDP and TCP sockets to 127.0.0.1:port (port 0: the same free
    port for both).  Returns (udp, tcp, port)."""
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        real = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", real))
        except OSError:
            udp.close()
            tcp.close()
            if port != 0:
                raise
            continue
        tcp.listen(128)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp, real
    raise OSError("no free port for both UDP and TCP")


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


async def serve(args):
    server = Server(args)
    udp_sock, tcp_sock, port = bind_pair(args.port)
    loop = asyncio.get_running_loop()
    udp_transport, _ = await loop.create_datagram_endpoint(
        lambda: UDPProtocol(server), sock=udp_sock
    )
    tcp_server = await asyncio.start_server(
        lambda r, w: tcp_client(server, r, w), sock=tcp_sock
    )

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.reload)

    async def poll_faults():
        while True:
            await asyncio.sleep(FAULT_POLL)
            server.faults.check()

    poller = asyncio.ensure_future(poll_faults())

    if args.pidfile:
        write_atomic(args.pidfile, "%d\n" % os.getpid())
    server.log.note("listening 127.0.0.1 %d" % port)
    if args.ready_file:
        write_atomic(args.ready_file, "%d\n" % port)
    if args.verbose:
        warn("listening on 127.0.0.1 port %d (udp+tcp)" % port)

    await stop.wait()
    poller.cancel()
    tcp_server.close()
    udp_transport.close()
    server.log.note("stopped")
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    if args.remove_dir:
        shutil.rmtree(args.remove_dir, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="faultline's hermetic test DNS server (see tests/dns/README)"
    )
    ap.add_argument("--port", type=int, required=True, help="port, 0 for any free one")
    ap.add_argument("--zones", nargs="+", required=True, metavar="DIR_OR_FILE",
                    help="zone files, or directories of *.zone files")
    ap.add_argument("--faults", help="fault file (reloaded on SIGHUP and on change)")
    ap.add_argument("--log", help="query log: one 'proto qname qtype' line per query")
    ap.add_argument("--pidfile")
    ap.add_argument("--ready-file", help="written with the port once both sockets listen")
    ap.add_argument("--max-udp", type=int, default=4096,
                    help="largest UDP answer we send (default 4096)")
    ap.add_argument("--remove-dir", metavar="DIR",
                    help="remove DIR (recursively) when stopped by a signal")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except (OSError, ValueError, dns.exception.DNSException) as e:
        warn(str(e))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
