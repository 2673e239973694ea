"""``bidi-tui serve``: the engine without a UI, for Prometheus, logs and monitoring systems.

``metrics`` (the per-endpoint series read from the engine's watches), ``exposition``
(writing them fast for ``/metrics``), ``allow`` (what ``/probe`` may check and its
deadline), ``http`` (the aiohttp routes), ``stream`` (the ``--jsonl`` lines), ``command``
(the wiring, signals and config reload), ``check_formats`` (``check --format
nagios|prometheus``). Importing this package imports none of them.
"""
