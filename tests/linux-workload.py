#!/usr/bin/env python3
"""The host's copy of the Linux test guest's workload generator.

The /init that scripts/build-linux-guest.sh writes makes a file with busybox
tools only (gen_workload) and prints its SHA-256; this computes the same bytes
in Python, independently of the guest's CPU, so that a matching hash shows
the guest computed both right:

  block    = 16 lines h_i + "\\n", h_i = hex(SHA-256(h_{i-1} + " i\\n")),
             h_{-1} = SEED, i = 0..15 (1040 bytes)
  level k  = level k-1 + SEED + " level k\\n"
             + level k-1 with every byte b replaced by (b + r_k) mod 256,
             r_k = k * 73 mod 255 + 1 (never 0 mod 256)
  workload = the first SIZE bytes of the first level (0 = block) that long.

usage: tests/linux-workload.py [MIB]     prints "SHA256 BYTES" (default 64 MiB)
"""

import hashlib
import sys

SEED = b"guesthouse-linux-boot-1"


def _rotation(k):
    r = k * 73 % 255 + 1
    return bytes((b + r) & 0xFF for b in range(256))


def sha256(size):
    """SHA-256 (hex) of the first size bytes of the workload."""
    h = SEED
    lines = []
    for i in range(16):
        h = hashlib.sha256(h + b" %d\n" % i).hexdigest().encode()
        lines.append(h + b"\n")
    level = b"".join(lines)
    k = 0
    # Every level but the last is built; the last is hashed piece by piece
    # (its first part is the level before), so 64 MiB costs no 64 MiB copy.
    while True:
        salt = SEED + b" level %d\n" % (k + 1)
        if len(level) >= size or 2 * len(level) + len(salt) >= size:
            break
        k += 1
        level = level + salt + level.translate(_rotation(k))
    digest = hashlib.sha256()
    if len(level) >= size:
        digest.update(level[:size])
        return digest.hexdigest()
    k += 1
    rest = size - len(level)
    digest.update(level)
    digest.update(salt[:rest])
    rest -= min(rest, len(salt))
    digest.update(level[:rest].translate(_rotation(k)))
    return digest.hexdigest()


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    size = mib * 1048576
    print(sha256(size), size)


if __name__ == "__main__":
    main()
