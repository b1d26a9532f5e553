#!/usr/bin/env python3
"""Writes a flat binary as a C array: embed.py INPUT OUTPUT.c SYMBOL."""
import sys

data = open(sys.argv[1], "rb").read()
sym = sys.argv[3]
with open(sys.argv[2], "w") as out:
    out.write("/* Generated from %s by embed.py; do not edit. */\n"
              % sys.argv[1].rsplit("/", 1)[-1])
    out.write("#include <stddef.h>\n\n")
    out.write("extern const unsigned char %s[];\n" % sym)
    out.write("extern const size_t %s_size;\n" % sym)
    out.write("const unsigned char %s[] = {\n" % sym)
    for i in range(0, len(data), 12):
        out.write("\t" + " ".join("0x%02x," % b for b in data[i:i + 12]) + "\n")
    out.write("};\n")
    out.write("const size_t %s_size = %d;\n" % (sym, len(data)))
