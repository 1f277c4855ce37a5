"""Checkpoints: round trips, the documented NumPy-readable format, atomic writes, detection
of truncated and corrupted files, device mapping."""
import json
import os
import zipfile

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import io, nn, optim
from gpugrad.io import CheckpointError


def full_state():
    gg.manual_seed(0)
    model = nn.MLP([4, 6, 3])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.StepLR(opt, 2)
    model(gg.randn(5, 4)).sum().backward()
    opt.step()
    sched.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "rng": gg.get_rng_state(),
            "misc": [1.5, None, True, "text", (2, "x"), {7: "int key"}],
            "np": {"f32": np.float32(0.25), "i64": np.int64(-4), "arr": np.arange(6).reshape(2, 3),
                   "empty": np.zeros((0, 3)), "bools": np.array([True, False])}}


def same(a, b):
    if isinstance(a, gg.Tensor):
        assert isinstance(b, gg.Tensor) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert type(a) is type(b) and a == b
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b and type(a) is type(b)


def test_round_trip_is_exact(tmp_path):
    state = full_state()
    gg.save(state, tmp_path / "ck.npz")
    same(state, gg.load(tmp_path / "ck.npz"))


def test_round_trip_keeps_requires_grad_and_nan(tmp_path):
    p = nn.Parameter(gg.tensor([1.0, float("nan")]))
    gg.save({"p": p, "x": float("inf")}, tmp_path / "a.npz")
    out = gg.load(tmp_path / "a.npz")
    assert out["p"].requires_grad and np.isnan(out["p"].numpy()[1]) and out["x"] == float("inf")


def test_format_is_plain_numpy_readable(tmp_path):
    state = full_state()
    gg.save(state, tmp_path / "ck.npz")
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["__gpugrad__"]))
        assert meta["format"] == "gpugrad-checkpoint" and meta["version"] == 1
        np.testing.assert_array_equal(z["model/0.weight"], state["model"]["0.weight"].numpy())
        np.testing.assert_array_equal(z["optimizer/state/1/momentum_buffer"],
                                      state["optimizer"]["state"][1]["momentum_buffer"].numpy())
        assert set(meta["arrays"]) == set(z.files) - {"__gpugrad__", "__sha256__"}
        assert len(str(z["__sha256__"])) == 64


def test_key_names_stay_unique_and_safe(tmp_path):
    obj = {"a/b": gg.ones(1), "a": {"b": gg.zeros(1)}, "__gpugrad__": np.ones(2),
           "we ird:name": np.ones(1), "x": [np.ones(1)], "x/0": np.zeros(1), "x_0": np.ones(3)}
    gg.save(obj, tmp_path / "k.npz")
    with np.load(tmp_path / "k.npz") as z:
        assert set(z.files) == {"a_b", "a/b", "__gpugrad___", "we_ird_name", "x/0", "x_0", "x_0~1",
                                "__gpugrad__", "__sha256__"}
    same(obj, gg.load(tmp_path / "k.npz"))


def test_unsupported_values_are_rejected_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="cannot store a set at model/w"):
        gg.save({"model": {"w": {1, 2}}}, path)
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        gg.save({(1, 2): 3}, path)
    with pytest.raises(TypeError, match="dtype object"):
        gg.save({"o": np.array([None])}, path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    gg.save({"v": gg.ones(3)}, path)
    before = path.read_bytes()
    real = io._write_member
    written = []

    def dying(zf, name, arr):
        written.append(name)
        if len(written) == 3:
            raise OSError("disk on fire")
        real(zf, name, arr)

    monkeypatch.setattr(io, "_write_member", dying)
    with pytest.raises(OSError, match="disk on fire"):
        gg.save({"v": gg.zeros(3), "w": gg.zeros(2)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]          # the temporary file was removed
    monkeypatch.setattr(io, "_write_member", real)
    np.testing.assert_array_equal(gg.load(path)["v"].numpy(), [1, 1, 1])


def test_crash_before_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    gg.save({"v": 1}, path)
    monkeypatch.setattr(io.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        gg.save({"v": 2}, path)
    monkeypatch.undo()
    assert gg.load(path) == {"v": 1} and os.listdir(tmp_path) == ["ck.npz"]


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.6, 0.95])
def test_truncated_file_raises_a_clear_error(tmp_path, keep):
    path = tmp_path / "ck.npz"
    gg.save(full_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="truncated or corrupted|not a gpugrad"):
        gg.load(path)


def test_flipped_byte_in_an_array_is_detected(tmp_path):
    path = tmp_path / "ck.npz"
    gg.save({"w": gg.ones(1000)}, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("w.npy")
    data[info.header_offset + 30 + len("w.npy") + 200] ^= 0xFF     # inside the array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        gg.load(path)


def test_tampered_content_fails_the_checksum(tmp_path):
    """Rewrite an entry consistently (valid zip, valid CRC): only the SHA-256 catches it."""
    path = tmp_path / "ck.npz"
    gg.save({"w": gg.ones(4), "n": 1}, path)
    with np.load(path) as z:
        entries = {k: z[k] for k in z.files}
    entries["w"] = np.full(4, 2.0, np.float32)
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in entries.items():
            io._write_member(zf, k, v)
    with pytest.raises(CheckpointError, match="checksum does not match"):
        gg.load(path)


def test_other_files_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        gg.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(CheckpointError, match="not a gpugrad checkpoint"):
        gg.load(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="not a gpugrad checkpoint.*looks like text"):
        gg.load(tmp_path / "text.npz")
    with pytest.raises(CheckpointError, match="is a directory"):
        gg.load(tmp_path)


@pytest.mark.parametrize("head,kind", [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    (b"\x80\x04\x95" + bytes(64), "a Python pickle"),
    (b"\x93NUMPY\x01\x00" + bytes(64), "a single NumPy array"),
    (b"", "the file is empty")], ids=["png", "pickle", "npy", "empty"])
def test_a_foreign_file_is_named_not_blamed_on_pickling(tmp_path, head, kind):
    path = tmp_path / "model.npz"
    path.write_bytes(head)
    with pytest.raises(CheckpointError) as info:
        gg.load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path} is not a gpugrad checkpoint") and kind in msg
    assert "pickle" not in msg.replace("a Python pickle", "")    # no advice to unpickle


def test_deeply_nested_trees_are_clear_errors(tmp_path):
    """A crafted checkpoint nested 5,000 levels deep: CheckpointError, not RecursionError;
    saving something nested too deeply (or containing itself) is a ValueError."""
    for depth in (5000, io.MAX_DEPTH + 5):
        path = tmp_path / f"deep{depth}.npz"
        tree = '{"t":"list","items":[' * depth + '{"t":"value","v":1}' + ']}' * depth
        text = f'{{"format":"gpugrad-checkpoint","version":1,"arrays":{{}},"tree":{tree}}}'
        with zipfile.ZipFile(path, "w") as zf:
            io._write_member(zf, "__gpugrad__", np.asarray(text))
            io._write_member(zf, "__sha256__", np.asarray(io._digest(text, {})))
        with pytest.raises(CheckpointError, match=f"nested deeper than {io.MAX_DEPTH} levels"):
            gg.load(path)
    ok = [1]
    for _ in range(io.MAX_DEPTH - 1):
        ok = [ok]
    gg.save(ok, tmp_path / "ok.npz")                     # MAX_DEPTH levels load back
    assert gg.load(tmp_path / "ok.npz") == ok
    with pytest.raises(ValueError, match="nests deeper than"):
        gg.save([ok], tmp_path / "ok.npz")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nests deeper than"):
        gg.save(loop, tmp_path / "loop.npz")
    assert not (tmp_path / "loop.npz").exists()


def test_files_get_the_umask_permissions(tmp_path):
    from gpugrad.tools.train.report import write_json
    old = os.umask(0o027)
    try:
        gg.save({"a": 1}, tmp_path / "a.npz")
        write_json({"a": 1}, tmp_path / "m.json")
    finally:
        os.umask(old)
    for name in ("a.npz", "m.json"):
        assert oct(os.stat(tmp_path / name).st_mode & 0o777) == oct(0o640), name
    os.umask(0o002)
    try:
        gg.save({"a": 1}, tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "b.npz").st_mode & 0o777) == oct(0o664)


def test_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "missing" / "ck.npz"
    with pytest.raises(FileNotFoundError) as info:
        gg.save({"a": 1}, target)
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert "missing does not exist" in str(info.value)
    real = io._write_member

    def full(zf, name, arr):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "_write_member", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*ck\.npz'") as info:
        gg.save({"a": 1}, tmp_path / "ck.npz")
    assert info.value.errno == 28 and ".tmp" not in str(info.value)
    monkeypatch.setattr(io, "_write_member", real)
    assert os.listdir(tmp_path) == []                   # no file, no temporary file


def test_the_next_save_removes_the_temporary_files_of_killed_saves(tmp_path):
    """A killed save leaves `.NAME.XXXXXXXX.tmp`; the next save to NAME removes those (also
    the 8-character names of older versions) and nothing else: not other targets' temporary
    files, not look-alikes, not a live save's file, not one just created."""
    gg.save({"a": 1}, tmp_path / "last.npz")
    old = 1_000_000_000
    orphans = [".last.npz.0123abcd.tmp", ".last.npz.k3x_9q2z.tmp"]
    keep = [".best.npz.0123abcd.tmp", ".last.npz.tmp", "last.npz.0123abcd.tmp",
            ".last.npz.0123abcd.tmp.bak", ".last.npz.0123abcde.tmp", "notes.txt"]
    for name in orphans + keep:
        (tmp_path / name).write_bytes(b"x" * 100)
        os.utime(tmp_path / name, (old, old))
    (tmp_path / ".last.npz.fresh000.tmp").write_bytes(b"being written")   # just now: kept
    live = tmp_path / ".last.npz.11112222.tmp"
    live.write_bytes(b"locked by a running save")
    os.utime(live, (old, old))
    fcntl = pytest.importorskip("fcntl")
    with open(live, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        gg.save({"a": 2}, tmp_path / "last.npz")
    left = set(os.listdir(tmp_path))
    assert left == {"last.npz", *keep, ".last.npz.fresh000.tmp", live.name}
    assert gg.load(tmp_path / "last.npz") == {"a": 2}


def test_metrics_json_cleans_its_own_temporary_files(tmp_path):
    from gpugrad.tools.train.report import write_json
    stale = tmp_path / ".metrics.json.deadbeef.tmp"
    stale.write_text("{")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    write_json({"a": 1}, tmp_path / "metrics.json")
    assert os.listdir(tmp_path) == ["metrics.json"]


def _rewrite_meta(path, edit):
    with np.load(path) as z:
        entries = {k: z[k] for k in z.files}
    meta = json.loads(str(entries.pop("__gpugrad__")))
    entries.pop("__sha256__")
    edit(meta)
    text = json.dumps(meta, separators=(",", ":"))
    with zipfile.ZipFile(path, "w") as zf:
        io._write_member(zf, "__gpugrad__", np.asarray(text))
        io._write_member(zf, "__sha256__", np.asarray(io._digest(text, entries)))
        for k, v in entries.items():
            io._write_member(zf, k, v)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    gg.save({"a": 1}, path)
    _rewrite_meta(path, lambda m: m.update(version=99))
    with pytest.raises(CheckpointError, match="format version 99"):
        gg.load(path)


def test_gpu_checkpoint_loads_on_a_cpu_only_machine(tmp_path):
    """A checkpoint whose tensors were saved from cuda:0 (metadata as a GPU run writes it)."""
    path = tmp_path / "gpu.npz"
    gg.save({"model": nn.Linear(3, 2).state_dict()}, path)

    def to_cuda(meta):
        for _, node in meta["tree"]["items"][0][1]["items"]:
            node["device"] = "cuda:0"

    _rewrite_meta(path, to_cuda)
    with np.load(path) as z:
        assert '"device":"cuda:0"' in str(z["__gpugrad__"])
    if gg.cuda.is_available():
        pytest.skip("this machine has a GPU; the CPU-only fallback is not exercised")
    out = gg.load(path)
    assert out["model"]["weight"].device == gg.device("cpu")
    nn.Linear(3, 2).load_state_dict(out["model"])


def test_map_location_cpu(tmp_path):
    gg.save({"w": gg.ones(2)}, tmp_path / "a.npz")
    assert gg.load(tmp_path / "a.npz", map_location="cpu")["w"].device == gg.device("cpu")
    with pytest.raises(ValueError, match="expected a device"):
        gg.load(tmp_path / "a.npz", map_location="tpu")


@pytest.mark.cuda
def test_save_on_gpu_load_anywhere(tmp_path):
    model = nn.Linear(4, 3, device="cuda")
    gg.save(model.state_dict(), tmp_path / "g.npz")
    back = gg.load(tmp_path / "g.npz")
    assert back["weight"].device == gg.device("cuda:0")
    cpu = gg.load(tmp_path / "g.npz", map_location="cpu")
    np.testing.assert_array_equal(cpu["weight"].numpy(), model.weight.numpy())
    nn.Linear(4, 3).load_state_dict(back)          # GPU state into a CPU model


# ---------------------------------------------------------------- bfloat16, modes, symlinks
def test_bfloat16_round_trips_bit_exact(tmp_path):
    """ml_dtypes bfloat16 tensors, arrays and scalars (every bit pattern, NaN and -0 too):
    stored as uint16 bits with the dtype name in the metadata, back bit for bit."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bits = np.arange(2 ** 16, dtype=np.uint16)
    arr = bits.view(ml_dtypes.bfloat16).reshape(256, 256)
    t = gg.ones(3, dtype="bfloat16")
    t.requires_grad_(True)
    gg.save({"t": t, "a": arr, "s": arr[0, 5], "f": np.float32(1)}, tmp_path / "b.npz")
    back = gg.load(tmp_path / "b.npz")
    assert back["a"].dtype == arr.dtype and np.array_equal(back["a"].view(np.uint16),
                                                           arr.view(np.uint16))
    assert back["t"].dtype == t.dtype and back["t"].requires_grad
    assert np.array_equal(back["t"].numpy().view(np.uint16), t.numpy().view(np.uint16))
    assert type(back["s"]) is type(arr[0, 5]) and back["s"].view(np.uint16) == bits[5]
    meta = json.loads(str(np.load(tmp_path / "b.npz")["__gpugrad__"]))
    assert meta["arrays"]["a"]["dtype"] == "<u2" and meta["version"] == 2


def test_bfloat16_load_without_ml_dtypes_is_a_clear_error(tmp_path, monkeypatch):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    gg.save({"a": np.zeros(2, ml_dtypes.bfloat16)}, tmp_path / "b.npz")
    monkeypatch.setitem(__import__("sys").modules, "ml_dtypes", None)   # import fails
    with pytest.raises(ImportError, match=r"b\.npz holds bfloat16 arrays.*pip install "
                                          r"ml_dtypes"):
        gg.load(tmp_path / "b.npz")


def test_plain_checkpoints_stay_format_version_1(tmp_path):
    gg.save({"a": np.zeros(2, np.float16)}, tmp_path / "p.npz")      # older readers read it
    assert json.loads(str(np.load(tmp_path / "p.npz")["__gpugrad__"]))["version"] == 1


def test_replacing_a_file_keeps_its_mode(tmp_path):
    """A private (0600) checkpoint stays private when saved over; new files get the umask."""
    path = tmp_path / "private.npz"
    gg.save({"a": 1}, path)
    os.chmod(path, 0o600)
    gg.save({"a": 2}, path)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600) and gg.load(path) == {"a": 2}
    os.chmod(path, 0o640)
    with io.atomic_write(path, "w") as f:
        f.write("x")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o640)


def test_saving_to_a_symlink_writes_through_to_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.npz"
    gg.save({"a": 1}, target)
    os.symlink(target, tmp_path / "link.npz")
    os.symlink(tmp_path / "link.npz", tmp_path / "link2.npz")          # a chain of links
    gg.save({"a": 2}, tmp_path / "link2.npz")
    assert os.path.islink(tmp_path / "link.npz") and os.path.islink(tmp_path / "link2.npz")
    assert gg.load(target) == {"a": 2} and gg.load(tmp_path / "link.npz") == {"a": 2}
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "link2.npz", "real"]
    assert os.listdir(tmp_path / "real") == ["target.npz"]              # no temporary file
    os.symlink(tmp_path / "real" / "new.npz", tmp_path / "dangling.npz")
    gg.save({"a": 3}, tmp_path / "dangling.npz")                      # creates the target
    assert gg.load(tmp_path / "real" / "new.npz") == {"a": 3}


def test_a_malformed_nested_structure_is_named_once(tmp_path):
    """A bad node deep in a checkpoint's structure gives one short CheckpointError, not one
    wrapped inside another at every level (a valid file, digest included, of a 100-level
    dict whose innermost node lacks its type)."""
    import json
    import zipfile
    from gpugrad import io

    tree = {}
    for _ in range(100):
        tree = {"t": "dict", "items": [["a", tree]]}
    text = json.dumps({"format": io.FORMAT, "version": 1, "tree": tree, "arrays": {}},
                      separators=(",", ":"))
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, a in ((io._META, np.asarray(text)), (io._SUM, np.asarray(io._digest(text, {})))):
            with zf.open(name + ".npy", "w") as m:
                np.lib.format.write_array(m, a, allow_pickle=False)
    with pytest.raises(gg.CheckpointError) as info:
        gg.load(bad)
    assert "malformed structure" in str(info.value) and len(str(info.value)) < 300
