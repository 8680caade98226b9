"""``python -m monitor`` is ``spu-monitor``."""

from monitor.cli import main

raise SystemExit(main())
