#!/usr/bin/env python3
"""Draws docs/icon.png, the NuGet package icon (128x128): three brokers joined into one federation.

Pure Python (zlib + struct), so it runs wherever python3 does; supersampled 4x for smooth edges.
Usage: python3 scripts/make-icon.py [OUT.png]
"""
import math
import struct
import sys
import zlib

SIZE, SS = 128, 4
N = SIZE * SS
BACKGROUND = (24, 58, 99)       # deep blue tile
LINK = (120, 190, 255)          # links between brokers
NODES = [(255, 102, 0), (0, 168, 150), (250, 200, 40)]  # RabbitMQ orange, NATS teal, a third broker
CENTRES = [(64, 30), (30, 92), (98, 92)]
RADIUS, CORNER, LINK_WIDTH = 17, 22, 7


def inside_rounded_square(x, y):
    cx = min(max(x, CORNER), SIZE - CORNER)
    cy = min(max(y, CORNER), SIZE - CORNER)
    return (x - cx) ** 2 + (y - cy) ** 2 <= CORNER ** 2


def distance_to_segment(px, py, a, b):
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def colour_at(x, y):
    """The colour of one subsample, or None outside the tile (transparent)."""
    if not inside_rounded_square(x, y):
        return None
    for centre, colour in zip(CENTRES, NODES):
        d = math.hypot(x - centre[0], y - centre[1])
        if d <= RADIUS:
            return (255, 255, 255) if d > RADIUS - 3 else colour
    for i in range(3):
        if distance_to_segment(x, y, CENTRES[i], CENTRES[(i + 1) % 3]) <= LINK_WIDTH / 2:
            return LINK
    return BACKGROUND


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/icon.png"
    rows = []
    for py in range(SIZE):
        row = bytearray([0])  # filter type: none
        for px in range(SIZE):
            r = g = b = a = 0
            for sy in range(SS):
                for sx in range(SS):
                    c = colour_at(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS)
                    if c is not None:
                        r, g, b, a = r + c[0], g + c[1], b + c[2], a + 1
            n = SS * SS
            row += bytes([r // a, g // a, b // a, 255 * a // n] if a else [0, 0, 0, 0])
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    png += chunk(b"IEND", b"")
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
