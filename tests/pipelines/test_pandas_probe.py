"""pyarrow's pandas probe: the run command does not import pandas, and pandas still works after."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.pipelines.test_cli import clean_env
from tests.pipelines.test_one_cli import heavy_imports

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env=clean_env(PYTHONPATH=str(REPO)), timeout=60, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def test_pyarrow_builds_arrays_without_importing_pandas_after_the_probe() -> None:
    code = (
        "import sys\nfrom pipelines.lake.pandas_probe import skip_pandas_probe\n"
        "skip_pandas_probe()\nimport numpy as np, pyarrow as pa\n"
        "pa.array(['a']); pa.table({'n': np.arange(3)}); np.asarray(pa.array([1, 2]))\n"
        "print('pandas' in sys.modules)\n"
    )
    assert _python(code) == "False"


def test_pandas_and_its_pyarrow_conversions_work_after_the_probe() -> None:
    code = (
        "from pipelines.lake.pandas_probe import skip_pandas_probe\n"
        "skip_pandas_probe()\nimport pyarrow as pa\nimport pandas as pd\n"
        "frame = pa.Table.from_pandas(pd.DataFrame({'n': [1, 2]})).to_pandas()\n"
        "series = pa.array(pd.Series(['x', None], dtype='category'))\n"
        "print(repr((frame['n'].tolist(), str(series.type), series.to_pylist())))\n"
    )
    numbers, kind, values = ast.literal_eval(_python(code))
    assert (numbers, values) == ([1, 2], ["x", None])
    assert kind.startswith("dictionary")


def test_a_run_leaves_pandas_unimported(tmp_path: Path) -> None:
    """The offline demo run goes through pyarrow from start to commit without pandas."""
    code, heavy = heavy_imports(["run", "--offline", "--limit", "2"], tmp_path)
    assert code in (0, 3)  # 3: the demo's quality gate
    assert "pyarrow" in heavy
    assert "pandas" not in heavy
