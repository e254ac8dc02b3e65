"""``python -m launcher demo|run``: write supervisord's configuration and hand over to it.

``demo`` starts the exchange simulator and points the feeders at it; ``run`` uses the real
exchanges. supervisord stays in the foreground: Ctrl-C or SIGTERM stops every process.
``supervisorctl -c run/supervisord.conf stop gateway-1`` stops one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from launcher.stack import DEMO, RUN, StackPorts, programs
from launcher.supervisor import render

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Write the configuration, then exec supervisord (or print the configuration)."""
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__)
    parser.add_argument("mode", choices=(DEMO, RUN))
    parser.add_argument("--run-dir", type=Path, default=ROOT / "run", help="state and sockets")
    parser.add_argument("--print-config", action="store_true", help="print it and exit")
    args = parser.parse_args()
    run_dir = args.run_dir.resolve()
    config = render(programs(args.mode, StackPorts()), run_dir, ROOT, sys.executable)
    if args.print_config:
        print(config)
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "supervisord.conf"
    config_path.write_text(config)
    supervisord = shutil.which("supervisord", path=str(Path(sys.executable).parent))
    if supervisord is None:
        raise SystemExit("supervisord is not installed: run `make install`")
    print(f"starting the {args.mode} stack: supervisorctl -c {config_path} status", flush=True)
    os.execv(supervisord, [supervisord, "-c", str(config_path)])


if __name__ == "__main__":
    main()
