"""``python -m monitor`` is ``spu-monitor``."""

from monitor.cli.main import main

raise SystemExit(main())
