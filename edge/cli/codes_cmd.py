"""`carec-edge codes decode IMAGE...`: the codes in image files, with what they carry, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext
from edge.cli.image_files import image_file_problem


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("codes", help="barcodes in images")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    decode = actions.add_parser(
        "decode", help="decode the barcodes and 2D codes in image files, print them as JSON"
    )
    decode.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    decode.set_defaults(handler=decode_images)


def decode_images(args: argparse.Namespace, _context: CliContext) -> int:
    from drivers.codes import ImageError, decode_image, parse_payload  # OpenCV: only here

    found: list[dict[str, Any]] = []
    status = 0
    for image in args.images:
        if problem := image_file_problem(image):  # /dev/zero, a huge header: never decoded
            print(f"carec-edge codes: {image}: {problem}", file=sys.stderr)
            status = 1
            continue
        try:
            codes = decode_image(image)
        except ImageError as error:
            print(f"carec-edge codes: {error}", file=sys.stderr)  # names the file
            status = 1
            continue
        except Exception as error:  # one bad file names itself, and the rest go on
            print(f"carec-edge codes: {image}: cannot decode: {error}", file=sys.stderr)
            status = 1
            continue
        for code in codes:
            entry: dict[str, Any] = {
                "image": str(image),
                "format": code.format,
                "text": code.text,
                "decoder": code.decoder,
            }
            if payload := parse_payload(code.text, code.format):
                entry["payload"] = payload.to_dict()
            found.append(entry)
    print(json.dumps(found, ensure_ascii=False, indent=2))
    return status
