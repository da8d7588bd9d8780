"""`carec-edge run`: start the service (what systemd runs on the box)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from edge.cli.context import CliContext
from edge.logs import setup_logging
from edge.service import run_service


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("run", help="start the service")
    parser.set_defaults(handler=run)


def run(_args: argparse.Namespace, context: CliContext) -> int:
    # OpenCV and FFmpeg print their own warnings to stderr, outside the structured log.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    config = context.config
    setup_logging(config.logging.level)
    return run_service(config, context.data_dir, context.devices)
