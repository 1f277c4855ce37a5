"""The README's Python examples run as written, and its two commands are the ones CI uses."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # examples may write files (checkpoints)
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {})


def test_ci_runs_the_readme_test_command():
    bash = re.findall(r"```bash\n(.*?)```", README, re.S)
    test_cmd = next(b.strip() for b in bash if "pytest" in b and "pip install" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci


def test_readme_main_job_trains_by_default():
    bash = re.findall(r"```bash\n(.*?)```", README, re.S)
    main_job = next(b.strip() for b in bash if "gpugrad train" in b and "pip install" in b)
    assert main_job.startswith("python3 -m venv") and ".[train]" in main_job
