"""`carec-edge run`: start the service (what systemd runs on the box)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from edge.cli.context import CliContext
from edge.cli.preflight import config_problems
from edge.config import DEFAULT_CONFIG_PATH
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
    # What `config check` checks, before anything starts: a refusal names the key to fix.
    if problems := config_problems(config, data_dir=None):
        source = context.config_path or DEFAULT_CONFIG_PATH
        for problem in problems:
            print(f"carec-edge: cannot start: {source}: {problem}", file=sys.stderr)
        return 2
    setup_logging(config.logging.level)
    # The file a twin change rewrites and a restart reads again (none: the defaults, kept).
    config_path = context.config_path
    if config_path is None and DEFAULT_CONFIG_PATH.exists():
        config_path = DEFAULT_CONFIG_PATH
    return run_service(config, context.data_dir, context.devices, config_path=config_path)
