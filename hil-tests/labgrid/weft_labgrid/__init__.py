"""labgrid support for weft: a resource for a weft radio on an exporter's host, drivers that
run `weft serve` and `weft node` on that host, and a strategy.

Importing this package registers them with labgrid's target factory, so an environment file
names them once it lists the package under `imports:`.
"""

from .resource import WeftRadio
from .driver import WeftNodeDriver, WeftServeDriver
from .strategy import WeftStrategy

__all__ = ["WeftRadio", "WeftServeDriver", "WeftNodeDriver", "WeftStrategy"]
