#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_queue's Python peers: multiprocessing.Queue and multiprocessing.Pipe.

Usage: py_queue.py queue|pipe tput|rtt|bw NPROD NCONS N SIZE CPU0 CPU1

  tput  NPROD producers put N 64-byte messages each, NCONS consumers take
        them; prints "elapsed_ns=E msgs=M" (first producer start to last
        consumer end, after a barrier).
  rtt   ping-pong through two channels, N round trips after 200 unrecorded
        ones; prints "med_ns=A p99_ns=B".
  bw    one producer sends N messages of SIZE bytes; prints as tput.
CPU0/CPU1 (-1: none) pin the producer (pinger) and the consumer (ponger).
Every message is checked (producer, sequence, contents, order); a wrong one
makes the run exit 1.  The fork start method is used, as bench_queue forks.
Pipe is Pipe(duplex=False): a Connection has one reader, so no 2+2 run.
"""
import multiprocessing as mp
import os
import sys
import time

STOP = (1 << 64) - 1
BODY = bytes(range(7, 62))          # 55 bytes: 8 (seq) + 1 (producer) + 55 = 64
RTT_WARM = 200
BW_STRIDE = 65536                   # one stamped word per 64 KiB (C peers: 4 KiB)


def pin(cpu):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def msg(seq, frm):
    return seq.to_bytes(8, 'little') + bytes((frm,)) + BODY


def fail(why):
    sys.stderr.write('py_queue: FAIL: %s\n' % why)
    sys.stderr.flush()
    os._exit(1)


def endpoints(kind, ctx):
    """(send, recv) callables for one channel, to be used after fork."""
    if kind == 'queue':
        q = ctx.Queue()
        return q, q
    r, w = ctx.Pipe(duplex=False)
    return w, r


def sender(ch, kind):
    return ch.put if kind == 'queue' else ch.send_bytes


def receiver(ch, kind):
    return ch.get if kind == 'queue' else ch.recv_bytes


def flush(ch, kind):
    if kind == 'queue':
        ch.close()
        ch.join_thread()


def producer(kind, ch, n, frm, nstops, barrier, times, cpu):
    pin(cpu)
    send = sender(ch, kind)
    barrier.wait()
    times[frm] = time.monotonic_ns()
    for i in range(n):
        send(msg(i, frm))
    for _ in range(nstops):
        send(msg(STOP, frm))
    flush(ch, kind)


def consumer(kind, ch, nprod, exact, barrier, times, counts, sums, idx, cpu):
    pin(cpu)
    recv = receiver(ch, kind)
    nxt = [0] * nprod
    count = total = 0
    barrier.wait()
    while True:
        m = recv()
        if len(m) != 64 or m[8] >= nprod or m[9:] != BODY:
            fail('corrupt message')
        seq = int.from_bytes(m[:8], 'little')
        frm = m[8]
        if seq == STOP:
            break
        if (seq != nxt[frm]) if exact else (seq < nxt[frm]):
            fail('message from %d out of order: %d, expected %d' % (frm, seq, nxt[frm]))
        nxt[frm] = seq + 1
        count += 1
        total += seq
    times[2 + idx] = time.monotonic_ns()
    counts[idx] = count
    sums[idx] = total


def run_procs(ps):
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    if any(p.exitcode != 0 for p in ps):
        fail('a worker failed')


def tput(ctx, kind, nprod, ncons, n, cpus):
    if kind == 'pipe' and (nprod > 1 or ncons > 1):
        fail('a Pipe connection has one reader and one writer')
    send_end, recv_end = endpoints(kind, ctx)
    barrier = ctx.Barrier(nprod + ncons)
    times = ctx.Array('q', 4, lock=False)
    counts = ctx.Array('q', ncons, lock=False)
    sums = ctx.Array('q', ncons, lock=False)
    ps = []
    for i in range(nprod):
        nstops = ncons // nprod + (1 if i < ncons % nprod else 0)
        ps.append(ctx.Process(target=producer, args=(kind, send_end, n, i, nstops, barrier, times,
                                                     cpus[0] if nprod == 1 else -1)))
    for c in range(ncons):
        ps.append(ctx.Process(target=consumer, args=(kind, recv_end, nprod, nprod == ncons == 1,
                                                     barrier, times, counts, sums, c,
                                                     cpus[1] if ncons == 1 else -1)))
    run_procs(ps)
    got = sum(counts)
    if got != n * nprod or sum(sums) != nprod * (n * (n - 1) // 2):
        fail('consumers got %d messages, expected %d' % (got, n * nprod))
    print('elapsed_ns=%d msgs=%d' % (max(times[2:2 + ncons]) - min(times[:nprod]), got))


def pinger(kind, ping, pong, n, samples, cpu):
    pin(cpu)
    send, recv = sender(ping, kind), receiver(pong, kind)
    for i in range(-RTT_WARM, n):
        m = msg(i + RTT_WARM, 0)
        t0 = time.monotonic_ns()
        send(m)
        r = recv()
        t1 = time.monotonic_ns()
        if r != m:
            fail('the pong differs from the ping')
        if i >= 0:
            samples[i] = t1 - t0
    send(msg(STOP, 0))
    flush(ping, kind)


def ponger(kind, ping, pong, cpu):
    pin(cpu)
    send, recv = sender(pong, kind), receiver(ping, kind)
    nxt = 0
    while True:
        m = recv()
        seq = int.from_bytes(m[:8], 'little')
        if len(m) != 64 or m[8] != 0 or m[9:] != BODY:
            fail('corrupt ping')
        if seq == STOP:
            break
        if seq != nxt:
            fail('ping %d out of order' % seq)
        nxt += 1
        send(m)
    flush(pong, kind)


def rtt(ctx, kind, n, cpus):
    ping_s, ping_r = endpoints(kind, ctx)
    pong_s, pong_r = endpoints(kind, ctx)
    samples = ctx.Array('q', n, lock=False)
    run_procs([ctx.Process(target=pinger, args=(kind, ping_s, pong_r, n, samples, cpus[0])),
               ctx.Process(target=ponger, args=(kind, ping_r, pong_s, cpus[1]))])
    s = sorted(samples)
    print('med_ns=%d p99_ns=%d' % (s[(n - 1) // 2], s[int((n - 1) * 0.99)]))


def stamp(seq, off):
    return (seq * 0x100000001B3 + off) & 0xFFFFFFFFFFFFFFFF


def stamp_offsets(size):
    return list(range(0, size, BW_STRIDE)) + [size - 8]


def bw_producer(kind, ch, n, size, barrier, times, cpu):
    pin(cpu)
    send = sender(ch, kind)
    buf = bytearray(os.urandom(size))
    offs = stamp_offsets(size)
    barrier.wait()
    times[0] = time.monotonic_ns()
    for i in range(n):
        for off in offs:
            buf[off:off + 8] = stamp(i, off).to_bytes(8, 'little')
        # Queue.put pickles later, in its feeder thread: hand it a copy.
        send(bytes(buf) if kind == 'queue' else buf)
    flush(ch, kind)


def bw_consumer(kind, ch, n, size, barrier, times, counts, cpu):
    pin(cpu)
    offs = stamp_offsets(size)
    dst = bytearray(size)
    barrier.wait()
    for i in range(n):
        if kind == 'queue':
            m = ch.get()
            got = len(m)
        else:
            got = ch.recv_bytes_into(dst)
            m = dst
        if got != size:
            fail('a %d-byte message, expected %d' % (got, size))
        for off in offs:
            if int.from_bytes(m[off:off + 8], 'little') != stamp(i, off):
                fail('message %d: wrong word at %d' % (i, off))
    times[2] = time.monotonic_ns()
    counts[0] = n


def bw(ctx, kind, n, size, cpus):
    send_end, recv_end = endpoints(kind, ctx)
    barrier = ctx.Barrier(2)
    times = ctx.Array('q', 4, lock=False)
    counts = ctx.Array('q', 1, lock=False)
    run_procs([ctx.Process(target=bw_producer, args=(kind, send_end, n, size, barrier, times,
                                                     cpus[0])),
               ctx.Process(target=bw_consumer, args=(kind, recv_end, n, size, barrier, times,
                                                     counts, cpus[1]))])
    if counts[0] != n:
        fail('%d messages arrived, expected %d' % (counts[0], n))
    print('elapsed_ns=%d msgs=%d' % (times[2] - times[0], n))


def main():
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    kind, mode = sys.argv[1], sys.argv[2]
    nprod, ncons, n, size, cpu0, cpu1 = (int(a) for a in sys.argv[3:])
    if kind not in ('queue', 'pipe') or mode not in ('tput', 'rtt', 'bw'):
        sys.exit(__doc__)
    ctx = mp.get_context('fork')
    if mode == 'tput':
        tput(ctx, kind, nprod, ncons, n, (cpu0, cpu1))
    elif mode == 'rtt':
        rtt(ctx, kind, n, (cpu0, cpu1))
    else:
        bw(ctx, kind, n, size, (cpu0, cpu1))


if __name__ == '__main__':
    main()
