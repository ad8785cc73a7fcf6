#!/usr/bin/python3
# forward-daemon.sh's helpers: servers and clients on loopback, and a
# client of the daemon's FORWARD request (passed fds, as the shim's -L
# and -W pass them).
#
#   srv DIR PORTFILE        two servers: one reads to EOF, then answers
#                           "N SHA256" (a half-close must reach it), one
#                           HTTP of DIR; PORTFILE gets "EOFPORT HTTPPORT"
#   freeport N              N ports free on 127.0.0.1 now
#   fwd OUT MODE ROUTE HOST PORT BYTES...   FORWARD direct|stdio|socks5
#                           through the daemon, its replies in file OUT;
#                           each six words another, in turn
#   para PORT N BYTES       N connections at once to 127.0.0.1:PORT, each
#                           as `fwd` checks it; prints "ok N" or errors
#   fwdn N ROUTE HOST PORT BYTES   N direct FORWARDs at once, each on a
#                           connection of its own; "ok N" or errors
#   hang ROUTE HOST PORT    FORWARD direct, then hang up the control
#                           connection: "closed after S s" once the
#                           forwarded socket ends
#   hold PORT               connect, print "connected", wait for EOF,
#                           print "eof after S s, at UNIXTIME"
import hashlib, os, socket, struct, sys, threading, time


def answer(data):
    return ("%d %s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode()


def payload(n):
    return (b"0123456789abcdef" * (n // 16 + 1))[:n]


def serve(ls, handle):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def eof_handle(c):
    data = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.sendall(answer(data))
    except OSError:     # reset: a forward cut
        pass
    c.close()


def srv(args):
    import functools, http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    h = functools.partial(Quiet, directory=args[0])
    hs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(256)
    with open(args[1] + ".tmp", "w") as f:
        f.write("%d %d\n" % (ls.getsockname()[1], hs.server_address[1]))
    os.rename(args[1] + ".tmp", args[1])
    threading.Thread(target=hs.serve_forever, daemon=True).start()
    serve(ls, eof_handle)


def u32(v):
    return struct.pack(">I", v)


def pstr(s):
    b = s.encode()
    return u32(len(b)) + b


def spec(route):
    # route, kind, user, sshargs, sshenv, password, keepalive, timeout,
    # agent, hop passwords
    return (pstr(route) + u32(0) + pstr("") + u32(0) + pstr("") +
            pstr("") + u32(0xffffffff) + u32(0xffffffff) + pstr("") + u32(0))


def frame(t, body):
    return u32(8 + len(body)) + u32(t) + u32(1) + body


def read_frame(c, buf):
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        b = c.recv(65536)
        if not b:
            return None, buf
        buf += b
    n = struct.unpack(">I", buf[:4])[0]
    t = struct.unpack(">I", buf[4:8])[0]
    return (t, buf[12:4 + n]), buf[4 + n:]


def ustr(b, off):
    n = struct.unpack(">I", b[off:off + 4])[0]
    return b[off + 4:off + 4 + n].decode(errors="replace"), off + 4 + n


T0 = time.time()


def show(t, body):
    if t == 2:
        text, off = ustr(body, 0)
        print("ERROR %s (%d)" % (text, struct.unpack(">I",
              body[off:off + 4])[0]), flush=True)
        print("ERROR after %.3f s" % (time.time() - T0), flush=True)
    elif t == 19:
        peer, off = ustr(body, 0)
        target, _ = ustr(body, off)
        print("CONNECTED %s %s" % (peer, target), flush=True)
    elif t == 21:
        hi, lo, ohi, olo = struct.unpack(">IIII", body[:16])
        why, _ = ustr(body, 16)
        print("DONE in %d out %d why '%s'" % ((hi << 32) | lo,
              (ohi << 32) | olo, why), flush=True)
    elif t != 1:
        print("TYPE %d" % t, flush=True)


def control(route, mode, host, port, fds):
    global T0
    T0 = time.time()
    c = socket.socket(socket.AF_UNIX)
    c.connect(os.environ["SPINDLE_RUNTIME_DIR"] + "/sock")
    m = {"direct": 1, "socks5": 2, "stdio": 3}[mode]
    body = spec(route) + u32(m) + u32(0) + pstr(host) + u32(port)
    c.sendall(frame(1, u32(2)))
    socket.send_fds(c, [frame(17, body)], fds)
    for fd in fds:
        os.close(fd)
    return c


def replies(c, out):
    buf = b""
    while True:
        m, buf = read_frame(c, buf)
        if m is None:
            break
        show(*m)
        out.append(m[0])


def fwd(args):
    while args:
        with open(args[0], "w") as out:
            sys.stdout = out
            fwd1(args[1:6])
            sys.stdout = sys.__stdout__
        args = args[6:]


def fwd1(args):
    mode, route, host, port, n = args[0], args[1], args[2], int(args[3]), \
        int(args[4])
    data = payload(n)
    if mode == "stdio":
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        c = control(route, mode, host, port, [r_in, w_out])
        wr = lambda b: os.write(w_in, b)
        close_wr = lambda: os.close(w_in)
        rd = lambda: os.read(r_out, 65536)
    else:
        a, b = socket.socketpair()
        c = control(route, mode, host if mode != "socks5" else "", port,
                    [b.detach()])
        wr = a.send
        close_wr = lambda: a.shutdown(socket.SHUT_WR)
        rd = lambda: a.recv(65536)
        if mode == "socks5":    # a name, resolved at the far end
            a.sendall(b"\x05\x01\x00")
            assert a.recv(2) == b"\x05\x00"
            h = host.encode()
            a.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h +
                      struct.pack(">H", port))
            rep = a.recv(4)
            print("SOCKS5 reply %d" % rep[1], flush=True)
            if rep[1] != 0:
                replies(c, [])
                return
            a.recv(6 if rep[3] == 1 else 18)
    seen = []
    t = threading.Thread(target=replies, args=(c, seen))
    t.start()

    def writer():
        off = 0
        try:
            while off < len(data):
                off += wr(data[off:off + 65536])
            close_wr()
        except OSError as e:
            print("WRITE %s" % e, flush=True)
    w = threading.Thread(target=writer)
    w.start()
    got = b""
    while True:
        try:
            b = rd()
        except ConnectionResetError:
            b = b""
        if not b:
            break
        got += b
    w.join()
    t.join(20)      # DONE comes once both ways are done
    print("REPLY " + got.decode(errors="replace").strip(), flush=True)
    print("EXPECT " + answer(data).decode().strip(), flush=True)


def parallel(n, size, conns):
    """n connections at once, each a (socket, control or None) that
    conns(i) makes: all made before any sends; then each sends size
    bytes, half-closes, and must get the server's answer (and DONE on
    its control connection)."""
    data = payload(size)
    want = answer(data)
    errs = []
    made = [conns(i) for i in range(n)]

    def one(s, c):
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            seen = [21]
            if c is not None:
                replies(c, seen)
            if got != want or seen[-1] != 21:
                errs.append("got %r, replies %r" % (got[:80], seen))
        except Exception as e:
            errs.append(str(e))
    ts = [threading.Thread(target=one, args=m) for m in made]
    sys.stdout = open(os.devnull, "w")     # replies() shows each
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    sys.stdout = sys.__stdout__
    print("ok %d" % n if not errs else "errors %d: %s" % (len(errs),
          errs[0]), flush=True)


def para(args):
    port = int(args[0])
    parallel(int(args[1]), int(args[2]), lambda i: (
        socket.create_connection(("127.0.0.1", port), timeout=30), None))


def fwdn(args):
    route, host, port = args[1], args[2], int(args[3])

    def conn(i):
        a, b = socket.socketpair()
        return a, control(route, "direct", host, port, [b.detach()])
    parallel(int(args[0]), int(args[4]), conn)


def hang(args):
    a, b = socket.socketpair()
    c = control(args[0], "direct", args[1], int(args[2]), [b.detach()])
    a.sendall(b"x")
    m, _ = read_frame(c, b"")   # HELLO
    m, _ = read_frame(c, _)
    show(*m)
    t0 = time.time()
    c.close()
    a.settimeout(10)
    try:
        while a.recv(65536):
            pass
    except OSError:
        pass
    print("closed after %.2f s" % (time.time() - t0), flush=True)


def hold(args):
    s = socket.create_connection(("127.0.0.1", int(args[0])), timeout=30)
    s.sendall(b"x")
    print("connected", flush=True)
    t0 = time.time()
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    print("eof after %.2f s, at %.3f" % (time.time() - t0, time.time()),
          flush=True)


def freeport(args):
    ss = [socket.socket() for i in range(int(args[0]))]
    for s in ss:
        s.bind(("127.0.0.1", 0))
    print(" ".join(str(s.getsockname()[1]) for s in ss))


{"srv": srv, "fwd": fwd, "fwdn": fwdn, "para": para, "hold": hold,
 "hang": hang,
 "freeport": freeport}[sys.argv[1]](sys.argv[2:])
