#!/usr/bin/env python3
"""Asks the running kernel whether it accepts classic BPF programs.

Reads one program per line on stdin ("code jt jf k" quadruples, comma separated), attaches
each to a UDP socket with SO_ATTACH_FILTER (no privileges needed: the kernel runs
bpf_check_classic) and prints "ok" or "error <errno>" per line.
"""
import ctypes
import socket
import sys

SO_ATTACH_FILTER = 26


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for line in sys.stdin:
    quads = [list(map(int, q.split())) for q in line.strip().split(",") if q]
    arr = (SockFilter * len(quads))(*[SockFilter(*q) for q in quads])
    prog = SockFprog(len(quads), arr)
    rc = libc.setsockopt(s.fileno(), socket.SOL_SOCKET, SO_ATTACH_FILTER,
                         ctypes.byref(prog), ctypes.sizeof(prog))
    print("ok" if rc == 0 else "error %d" % ctypes.get_errno(), flush=True)
