#!/usr/bin/env python3
"""A delay line between two TAP devices: every Ethernet frame read from one is written to the
other DELAY_MS (plus up to JITTER_MS) later, in order. The e2e tests bridge it between a phone
and the LAN because this machine's kernel has no sch_netem: it is netem's "delay" done in user
space, at layer 2, so broadcasts (DHCP), ARP and every protocol above are delayed alike.

    delay-line.py TAP_A TAP_B DELAY_MS JITTER_MS

Prints "ready" once both TAPs exist, then one line "frames A>B N, B>A N" when stopped (SIGTERM).
Written for sepi's tests (not taken from anywhere); needs root for /dev/net/tun.
"""
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    name_a, name_b, delay_ms, jitter_ms = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    a, b = open_tap(name_a), open_tap(name_b)
    other = {a: b, b: a}
    counts = {a: 0, b: 0}
    queue = []  # (due, seq, out_fd, frame)
    last_due = {a: 0.0, b: 0.0}
    seq = 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    print('ready', flush=True)
    while not stopping:
        now = time.monotonic()
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            readable, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                out = other[fd]
                # In order per direction, as a cable delivers them: jitter never reorders.
                due = max(now + (delay_ms + random.uniform(0, jitter_ms)) / 1000.0, last_due[out])
                last_due[out] = due
                seq += 1
                heapq.heappush(queue, (due, seq, out, frame))
                counts[fd] += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                os.write(out, frame)
            except OSError:
                pass  # the other side is down: the frame is lost, as on a wire
    print(f'frames A>B {counts[a]}, B>A {counts[b]}', flush=True)


if __name__ == '__main__':
    main()
