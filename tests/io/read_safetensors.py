#!/usr/bin/env python3
"""Independent safetensors validator for kiln-written files: struct + json only, no numpy/torch.

Usage: read_safetensors.py FILE.safetensors EXPECTED.json
Checks the layout rules of the published format (header length, JSON header, data section 8-byte
aligned, tensors tiling the data section exactly) and compares each tensor's dtype, shape and
values with EXPECTED.json: {"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}
where values are the row-major elements (bf16 / f16 as raw uint16 bit patterns).
Exit code 0 when everything matches; otherwise prints the first problem and exits 1.
"""
import json
import struct
import sys

FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "BF16": ("H", 2), "F16": ("H", 2),
           "I32": ("i", 4), "I64": ("q", 8), "U8": ("B", 1), "BOOL": ("B", 1)}


def fail(msg):
    print("read_safetensors.py: " + msg)
    sys.exit(1)


def main():
    blob = open(sys.argv[1], "rb").read()
    expected = json.load(open(sys.argv[2]))
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("header length %d beyond the file" % n)
    if (8 + n) % 8 != 0:
        fail("data section not 8-byte aligned (header length %d)" % n)
    raw_header = blob[8:8 + n]
    if not raw_header.startswith(b"{"):
        fail("header does not start with '{'")
    header = json.loads(raw_header.decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    if metadata != expected.get("metadata", {}):
        fail("metadata %r != expected %r" % (metadata, expected.get("metadata", {})))
    if sorted(header) != sorted(expected["tensors"]):
        fail("tensor names %r != expected %r" % (sorted(header), sorted(expected["tensors"])))
    spans = sorted((info["data_offsets"][0], info["data_offsets"][1], name)
                   for name, info in header.items())
    cursor = 0
    for begin, end, name in spans:
        if begin != cursor:
            fail("tensor %s begins at %d, expected %d (hole or overlap)" % (name, begin, cursor))
        cursor = end
    if cursor != len(data):
        fail("tensors cover %d bytes of a %d-byte data section" % (cursor, len(data)))
    for name, want in expected["tensors"].items():
        info = header[name]
        if info["dtype"] != want["dtype"] or info["shape"] != want["shape"]:
            fail("%s: %s %r != expected %s %r" % (name, info["dtype"], info["shape"],
                                                  want["dtype"], want["shape"]))
        fmt, size = FORMATS[info["dtype"]]
        count = 1
        for d in info["shape"]:
            count *= d
        begin, end = info["data_offsets"]
        if end - begin != count * size:
            fail("%s: %d bytes for %d elements" % (name, end - begin, count))
        values = list(struct.unpack("<%d%s" % (count, fmt), data[begin:end]))
        if values != want["values"]:
            fail("%s: values %r != expected %r" % (name, values, want["values"]))
    sys.exit(0)


if __name__ == "__main__":
    main()
