# paramiko (Debian's python3-paramiko 2.12) against the gateway's TCP
# listener, for gateway-tcp.sh and gateway-limits.sh.  Each command
# prints "ok WHAT ..." lines, or a line saying what went wrong and exits 1.
#   client PORT KEY KNOWN_HOSTS ROUTE TMPDIR
#       exec: stdout, stderr apart, exit status; SFTP put/get (1 MiB,
#       sha256); direct-tcpip to an echo server here
#   reject PORT KEY KNOWN_HOSTS ROUTE
#       RejectPolicy refuses a known_hosts without the listener's line
#   denied PORT KEY KNOWN_HOSTS ROUTE
#       the key is not allowlisted: AuthenticationException
#   channels PORT KEY KNOWN_HOSTS ROUTE N
#       N session channels open on one connection; the N+1th refused
#   idle PORT N GRACE
#       N+1 connections at once, not a byte sent: the first N get the
#       banner, the last is closed without one; then the N are closed
#       by the gateway after about GRACE seconds
#   full PORT KEY KNOWN_HOSTS ROUTE NAUTH MOST
#       NAUTH logged in, then idle ones up to MOST in all, each with the
#       banner; the one after is closed without one
#   banner PORT
#       "banner SSH-2.0-..." or "closed" (EOF without a byte), 10 s
import hashlib, os, socket, sys, threading, time

import paramiko


def die(msg):
    print(msg)
    sys.stdout.flush()
    sys.exit(1)


def connect(port, key, kh, route):
    c = paramiko.SSHClient()
    c.load_host_keys(kh)
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect("127.0.0.1", int(port), username=route, key_filename=key,
              look_for_keys=False, allow_agent=False, timeout=20,
              banner_timeout=20, auth_timeout=20)
    return c


def echo_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)

    def serve():
        while True:
            a, _ = s.accept()
            while True:
                b = a.recv(65536)
                if not b:
                    break
                a.sendall(b)
            a.close()
    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def client(args):
    port, key, kh, route, tmp = args
    c = connect(port, key, kh, route)
    _, o, e = c.exec_command("echo out; echo err >&2; exit 3")
    out, err = o.read(), e.read()
    rc = o.channel.recv_exit_status()
    if (out, err, rc) != (b"out\n", b"err\n", 3):
        die("exec: out %r err %r status %d" % (out, err, rc))
    print("ok exec: stdout, stderr apart, exit status 3")
    data = os.urandom(1 << 20)
    src, back = os.path.join(tmp, "put"), os.path.join(tmp, "got")
    with open(src, "wb") as f:
        f.write(data)
    t = time.time()
    sftp = c.open_sftp()
    sftp.put(src, os.path.join(tmp, "remote"))
    sftp.get(os.path.join(tmp, "remote"), back)
    sftp.close()
    with open(back, "rb") as f:
        got = f.read()
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        die("sftp: %d bytes back, not what was put" % len(got))
    print("ok sftp: 1 MiB put and got back, sha256 equal, %.2f s" %
          (time.time() - t))
    eport = echo_server()
    ch = c.get_transport().open_channel("direct-tcpip", ("127.0.0.1", eport),
                                        ("127.0.0.1", 0), timeout=20)
    ch.settimeout(20)
    msg = os.urandom(100000)
    ch.sendall(msg)
    ch.shutdown_write()
    got = b""
    while True:
        b = ch.recv(65536)
        if not b:
            break
        got += b
    if got != msg:
        die("direct-tcpip: %d bytes back of %d" % (len(got), len(msg)))
    ch.close()
    print("ok direct-tcpip: 100000 bytes echoed through 127.0.0.1:%d" % eport)
    c.close()


def reject(args):
    port, key, kh, route = args
    try:
        connect(port, key, kh, route)
    except paramiko.SSHException as e:
        if "not found in known_hosts" not in str(e):
            die("reject: %s" % e)
        print("ok reject: %s" % e)
        return
    die("reject: connected without the listener's known_hosts line")


def denied(args):
    port, key, kh, route = args
    try:
        connect(port, key, kh, route)
    except paramiko.AuthenticationException as e:
        print("ok denied: %s" % e)
        return
    die("denied: logged in with a key not allowlisted")


def channels(args):
    port, key, kh, route, n = args
    n = int(n)
    c = connect(port, key, kh, route)
    tr = c.get_transport()
    held = []
    for i in range(n):
        try:
            held.append(tr.open_session(timeout=20))
        except paramiko.ChannelException as e:
            die("channels: channel %d refused: %s" % (i + 1, e))
    try:
        tr.open_session(timeout=20)
    except paramiko.ChannelException as e:
        print("ok channels: %d open, the %dth refused (%s)" % (n, n + 1, e))
    else:
        die("channels: the %dth channel opened" % (n + 1))
    held.pop().close()
    # The gateway frees a closed channel from its loop, after the pass
    # that read the close: an open right behind it may still be refused.
    for i in range(20):
        time.sleep(0.25)
        try:
            ch = tr.open_session(timeout=20)
            break
        except paramiko.ChannelException as e:
            err = e
    else:
        die("channels: still refused 5 s after one closed: %s" % err)
    ch.exec_command("exit 7")
    if ch.recv_exit_status() != 7:
        die("channels: the channel after one closed does not run")
    print("ok channels: one closed, the next opens and runs")
    c.close()


def read_banner(s, secs):
    s.settimeout(secs)
    got = b""
    try:
        while b"\n" not in got:
            b = s.recv(256)
            if not b:
                break
            got += b
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return got


def idle(args):
    port, n, grace = int(args[0]), int(args[1]), float(args[2])
    socks = []
    t0 = time.time()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        b = read_banner(s, 10)
        if not b or not b.startswith(b"SSH-2.0-"):
            die("idle: connection %d: no banner (%r)" % (i + 1, b))
        socks.append(s)
    print("ok idle: %d connections, a banner each, %.2f s" %
          (n, time.time() - t0))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t = time.time()
    b = read_banner(s, 10)
    if b is None or b.startswith(b"SSH-2.0-"):
        die("idle: connection %d not closed: %r" % (n + 1, b))
    print("ok idle: connection %d closed without a banner in %.2f s" %
          (n + 1, time.time() - t))
    s.close()
    # Not a byte from us: the grace time ends them.
    for i, s in enumerate(socks):
        left = t0 + grace + 30 - time.time()
        try:
            s.settimeout(max(left, 0.1))
            while s.recv(4096):
                pass
        except socket.timeout:
            die("idle: connection %d still open %.1f s after it was made"
                % (i + 1, time.time() - t0))
        except ConnectionResetError:
            pass
    el = time.time() - t0
    if el < grace - 0.5:
        die("idle: closed after %.2f s, before the grace time %.0f s"
            % (el, grace))
    print("ok idle: all %d closed by the gateway %.2f s after they were "
          "made (grace %.0f s)" % (n, el, grace))


def full(args):
    port, key, kh, route, nauth, most = args
    nauth, most = int(nauth), int(most)
    held = [connect(port, key, kh, route) for i in range(nauth)]
    socks = []
    for i in range(most - nauth):
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
        b = read_banner(s, 10)
        if not b or not b.startswith(b"SSH-2.0-"):
            die("full: connection %d: no banner (%r)" % (nauth + i + 1, b))
        socks.append(s)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    b = read_banner(s, 10)
    if b is None or b.startswith(b"SSH-2.0-"):
        die("full: connection %d not closed: %r" % (most + 1, b))
    print("ok full: %d logged in and %d not, connection %d closed" %
          (nauth, most - nauth, most + 1))
    for s in socks:
        s.close()
    for c in held:
        c.close()


def banner(args):
    s = socket.create_connection(("127.0.0.1", int(args[0])), timeout=10)
    b = read_banner(s, 10)
    if b is None:
        print("open, nothing read in 10 s")
    elif b == b"":
        print("closed")
    else:
        print("banner %s" % b.decode(errors="replace").strip())


{"client": client, "reject": reject, "denied": denied,
 "channels": channels, "idle": idle, "full": full, "banner": banner}[sys.argv[1]](sys.argv[2:])
