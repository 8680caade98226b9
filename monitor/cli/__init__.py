"""The ``spu-monitor`` command line."""
