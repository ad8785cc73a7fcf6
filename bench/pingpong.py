#!/usr/bin/python3
"""One byte back and forth through a command (`ssh host cat`): the raw
round trip that a ping call through the same link is compared with.
usage: pingpong.py N CMD [ARG...]   prints the median in microseconds."""
import os
import statistics
import subprocess
import sys
import time

n = int(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, bufsize=0)
out = []
for i in range(n + 20):
    t0 = time.perf_counter()
    os.write(p.stdin.fileno(), b'x')
    if os.read(p.stdout.fileno(), 1) != b'x':
        sys.exit('pingpong: no echo')
    if i >= 20:
        out.append(time.perf_counter() - t0)
p.stdin.close()
p.wait()
print('%.1f' % (statistics.median(out) * 1e6))
