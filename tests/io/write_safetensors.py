#!/usr/bin/env python3
"""Independent safetensors writer for kiln's tests: struct + json only, no numpy/torch.

Usage: write_safetensors.py OUT.safetensors
Writes a fixed set of tensors (one per dtype) whose values tests/io/safetensors_test.cc checks
exactly. Layout follows the published format, but deliberately differs from kiln's own writer:
tensors in reverse name order in the data section, and the header padded to 8 bytes.
"""
import json
import struct
import sys

# name -> (dtype, shape, struct format char, values). bf16 / f16 are given as raw bit patterns.
TENSORS = {
    "f32": ("F32", [2, 3], "f", [0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0]),
    "f64": ("F64", [3], "d", [1.0 / 3.0, -2.5e300, 7.0]),
    "bf16": ("BF16", [2, 2], "H", [0x3F80, 0xC000, 0x3E80, 0x7F80]),  # 1, -2, 0.25, inf
    "f16": ("F16", [3], "H", [0x3C00, 0xC100, 0x3555]),  # 1, -2.5, 0.333...
    "i32": ("I32", [2, 2], "i", [1, -2, 2147483647, -2147483648]),
    "i64": ("I64", [2], "q", [-(2 ** 63), 2 ** 62 + 7]),
    "u8": ("U8", [4], "B", [0, 1, 128, 255]),
    "bool": ("BOOL", [2, 2], "B", [1, 0, 0, 1]),
    "scalar": ("F32", [], "f", [42.0]),
    "empty": ("F32", [0, 5], "f", []),
}


def main():
    out = sys.argv[1]
    header = {"__metadata__": {"format": "pt", "source": "write_safetensors.py"}}
    data = b""
    for name in sorted(TENSORS, reverse=True):
        dtype, shape, fmt, values = TENSORS[name]
        raw = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


if __name__ == "__main__":
    main()
