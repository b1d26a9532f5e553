#!/usr/bin/env python3
"""
Checks what guest-mouse printed on COM1 ("packet dx=D dy=D buttons=LMR
wheel=W" lines) against the pointer script of the VNC tests (tests/vnc.sh
with vnc-client, tests/vnc-browser.sh with noVNC): a left click where the
pointer was, a move right 10 and up 5, one wheel step up, then the right
button pressed after a move left 7 and down 12 (PS/2's dy counts up), and
released.

usage: ps2-packets.py SERIAL-LOG
Prints the packets and what matched; exit 0 when all did, 1 otherwise.
"""
import re
import sys


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    with open(argv[1], encoding='utf-8', errors='replace') as f:
        text = f.read().replace('\r', '')
    pk = [(int(a), int(b), c, int(d)) for a, b, c, d in
          re.findall(r"^packet dx=(-?\d+) dy=(-?\d+) buttons=(\S+) wheel=(-?\d+)$",
                     text, re.M)]
    for p in pk:
        print(p)
    i = 0
    while i < len(pk) and pk[i][2] != "L--":
        i += 1
    if i == len(pk) or pk[i][:2] != (0, 0):
        fail("no left click where the pointer was")
    i += 1
    if i == len(pk) or pk[i][2] != "---":
        fail("the left button was not released")
    i += 1
    dx = dy = 0
    while i < len(pk) and pk[i][3] == 0:
        dx += pk[i][0]
        dy += pk[i][1]
        i += 1
    if (dx, dy) != (10, 5):
        fail("moved by (%d, %d), want (10, 5): right and up" % (dx, dy))
    if i == len(pk) or pk[i][3] != -1:
        fail("no wheel turn of -1 (up)")
    i += 1
    dx = dy = 0
    while i < len(pk) and pk[i][2] == "---":
        dx += pk[i][0]
        dy += pk[i][1]
        i += 1
    if i == len(pk) or pk[i][2] != "--R":
        fail("no right button")
    dx += pk[i][0]
    dy += pk[i][1]
    if (dx, dy) != (-7, -12):
        fail("moved by (%d, %d) with the right button, want (-7, -12)" %
             (dx, dy))
    if i + 1 == len(pk) or pk[i + 1][2] != "---":
        fail("the right button was not released")
    print("ok: the click, the moves, the wheel and the right button")


if __name__ == '__main__':
    main(sys.argv)
