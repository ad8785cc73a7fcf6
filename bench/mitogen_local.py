#!/usr/bin/env python3
"""
Mitogen side of the spindle side-by-side benchmark.

Measures, using only Mitogen "local" contexts (router.local()):

  contexts50_s  wall time to bring up 50 local contexts, each created directly
                under the master, one after another, until every one of them
                has answered a trivial call (os.getpid).
  chain10_s     wall time to bring up a 10-deep chain, each context created
                via= the previous one, until each has answered os.getpid.
  ping1_us      median round trip of context.call(os.getpid), 1 hop.
  ping10_us     median round trip of context.call(os.getpid), 10 hops.
  exec_true_us  median round trip of context.call(subprocess.call, ['true'])
                in a 1-hop context (spawns /bin/true each time).
  tput3_MBps    throughput of bytes flowing from the 3rd-hop context of the
                chain back to the master (MB = 10**6 bytes).
  rss_kib       median VmRSS of the 50 directly-attached contexts, read from
                /proc/PID/status right after bring-up.

Usage: python3 bench/mitogen_local.py [--quick] [--mb N]

stdout carries exactly one "key value unit" line per metric; everything else
(diagnostics, per-phase details) goes to stderr.

NOTE on Mitogen and __main__: children import this very file as their
__main__ module to find the remote functions below.  Mitogen's master ships
only the source *before* the first top-level main guard line, so everything
above that guard must be side-effect free (just imports and function defs).
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

# The Debian python3-mitogen package lives in /usr/lib/python3/dist-packages;
# a pyenv/venv "python3" earlier in PATH cannot import it.  Do not fail (or
# re-exec) at import time, since children also execute this top-level code:
# main() re-execs under the system interpreter if needed.
try:
    import mitogen.core
except ImportError:  # pragma: no cover - handled in main()
    mitogen = None

SYSTEM_PYTHON = '/usr/bin/python3'

# Throughput transfer parameters (see stream_chunks() for the method).
# 128 KiB equals mitogen.core.CHUNK_SIZE, the size the broker's IO loop
# reads/writes per iteration.  Measured on a 2-vCPU VM (3 hops, 128-256 MiB,
# run-to-run noise +-20%): 64 KiB chunks ~300 MB/s, 128 KiB ~350-530,
# 256 KiB ~300-400, 1 MiB ~250-320, 4 MiB ~200-270, 16 MiB ~130-150; windows
# of 16-32 chunks beat 2-8.  Bigger messages presumably lose because every hop
# reads a whole message (and copies it) before routing it on, serialising the
# pipeline.  For reference, Mitogen's stock mitogen.service.FileService
# (hosted in hop 3, master pulling a /dev/shm file) reached ~250-270 MB/s.
TPUT_CHUNK = 131072
TPUT_WINDOW = 32          # => at most 4 MiB unacknowledged in the pipeline


# --------------------------------------------------------------------------
# Functions executed inside the remote (child) contexts.  They must be plain
# module-level functions so Mitogen can resolve them by module + name.
# --------------------------------------------------------------------------

def stream_chunks(sender, total, chunk, window):
    """
    Runs in the producing context.  Streams `total` bytes to `sender` as
    Blob messages of `chunk` bytes, with credit-based flow control: at most
    `window` chunks may be unacknowledged.  The consumer's acknowledgement
    channel is set up by sending it a Sender for a local Receiver as the very
    first message.  This is the same scheme Mitogen's own FileService uses
    (burst a window, refill on acks), minus its file I/O.
    """
    router = sender.context.router
    acks = mitogen.core.Receiver(router)
    try:
        sender.send(acks.to_sender())
        payload = mitogen.core.Blob(b'\x5a' * chunk)
        sent = 0
        inflight = 0
        while sent < total:
            while inflight >= window:
                inflight -= acks.get(timeout=60).unpickle()
            n = min(chunk, total - sent)
            sender.send(payload if n == chunk else mitogen.core.Blob(payload[:n]))
            sent += n
            inflight += 1
        return sent
    finally:
        sender.close()
        acks.close()


# --------------------------------------------------------------------------
# Master-side helpers.
# --------------------------------------------------------------------------

def log(fmt, *args):
    sys.stderr.write((fmt % args) + '\n')
    sys.stderr.flush()


def emit(key, value, unit):
    sys.stdout.write('%s %s %s\n' % (key, value, unit))
    sys.stdout.flush()


def vmrss_kib(pid):
    with open('/proc/%d/status' % pid) as fp:
        for line in fp:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])  # "VmRSS:   12345 kB"
    raise ValueError('no VmRSS for pid %d' % pid)


def median_us(fn, n, warmup):
    """Call fn() `warmup` times, then return the median of n timed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000.0, samples


def bring_up_flat(router, n):
    """Create n contexts directly under the master, sequentially."""
    ctxs, pids = [], []
    t0 = time.perf_counter()
    for i in range(n):
        ctx = router.local(name='flat%d' % i)
        pids.append(ctx.call(os.getpid))
        ctxs.append(ctx)
        if i == 0:
            log('  first flat context up in %.3f s (cold module cache)',
                time.perf_counter() - t0)
    return time.perf_counter() - t0, ctxs, pids


def bring_up_chain(router, depth):
    """Create a chain master -> c1 -> c2 ... -> c<depth>, each via= previous."""
    ctxs, pids = [], []
    via = None
    t0 = time.perf_counter()
    for i in range(depth):
        ctx = router.local(name='chain%d' % (i + 1), via=via)
        pids.append(ctx.call(os.getpid))
        ctxs.append(ctx)
        via = ctx
    return time.perf_counter() - t0, ctxs, pids


def throughput(router, ctx, total, chunk, window):
    """
    Pull `total` bytes from `ctx` (the 3rd hop of the chain) to the master
    using stream_chunks(); returns (seconds, bytes received).

    The consumer acknowledges every window//2 chunks in a single message, so
    ack traffic costs ~2 small messages per window instead of one per chunk.
    """
    recv = mitogen.core.Receiver(router)
    t0 = time.perf_counter()
    call = ctx.call_async(stream_chunks, recv.to_sender(), total, chunk, window)
    ack = recv.get(timeout=60).unpickle()       # first message: ack Sender
    ack_every = max(1, window // 2)
    got = 0
    pending = 0
    while True:
        try:
            msg = recv.get(timeout=60)
        except mitogen.core.ChannelError:       # producer closed the Sender
            break
        got += len(msg.unpickle())
        pending += 1
        if pending == ack_every:
            ack.send(pending)
            pending = 0
    elapsed = time.perf_counter() - t0
    sent = call.get(timeout=60).unpickle()
    recv.close()
    if got != total or sent != total:
        raise RuntimeError('throughput: sent %d, received %d, expected %d'
                           % (sent, got, total))
    return elapsed, got


def shutdown_all(ctxs, timeout=10.0):
    """Ask contexts to exit and wait (bounded) for their disconnects."""
    latches = [c.shutdown(wait=False) for c in ctxs]
    deadline = time.monotonic() + timeout
    for latch in latches:
        try:
            latch.get(timeout=max(0.0, deadline - time.monotonic()))
        except mitogen.core.TimeoutError:
            log('  warning: context did not confirm shutdown in time')


def run(args):
    import mitogen.master

    quick = args.quick
    n_flat = 50
    depth = 10
    ping1_n, ping10_n, true_n = (200, 50, 20) if quick else (2000, 500, 200)
    warmup = 20 if quick else 100
    mb = args.mb if args.mb is not None else (16 if quick else 256)
    total = mb * 1048576                       # "256 MiB" as requested

    broker = mitogen.master.Broker()
    try:
        router = mitogen.master.Router(broker)

        # (a) 50 flat contexts, then (d) RSS of each of them.
        log('bring-up: %d flat contexts', n_flat)
        t_flat, flat, flat_pids = bring_up_flat(router, n_flat)
        rss = [vmrss_kib(p) for p in flat_pids]
        log('  %d contexts in %.3f s (%.1f ms each); RSS min/median/max '
            '%d/%d/%d KiB', n_flat, t_flat, 1000 * t_flat / n_flat,
            min(rss), statistics.median(rss), max(rss))
        # They are not needed any more; keep the later measurements free of
        # 50 extra streams in the master's broker.
        shutdown_all(flat)

        # (a) 10-deep chain.
        log('bring-up: %d-deep chain', depth)
        t_chain, chain, chain_pids = bring_up_chain(router, depth)
        chain_rss = [vmrss_kib(p) for p in chain_pids]
        log('  chain in %.3f s; chain RSS (hop1..hop%d) KiB: %s',
            t_chain, depth, ' '.join(str(r) for r in chain_rss))

        # (b) latency.
        hop1, hop10 = chain[0], chain[depth - 1]
        p1, s1 = median_us(lambda: hop1.call(os.getpid), ping1_n, warmup)
        log('  ping1: median %.1f us, min %.1f us over %d calls',
            p1, min(s1) / 1e3, ping1_n)
        p10, s10 = median_us(lambda: hop10.call(os.getpid), ping10_n, warmup)
        log('  ping10: median %.1f us, min %.1f us over %d calls',
            p10, min(s10) / 1e3, ping10_n)
        rc = hop1.call(subprocess.call, ['true'])
        if rc != 0:
            raise RuntimeError('remote `true` exited %r' % (rc,))
        ptrue, st = median_us(lambda: hop1.call(subprocess.call, ['true']),
                              true_n, max(5, warmup // 10))
        log('  exec true: median %.1f us, min %.1f us over %d calls',
            ptrue, min(st) / 1e3, true_n)

        # (c) throughput from the 3rd hop back to the master.
        hop3 = chain[2]
        # Warm up: imports __main__ into hop3, primes buffers.
        throughput(router, hop3, 4 * TPUT_CHUNK, TPUT_CHUNK, TPUT_WINDOW)
        secs, nbytes = throughput(router, hop3, total, TPUT_CHUNK, TPUT_WINDOW)
        mbps = nbytes / secs / 1e6
        log('  tput3: %d bytes in %.3f s, chunk %d, window %d -> %.1f MB/s',
            nbytes, secs, TPUT_CHUNK, TPUT_WINDOW, mbps)

        emit('contexts50_s', '%.3f' % t_flat, 's')
        emit('chain10_s', '%.3f' % t_chain, 's')
        emit('ping1_us', '%.1f' % p1, 'us')
        emit('ping10_us', '%.1f' % p10, 'us')
        emit('exec_true_us', '%.1f' % ptrue, 'us')
        emit('tput3_MBps', '%.1f' % mbps, 'MB/s')
        emit('rss_kib', '%d' % statistics.median(rss), 'KiB')

        # Orderly teardown: shutting down hop1 cascades down the chain, but
        # ask every context explicitly so nothing depends on that cascade.
        shutdown_all(list(reversed(chain)))
    finally:
        broker.shutdown()
        broker.join()


def main():
    if mitogen is None:
        if os.path.exists(SYSTEM_PYTHON) and sys.executable != SYSTEM_PYTHON:
            log('mitogen not importable from %s; re-executing under %s',
                sys.executable, SYSTEM_PYTHON)
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
        sys.exit('mitogen is not importable (apt install python3-mitogen)')

    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true',
                    help='reduced counts for a fast smoke run')
    ap.add_argument('--mb', type=int, default=None,
                    help='MiB (2**20 bytes) to move in the throughput '
                         'test; default 256, or 16 with --quick')
    args = ap.parse_args()
    if args.mb is not None and args.mb < 1:
        ap.error('--mb must be >= 1')
    # Turn SIGTERM into SystemExit so run()'s finally: still shuts the broker
    # down (Ctrl-C already raises KeyboardInterrupt).  Without this, children
    # only notice the dead master via EOF and linger for a second or two.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    t0 = time.perf_counter()
    run(args)
    log('total run time %.1f s', time.perf_counter() - t0)


if __name__ == '__main__':
    main()
