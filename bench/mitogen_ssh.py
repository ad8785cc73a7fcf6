#!/usr/bin/python3
"""Mitogen's side of the ssh/sudo benchmark (bench/ssh.sh runs it).

usage: mitogen_ssh.py USER HOST SSH_CONFIG SUDO_USER [N]
Prints `key value unit` lines: ssh_boot_ms (router.ssh() to the first
call answered, median of 5 fresh brokers), sudo_boot_ms (router.sudo() on
top of an ssh context, median of 5), ping_ssh_us and ping_sudo_us (median
round trip of a call that spawns no process, N calls).
"""
import os
import statistics
import sys
import time

import mitogen.master


def rtt(ctx, n):
    ctx.call(os.getpid)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        ctx.call(os.getpid)
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e6


def main():
    user, host, cfg, sudo_user = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    ssh_kw = dict(hostname=host, username=user, check_host_keys='ignore',
                  ssh_args=['-F', cfg], compression=False,
                  python_path=['/usr/bin/python3'])
    boots, sboots, pings, spings = [], [], [], []
    for i in range(5):
        broker = mitogen.master.Broker()
        router = mitogen.master.Router(broker)
        try:
            t0 = time.perf_counter()
            ctx = router.ssh(**ssh_kw)
            ctx.call(os.getpid)
            boots.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            sctx = router.sudo(via=ctx, username=sudo_user,
                                 python_path=['/usr/bin/python3'])
            sctx.call(os.getpid)
            sboots.append((time.perf_counter() - t0) * 1e3)
            if i == 0:
                pings.append(rtt(ctx, n))
                spings.append(rtt(sctx, n))
        finally:
            broker.shutdown()
            broker.join()
    print('ssh_boot_ms %.1f ms' % statistics.median(boots))
    print('sudo_boot_ms %.1f ms' % statistics.median(sboots))
    print('ping_ssh_us %.1f us' % pings[0])
    print('ping_sudo_us %.1f us' % spings[0])


if __name__ == '__main__':
    main()
