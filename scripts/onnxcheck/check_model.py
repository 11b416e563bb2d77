"""Checks minrl's ONNX exports with onnx's own checker (Debian python3-onnx).

usage: /usr/bin/python3 check_model.py [--invalid BAD.onnx] MODEL.onnx...

Every MODEL must pass check_model(full_check=True) and strict shape
inference; every BAD must be rejected. Exits non-zero otherwise.
"""
import sys

import onnx
from onnx import shape_inference


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    return model


def main(args):
    invalid, valid = [], []
    while args:
        a = args.pop(0)
        if a == "--invalid":
            invalid.append(args.pop(0))
        else:
            valid.append(a)
    failed = False
    for path in valid:
        try:
            m = check(path)
            print(f"ok {path}: IR {m.ir_version}, opset {m.opset_import[0].version}, {len(m.graph.node)} nodes")
        except Exception as e:  # noqa: BLE001 - report every failure
            failed = True
            print(f"FAIL {path}: {e}")
    for path in invalid:
        try:
            check(path)
            failed = True
            print(f"FAIL {path}: accepted, but it is broken")
        except Exception as e:  # noqa: BLE001
            print(f"ok {path}: rejected as expected ({str(e).splitlines()[0]})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
