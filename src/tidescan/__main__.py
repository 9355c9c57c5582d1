"""Allow `python -m tidescan` to behave exactly like the `tidescan` command."""

from tidescan.cli import main

raise SystemExit(main())
