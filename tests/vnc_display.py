#!/usr/bin/env python3
"""A free VNC display for the VNC tests and bench/vnc.py: the first N from
FIRST up (but for SKIP) whose port 5900+N on 127.0.0.1 nobody holds now.

As a module: free_display(first, skip) -> N, or None when :FIRST-:99 are
all taken. As a script: vnc_display.py FIRST [SKIP...] prints N (nothing
when none is free)."""

import socket
import sys


def free_display(first=60, skip=()):
    for d in range(first, 100):
        if d in skip:
            continue
        s = socket.socket()
        try:
            s.bind(('127.0.0.1', 5900 + d))
        except OSError:
            continue
        finally:
            s.close()
        return d
    return None


if __name__ == '__main__':
    d = free_display(int(sys.argv[1]), {int(a) for a in sys.argv[2:]})
    if d is not None:
        print(d)
