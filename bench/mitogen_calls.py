#!/usr/bin/env python3
"""
Mitogen side of the call benchmarks (bench/lib.sh runs bench-lib next to it).

  call1_us      median round trip of call(os.getpid), 1 hop.
  call10_us     the same at the end of a 10-deep via= chain.
  calls_per_s   N local contexts, 64 calls of os.getpid in flight on each,
                gathered with mitogen.select.Select; calls per second.
  gather_per_s  one call per context, wait for all, repeated; calls/s.
  rss_growth_100k_kib  master VmRSS growth over 100,000 sequential calls.

Usage: python3 bench/mitogen_calls.py [--quick]
stdout: one "key value unit" line per figure; diagnostics on stderr.
Children import this file as __main__: nothing above the guard runs code.
"""

import os
import sys
import time

try:
    import mitogen.core
    import mitogen.master
    import mitogen.select
    import mitogen.utils
except ImportError:  # pragma: no cover
    mitogen = None


def vmrss_kib():
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def median_us(ctx, n):
    for _ in range(200):
        ctx.call(os.getpid)
    t = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        ctx.call(os.getpid)
        t.append(time.perf_counter_ns() - t0)
    t.sort()
    return t[n // 2] / 1000.0


def rate(ctxs, inflight, rounds):
    n = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        recvs = [c.call_async(os.getpid) for c in ctxs
                 for _ in range(inflight)]
        with mitogen.select.Select(recvs, oneshot=True) as sel:
            for msg in sel:
                msg.unpickle()
                n += 1
    return n / (time.perf_counter() - t0)


def run(quick):
    broker = mitogen.master.Broker()
    router = mitogen.master.Router(broker)
    try:
        hop1 = router.local()
        hop10 = None
        for _ in range(10):
            hop10 = router.local(via=hop10)
        n = 2000 if quick else 20000
        print('call1_us %.1f us' % median_us(hop1, n))
        print('call10_us %.1f us' % median_us(hop10, n // 2))
        rss0 = vmrss_kib()
        for _ in range(10000 if quick else 100000):
            hop1.call(os.getpid)
        print('rss_growth_100k_kib %d KiB' % (vmrss_kib() - rss0))
        ctxs = [router.local() for _ in range(20 if quick else 100)]
        for c in ctxs:
            c.call(os.getpid)
        print('calls_per_s %.0f calls/s' % rate(ctxs, 64, 1 if quick else 3))
        print('gather_per_s %.0f calls/s' %
              rate(ctxs, 1, 20 if quick else 100))
        sys.stdout.flush()
    finally:
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    if mitogen is None:
        if sys.executable != '/usr/bin/python3':
            os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
        sys.exit('mitogen is not importable (apt install python3-mitogen)')
    run('--quick' in sys.argv)
