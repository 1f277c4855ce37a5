"""The README's Python examples run as written, the outputs they show are the outputs the code
produces, and its two commands are the ones CI uses.

Shown outputs follow one convention, checked here as doctest checks ``>>>`` blocks: a trailing
comment whose text contains ``->`` claims what the line produces, after an optional note::

    print(df(np.array([1.0, 2.0])))    # -> [ 3. 12.]
    gg.grad(f)(2.0)                    # nests to any order -> 12.0

On a ``print(...)`` line the claim is what it prints; on an expression line it is the repr of
the value, as at the ``>>>`` prompt. The comparison is exact (trailing spaces aside). A comment
that looks like an output (an ``array(``/``tensor(`` repr, or ``name == value``) without the
``->`` is an unchecked claim, and fails too.
"""
import ast
import contextlib
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks(text):
    """``(first line number in the file, source)`` of every ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


BLOCKS = python_blocks(README)
LOOKS_LIKE_OUTPUT = re.compile(r"\b(array|tensor)\(|\S\s*==\s*\S")


def shown_outputs(source):
    """``{line: (comment, claim or None)}`` for every comment in ``source``."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string[1:].strip()
            claim = text.split("->", 1)[1].strip() if "->" in text else None
            found[tok.start[0]] = (text, claim)
    return found


def produced(stmt, namespace, where):
    """What a claimed line produces: its printed text, or the repr of its value."""
    if not isinstance(stmt, ast.Expr):
        raise AssertionError(f"{where}: a shown output (-> ...) must end a print(...) call or an "
                             f"expression, not a {type(stmt).__name__} statement")
    call = stmt.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(ast.Module([stmt], []), where, "exec"), namespace)
        return out.getvalue()
    return repr(eval(compile(ast.Expression(stmt.value), where, "eval"), namespace))


def run_and_check(source, first_line=1, name="README.md"):
    """Run ``source`` statement by statement, comparing each shown output with the real one;
    returns how many shown outputs were checked."""
    comments = shown_outputs(source)
    for line, (text, claim) in comments.items():
        if claim is None and LOOKS_LIKE_OUTPUT.search(text):
            raise AssertionError(f"{name} line {first_line + line - 1}: the comment {text!r} "
                                 f"shows an output without '->', so nothing checks it")
    namespace, checked = {"__name__": "__readme__"}, 0
    for stmt in ast.parse(source).body:
        where = f"{name} line {first_line + stmt.end_lineno - 1}"
        claim = comments.get(stmt.end_lineno, (None, None))[1]
        if claim is None:
            exec(compile(ast.Module([stmt], []), where, "exec"), namespace)
            continue
        actual = produced(stmt, namespace, where)
        got = "\n".join(s.rstrip() for s in actual.rstrip("\n").split("\n"))
        assert got == claim.rstrip(), f"{where}: the README shows {claim!r}, the code gives {got!r}"
        checked += 1
    return checked


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs_and_shows_its_real_output(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # examples may write files (checkpoints)
    first_line, source = BLOCKS[index]
    run_and_check(source, first_line)


def test_readme_shows_outputs_and_a_wrong_one_fails(tmp_path, monkeypatch):
    """The convention is in use, and the checker catches a changed output, a bare repr in a
    comment, and a claim on a line that produces nothing."""
    monkeypatch.chdir(tmp_path)
    tour = next(src for _, src in BLOCKS if "# -> [ 3. 12.]" in src)
    assert run_and_check(tour) >= 2
    for wrong in ("# -> [ 3. 13.]", "# -> array([ 3., 12.])"):
        with pytest.raises(AssertionError, match=re.escape(f"shows {wrong[5:]!r}, the code gives "
                                                           "'[ 3. 12.]'")):
            run_and_check(tour.replace("# -> [ 3. 12.]", wrong))
    with pytest.raises(AssertionError, match="shows an output without '->'"):
        run_and_check(tour.replace("# -> [ 3. 12.]", "# array([ 3., 12.])"))
    with pytest.raises(AssertionError, match="shows '2.0', the code gives '12.0'"):
        run_and_check("import gpugrad as gg\ngg.grad(gg.grad(lambda v: v ** 3))(2.0)  # -> 2.0\n")
    with pytest.raises(AssertionError, match="not a Assign statement"):
        run_and_check("x = 1  # -> 1\n")


def test_ci_runs_the_readme_test_command():
    bash = re.findall(r"```bash\n(.*?)```", README, re.S)
    test_cmd = next(b.strip() for b in bash if "pytest" in b and "pip install" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci


def test_readme_main_job_trains_by_default():
    bash = re.findall(r"```bash\n(.*?)```", README, re.S)
    main_job = next(b.strip() for b in bash if "gpugrad train" in b and "pip install" in b)
    assert main_job.startswith("python3 -m venv") and ".[train]" in main_job
