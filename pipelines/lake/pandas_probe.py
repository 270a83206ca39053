"""Start-up: pyarrow's first ``pa.array`` call imports pandas (0.5-1 s), unless told not to.

pyarrow asks whether a value handed to ``pa.array`` is a pandas object, and the first time it
asks, it imports pandas to find out: 0.5 s on a quick machine, more than a second on a slow
one, in every run, for a library the pipeline never uses. ``skip_pandas_probe`` lets pyarrow
make that first probe while pandas cannot be imported, then puts everything back: pyarrow does
not probe again, pandas imports as usual afterwards, and ``to_pandas``, ``from_pandas`` and
``pa.array(series)`` keep working (a test holds them). The ``run`` command calls it first;
code importing the pipeline as a library is left alone.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder


class _WithholdPandas(MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":
            raise ImportError("pandas withheld from pyarrow's start-up probe")


def skip_pandas_probe() -> None:
    """Let pyarrow make its pandas probe without importing pandas (nothing when pandas is
    imported already)."""
    if "pandas" in sys.modules:
        return
    finder = _WithholdPandas()
    sys.meta_path.insert(0, finder)
    try:
        import pyarrow as pa

        pa.array([0])
    finally:
        sys.meta_path.remove(finder)
