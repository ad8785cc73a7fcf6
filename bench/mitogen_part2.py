#!/usr/bin/env python3
"""
Mitogen side of the libspindle part 2 benchmarks (bench/part2.sh runs
bench-part2 next to it), one figure per "key value unit" line on stdout.

  gather   N local contexts; a round is one call(os.getpid) on each, all
           gathered with mitogen.select.Select; gather_per_s calls/s over
           100 rounds after 20 untimed.
  chan     a context sends values through a mitogen.core.Sender to a
           Receiver here: chan_small_msgs_per_s (16-byte values),
           chan_64k_mb_per_s and chan_64k_msgs_per_s (65536-byte values).
  log      a context logs lines (logging, forwarded by Mitogen's
           LogHandler) that reach a handler here: log_lines_per_s.
  stdio    a context writes lines to its stdout, which Mitogen's IoLogger
           forwards as log records: stdio_lines_per_s.
  fanout   20 contexts behind one bastion context (via=), one call with a
           1 MiB argument (less 4 KiB) to each: fanout_link_kib, the bytes this
           process wrote (all of it on the master -> bastion link).

Usage: python3 bench/mitogen_part2.py [--quick] ROW...
Children import this file as __main__: nothing above the guard runs code.
"""

import logging
import os
import select
import sys
import threading
import time

try:
    import mitogen.core
    import mitogen.master
    import mitogen.select
except ImportError:  # pragma: no cover
    mitogen = None


def pump(sender, n, size):
    data = b'x' * size
    for _ in range(n):
        sender.send(data)
    sender.close()
    return n


def log_lines(n):
    log = logging.getLogger('bench')
    log.setLevel(logging.INFO)
    for i in range(n):
        log.info('line %d of the log benchmark', i)
    return n


def print_lines(n):
    # The IoLogger logs each line at INFO on the 'stdout' logger; the
    # child's root level is the master's 'mitogen' level, WARNING.
    # fd 1 is a non-blocking pipe there: a flood fails with EAGAIN
    # (sys.stdout.write raises), so each line waits for room.
    logging.getLogger('stdout').setLevel(logging.INFO)
    sys.stdout.flush()
    for i in range(n):
        b = b'line %d of the output benchmark\n' % i
        while b:
            try:
                b = b[os.write(1, b):]
            except BlockingIOError:
                select.select([], [1], [])
    return n


def take(arg):
    return len(arg)


def wchar():
    with open('/proc/self/io') as fp:
        for line in fp:
            if line.startswith('wchar:'):
                return int(line.split()[1])
    return -1


def gather(router, quick):
    ctxs = [router.local() for _ in range(20 if quick else 100)]
    for c in ctxs:
        c.call(os.getpid)
    rounds = 20 if quick else 100
    n = 0
    t0 = time.perf_counter()
    for r in range(-20, rounds):        # 20 untimed rounds first
        if r == 0:
            n = 0
            t0 = time.perf_counter()
        recvs = [c.call_async(os.getpid) for c in ctxs]
        with mitogen.select.Select(recvs, oneshot=True) as sel:
            for msg in sel:
                msg.unpickle()
                n += 1
    print('gather_per_s %.0f calls/s' % (n / (time.perf_counter() - t0)))
    for c in ctxs:
        c.shutdown(wait=True)


def chan_run(ctx, router, n, size):
    recv = mitogen.core.Receiver(router)
    t0 = time.perf_counter()
    call = ctx.call_async(pump, recv.to_sender(), n, size)
    got = 0
    for msg in recv:
        got += len(msg.unpickle())
    call.get().unpickle()
    dt = time.perf_counter() - t0
    assert got == n * size, (got, n * size)
    return dt


def chan(router, quick):
    ctx = router.local()
    ctx.call(os.getpid)
    n = 20000 if quick else 100000
    dt = chan_run(ctx, router, n, 16)
    print('chan_small_msgs_per_s %.0f msgs/s' % (n / dt))
    n = 1000 if quick else 8000
    dt = chan_run(ctx, router, n, 65536)
    print('chan_64k_mb_per_s %.1f MB/s' % (n * 65536 / dt / 1e6))
    print('chan_64k_msgs_per_s %.0f msgs/s' % (n / dt))


class Counter(logging.Handler):
    """Counts the records a context forwarded, until n of them came."""

    def __init__(self, n):
        logging.Handler.__init__(self)
        self.n = n
        self.seen = 0
        self.done = threading.Event()

    def emit(self, record):
        if getattr(record, 'mitogen_context', None) is None:
            return
        self.seen += 1
        if self.seen == self.n:
            self.done.set()


def lines(router, quick, fn, key):
    ctx = router.local()
    ctx.call(os.getpid)
    n = 20000 if quick else 100000
    h = Counter(n)
    root = logging.getLogger()
    root.addHandler(h)
    # The forwarder's records would also reach the default lastResort
    # handler (stderr) for want of any other: not what is measured.
    logging.lastResort = None
    t0 = time.perf_counter()
    ctx.call(fn, n)
    if not h.done.wait(120):
        sys.exit('%s: %d of %d lines came' % (key, h.seen, n))
    print('%s %.0f lines/s' % (key, n / (time.perf_counter() - t0)))
    root.removeHandler(h)


def fanout(router, quick):
    bastion = router.local()
    ctxs = [router.local(via=bastion) for _ in range(20)]
    for c in ctxs:
        c.call(take, b'')		# this module crosses once, first
    arg = b'x' * ((1 << 20) - 4096)	# as bench-part2 (its frame limit)
    w0 = wchar()
    recvs = [c.call_async(take, arg) for c in ctxs]
    with mitogen.select.Select(recvs, oneshot=True) as sel:
        for msg in sel:
            assert msg.unpickle() == len(arg)
    print('fanout_link_kib %d KiB' % ((wchar() - w0) // 1024))


ROWS = {
    'gather': gather,
    'chan': chan,
    'log': lambda r, q: lines(r, q, log_lines, 'log_lines_per_s'),
    'stdio': lambda r, q: lines(r, q, print_lines, 'stdio_lines_per_s'),
    'fanout': fanout,
}


def run(quick, rows):
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        for row in rows:
            ROWS[row](router, quick)
            sys.stdout.flush()
    finally:
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    if mitogen is None:
        if sys.executable != '/usr/bin/python3':
            os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
        sys.exit('mitogen is not importable (apt install python3-mitogen)')
    args = [a for a in sys.argv[1:] if a != '--quick']
    run('--quick' in sys.argv, args or sorted(ROWS))
