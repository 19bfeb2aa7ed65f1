"""``python -m cockpit`` and the ``cockpit`` console script."""
from __future__ import annotations

import sys


def main() -> None:
    from cockpit.cli import main as cli_main

    sys.exit(cli_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
