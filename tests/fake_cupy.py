"""A NumPy-backed stand-in for CuPy, so that the ``cuda`` tests run on a machine without a GPU
(``GPUGRAD_FAKE_CUDA=1``; see ``conftest.py``) and show device bugs there.

It is a *device* model, not a numerics one: a fake CUDA array (:class:`ndarray`) holds a NumPy
array but is not one (``isinstance(a, numpy.ndarray)`` is False, ``type(a).__module__`` is
``"cupy"``), and it refuses what CuPy refuses:

* ``numpy.asarray(a)`` / ``numpy.array(a)`` raise TypeError (implicit copy to the host);
* a host ``numpy.ndarray`` (0-d included) in a ufunc, an operator, a ``cupy.*`` function or a
  ``numpy.*`` function dispatched to CuPy raises TypeError ("Unsupported type"), as CuPy's
  kernels do; Python and NumPy scalars are fine, as in CuPy;
* a non-scalar host array (or a list) written through a basic index raises, as CuPy's ``fill``
  does; through an advanced (array) index it is converted, as CuPy does;
* NumPy kernels compiled by Numba, ctypes and buffer-protocol consumers cannot read it;
* an integer index array out of bounds wraps around (advanced indexing, ``take``, ``put``,
  ``take_along_axis``/``put_along_axis``, ``ufunc.at``, ``scatter_add``), as CuPy's does,
  where NumPy raises IndexError.

Results are fake arrays again, 0-d arrays where NumPy would give a scalar (CuPy never hands back
a NumPy scalar).  Views keep their identity (``v.base is a``, ``cupy.asarray(a) is a``), and
``a.data.ptr`` is the host address, so aliasing checks behave.  Explicit transfers work:
``cupy.asarray(host)``, ``a.get()``, ``cupy.asnumpy(a)``, ``a.set(host)``.  What needs a real
GPU (``ElementwiseKernel``, ``RawModule``, cuBLAS handles, DLPack to other libraries) raises
NotImplementedError.  ``install()`` puts this module in ``sys.modules`` as ``cupy`` (and a small
``cupyx.scipy.special``).
"""
from __future__ import annotations

import contextlib
import functools
import numbers
import operator
import sys
import types
import weakref

import numpy as np

__version__ = "0.0.0+fake"
N_DEVICES = 2            # two fake GPUs, cuda:0 and cuda:1: work must run on its arrays' one

_PY_SCALARS = (bool, int, float, complex)


def _host_error(x, what="CuPy"):
    return TypeError(f"Unsupported type {type(x)} (fake CUDA: a host numpy.ndarray reached "
                     f"{what} next to CUDA arrays; CuPy refuses it, move it with cupy.asarray)")


# ------------------------------------------------------------------------ wrapping / unwrapping
_live = weakref.WeakValueDictionary()     # id(host array) -> its fake array: views keep identity


def _wrap(x):
    """The fake array holding NumPy array ``x`` (the same object for the same ``x``)."""
    w = _live.get(id(x))
    if w is not None and w._a is x:
        return w
    w = object.__new__(ndarray)
    object.__setattr__(w, "_a", x)
    object.__setattr__(w, "_d", _device_of_new(x))
    _live[id(x)] = w
    return w


def _device_of_new(x):
    """A view lives on its base's device (as in CuPy); a new array on the current one."""
    base = x.base
    while base is not None:
        owner = _live.get(id(base))
        if owner is not None and owner._a is base:
            return owner._d
        base = getattr(base, "base", None)
    return _current[-1]


def _on_current(x):
    """CuPy launches on the current device: an array of another device is refused (as CuPy
    refuses it without peer access), so work that forgot its operands' device shows here."""
    if x._d != _current[-1]:
        raise ValueError(f"fake CUDA: the array is on device {x._d} but device "
                         f"{_current[-1]} is current (CuPy launches on the current device; "
                         f"run under cupy.cuda.Device({x._d}))")
    return x._a


def _out(r):
    """Wrap what a NumPy call returned: arrays and NumPy scalars become fake arrays."""
    if isinstance(r, np.ndarray):
        return _wrap(r)
    if isinstance(r, np.generic):
        return _wrap(np.asarray(r))
    if isinstance(r, tuple):
        items = [_out(v) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [_out(v) for v in r]
    return r


def _arg(x, what="CuPy"):
    """An argument of a CuPy function: fake arrays unwrapped, host arrays refused."""
    t = type(x)
    if t is ndarray:
        return _on_current(x)
    if t in _PY_SCALARS or x is None or isinstance(x, (np.generic, str, slice, np.dtype, type)):
        return x
    if isinstance(x, np.ndarray):
        raise _host_error(x, what)
    if t is tuple or t is list:
        return t(_arg(v, what) for v in x)
    if t is dict:
        return {k: _arg(v, what) for k, v in x.items()}
    return x


def _operand(x):
    """An elementwise operand: a fake array or a scalar; anything else is refused (CuPy's
    kernels take neither host arrays nor lists)."""
    t = type(x)
    if t is ndarray:
        return _on_current(x)
    if t in _PY_SCALARS or isinstance(x, (numbers.Number, np.generic)):
        return x
    if isinstance(x, np.ndarray):
        raise _host_error(x, "a CuPy kernel")
    raise TypeError(f"Unsupported type {t}")


def _key(k):
    """An index: fake arrays unwrapped; host arrays and lists are accepted (CuPy converts)."""
    if type(k) is ndarray:
        return k._a
    if type(k) is tuple:
        return tuple(_key(v) for v in k)
    if type(k) is list:
        return [_key(v) for v in k]
    return k


def _wrapped(k, shape):
    """Key ``k`` (unwrapped) with its integer index arrays wrapped around the axes they index,
    as CuPy's advanced indexing does where NumPy raises (``x[[1, 3]]`` of a 3-element ``x``
    reads ``x[1], x[0]``; ``x[[1, 3]] = 10`` writes ``x[0]``): code that relies on NumPy's
    IndexError shows its bug here as on a GPU.  An empty axis is left to NumPy (it raises)."""
    parts = k if type(k) is tuple else (k,)
    parts = [np.asarray(p) if type(p) is list else p for p in parts]
    parts = [p.astype(np.intp) if isinstance(p, np.ndarray) and p.size == 0
             and p.dtype.kind == "f" else p for p in parts]

    def span(p):
        if p is None or p is Ellipsis or isinstance(p, (bool, np.bool_)):
            return 0
        return p.ndim if isinstance(p, np.ndarray) and p.dtype == np.bool_ else 1
    if not any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts):
        return k
    rest, axis, out = len(shape) - sum(span(p) for p in parts), 0, []
    for p in parts:
        if p is Ellipsis:
            axis += rest
        elif isinstance(p, np.ndarray) and p.dtype.kind in "iu" and axis < len(shape) \
                and shape[axis] > 0:
            p = np.mod(p, shape[axis]).astype(p.dtype, copy=False)
        out.append(p)
        axis += span(p)
    return tuple(out) if type(k) is tuple else out[0]


def _advanced(k):
    parts = k if type(k) is tuple else (k,)
    return any(isinstance(p, (ndarray, np.ndarray, list, bool, np.bool_)) for p in parts)


def _host_copy(x):
    """``x`` (anything NumPy takes) as a fresh host array, fake arrays inside lists included."""
    if type(x) is ndarray:
        return np.array(x._a)
    if type(x) in (list, tuple):
        return np.array([_host_copy(v) if not isinstance(v, _PY_SCALARS) else v for v in x])
    return np.array(x, copy=True)


# ------------------------------------------------------------------------ devices and streams
class CUDARuntimeError(RuntimeError):
    def __init__(self, status, msg="cudaErrorInvalidDevice: invalid device ordinal"):
        super().__init__(msg)
        self.status = status


_current = [0]


class Device:
    """``cupy.cuda.Device``: a context manager that makes device ``id`` current."""

    def __init__(self, device=None):
        self.id = _current[-1] if device is None else int(getattr(device, "id", device))
        if not 0 <= self.id < N_DEVICES:
            raise CUDARuntimeError(101)
        self.attributes = {"MultiProcessorCount": 4, "MaxThreadsPerBlock": 1024}
        self.compute_capability = "90"

    def __enter__(self):
        _current.append(self.id)
        return self

    def __exit__(self, *exc):
        _current.pop()
        return False

    def use(self):
        _current[0] = self.id

    def synchronize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("fake-cuda", self.id))

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Event:
    def __init__(self, *args, **kwargs):
        pass

    def record(self, stream=None):
        return self

    def synchronize(self):
        pass

    def query(self):
        return True


class Stream:
    null = None

    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def use(self):
        return self

    def synchronize(self):
        pass

    def record(self, event=None):
        return event if event is not None else Event()

    def wait_event(self, event):
        pass


Stream.null = Stream(null=True)


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0


_pool, _pinned_pool = _MemoryPool(), _MemoryPool()


def get_default_memory_pool():
    return _pool


def get_default_pinned_memory_pool():
    return _pinned_pool


def _device_properties(index):
    Device(index)
    return {"name": b"Fake CUDA device (NumPy)", "totalGlobalMem": 1 << 34,
            "multiProcessorCount": 4, "major": 9, "minor": 0}


runtime = types.SimpleNamespace(
    CUDARuntimeError=CUDARuntimeError,
    getDeviceCount=lambda: N_DEVICES,
    getDevice=lambda: _current[-1],
    setDevice=lambda i: Device(i).use(),
    deviceSynchronize=lambda: None,
    memGetInfo=lambda: (1 << 33, 1 << 34),
    getDeviceProperties=_device_properties,
    runtimeGetVersion=lambda: 12080,
    driverGetVersion=lambda: 12080,
    is_hip=False,
)

cuda = types.SimpleNamespace(
    Device=Device, Stream=Stream, Event=Event, runtime=runtime,
    is_available=lambda: True,
    get_current_stream=lambda device=None: Stream.null,
    get_elapsed_time=lambda start, end: 0.0,
    alloc_pinned_memory=lambda nbytes: memoryview(bytearray(max(int(nbytes), 1))),
    get_device_id=lambda: _current[-1],
    MemoryPool=_MemoryPool, PinnedMemoryPool=_MemoryPool,
    set_allocator=lambda allocator=None: None,
    set_pinned_memory_allocator=lambda allocator=None: None,
    __name__="cupy.cuda",
)


class _Memory:
    """``a.data``: a device pointer (here the host address of the first element)."""

    def __init__(self, a):
        self.ptr = a.__array_interface__["data"][0]
        self.device_id = 0
        self.device = Device(0)


# ------------------------------------------------------------------------ the array
def _binop(name):
    def op(self, other):
        if type(other) is not ndarray and not isinstance(
                other, _PY_SCALARS + (np.generic, np.ndarray, list, tuple)):
            return NotImplemented                     # a Tensor or the like: its reflected op
        return _out(getattr(_on_current(self), name)(_operand(other)))

    op.__name__ = name
    return op


def _iop(name):
    def op(self, other):
        if type(other) is not ndarray and not isinstance(
                other, _PY_SCALARS + (np.generic, np.ndarray, list, tuple)):
            return NotImplemented
        r = getattr(_on_current(self), name)(_operand(other))
        if r is NotImplemented:
            return r
        return self

    op.__name__ = name
    return op


def _unop(name):
    def op(self):
        return _out(getattr(_on_current(self), name)())

    op.__name__ = name
    return op


class ndarray:
    """A fake ``cupy.ndarray`` on fake device 0, holding a NumPy array."""

    __slots__ = ("_a", "_d", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        object.__setattr__(self, "_a", np.empty(shape, dtype, order=order))
        object.__setattr__(self, "_d", _current[-1])
        _live[id(self._a)] = self

    # --- what gpugrad and CuPy code read
    shape = property(lambda self: self._a.shape,
                     lambda self, v: setattr(self._a, "shape", v))
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: _out(self._a.real))
    imag = property(lambda self: _out(self._a.imag))
    device = property(lambda self: Device(self._d))
    data = property(lambda self: _Memory(self._a))

    @property
    def base(self):
        b = self._a.base
        return _wrap(b) if isinstance(b, np.ndarray) else None

    @property
    def __cuda_array_interface__(self):
        d = dict(self._a.__array_interface__)
        d["version"] = 3
        d["stream"] = 1
        return d

    # --- explicit transfers (the only ways to the host)
    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if type(arr) is ndarray:
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        arr = np.asarray(arr)
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError("shape or dtype mismatch in ndarray.set")
        self._a[...] = arr

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly. (fake CUDA)")

    def __dlpack_device__(self):
        return (2, 0)                                  # kDLCUDA, device 0

    def __dlpack__(self, *args, **kwargs):
        raise NotImplementedError("fake CUDA: an array cannot be exported through DLPack")

    def toDlpack(self):
        raise NotImplementedError("fake CUDA: an array cannot be exported through DLPack")

    # --- NumPy protocols: a NumPy call on a CUDA array runs "on the device", as in CuPy
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_operand(x) if method == "__call__" else _arg(x, "a CuPy ufunc") for x in inputs]
        if "out" in kwargs:
            outs = kwargs["out"]
            outs = outs if isinstance(outs, tuple) else (outs,)
            for o in outs:
                if o is not None and type(o) is not ndarray:
                    raise TypeError(f"fake CUDA: out= must be a CUDA array, got {type(o)}")
            kwargs["out"] = tuple(None if o is None else o._a for o in outs)
        if method == "at":
            a = _arg(inputs[0])
            args = [a, _wrapped(_key(inputs[1]), a.shape)] + [_arg(x) for x in inputs[2:]]
        return _out(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        for t in types_:
            if t is not ndarray and not issubclass(t, np.ndarray):
                return NotImplemented
        if func in _WRAPPING:                          # CuPy's, which wrap bad indices
            return _WRAPPING[func](*args, **kwargs)
        return _out(func(*_arg(list(args), "a NumPy function on CUDA arrays"),
                         **_arg(dict(kwargs), "a NumPy function on CUDA arrays")))

    # --- indexing
    def __getitem__(self, key):
        k = _key(key)
        if _advanced(key):
            k = _wrapped(k, self._a.shape)             # CuPy wraps out-of-bounds indices
        r = self._a[k]
        if isinstance(r, np.generic):                  # CuPy: a 0-d view, never a scalar
            r = self._a[(k if type(k) is tuple else (k,)) + (Ellipsis,)]
        return _out(r)

    def __setitem__(self, key, value):
        k = _key(key)
        if type(value) is ndarray:
            value = value._a
        elif isinstance(value, (np.ndarray, list, tuple)) and not _advanced(key):
            if not (isinstance(value, np.ndarray) and value.ndim == 0):
                raise (ValueError if isinstance(value, np.ndarray) else TypeError)(
                    f"fake CUDA: cannot write a host {type(value).__name__} into a CUDA array "
                    f"through a basic index (CuPy: non-scalar numpy.ndarray cannot be used "
                    f"for fill / Unsupported type); move it with cupy.asarray first")
        if _advanced(key):
            k = _wrapped(k, self._a.shape)             # CuPy wraps out-of-bounds indices
        if _advanced(key) and self._a.size:
            # CuPy leaves the winner among repeated positions unspecified: write in reverse, so
            # that code relying on NumPy's "last write wins" fails here as it may on a GPU
            tgt = np.arange(self._a.size).reshape(self._a.shape)[k]
            vals = np.broadcast_to(np.asarray(value, dtype=self._a.dtype), tgt.shape)
            self._a[np.unravel_index(tgt.ravel()[::-1], self._a.shape)] = vals.ravel()[::-1]
            return
        self._a[k] = value

    def take(self, indices, axis=None, out=None):
        return take(self, indices, axis=axis, out=out)

    def put(self, indices, values, mode="wrap"):
        return put(self, indices, values, mode=mode)

    def fill(self, value):
        if type(value) is ndarray:
            raise TypeError("fake CUDA: fill takes a scalar")
        if isinstance(value, np.ndarray):
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = value.item()
        self._a.fill(value)

    # --- Python protocols
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return operator.index(self._a)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    __hash__ = None

    def __copy__(self):
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo):
        return _wrap(self._a.copy())

    def __reduce__(self):
        return (_rebuild, (self._a.copy(),))

    def __contains__(self, v):
        return _operand(v) in self._a

    def __setattr__(self, name, value):
        if name == "_a":
            raise AttributeError("read-only")
        setattr(self._a, name, _arg(value))

    def __getattr__(self, name):
        if name.startswith("__") or name in _HOST_ONLY:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        attr = getattr(self._a, name)
        if callable(attr):
            @functools.wraps(attr)
            def method(*args, **kwargs):
                return _out(attr(*_arg(list(args)), **_arg(dict(kwargs))))
            return method
        return _out(attr)

    def __dir__(self):
        return sorted(set(dir(type(self))) | {n for n in dir(self._a)
                                              if not n.startswith("__") and n not in _HOST_ONLY})


# NumPy array attributes that CuPy arrays lack: reading them from a CUDA array is a host path.
_HOST_ONLY = frozenset({"ctypes", "tofile", "dump", "dumps", "tobytes", "tostring", "byteswap",
                        "newbyteorder", "setflags", "getfield", "setfield", "resize", "itemset",
                        "to_device"})

for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift", "divmod", "lt", "le", "eq", "ne", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binop(f"__{_name}__"))
    if _name not in ("lt", "le", "eq", "ne", "gt", "ge"):
        setattr(ndarray, f"__r{_name}__", _binop(f"__r{_name}__"))
        if _name != "divmod":
            setattr(ndarray, f"__i{_name}__", _iop(f"__i{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", _unop(f"__{_name}__"))
ndarray.__module__ = "cupy"              # gpugrad.backend.is_cupy_array: type(a).__module__


def _rebuild(a):
    return _wrap(a)


# ------------------------------------------------------------------------ module functions
class _UFunc:
    """A CuPy ufunc: NumPy's, on fake arrays only."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs = uf.nin, uf.nout, uf.nargs

    def __call__(self, *args, **kwargs):
        if "out" in kwargs and kwargs["out"] is not None:
            outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
            for o in outs:
                if o is not None and type(o) is not ndarray:
                    raise TypeError(f"fake CUDA: out= must be a CUDA array, got {type(o)}")
            kwargs["out"] = tuple(None if o is None else o._a for o in outs)
        return _out(self._uf(*[_operand(a) for a in args], **kwargs))

    def __getattr__(self, method):
        fn = getattr(self._uf, method)
        if not callable(fn):
            return fn

        def call(*args, **kwargs):
            if method == "at":                     # (CuPy wraps out-of-bounds indices)
                a, idx, *rest = args
                a = _arg(a)
                return _out(fn(a, _wrapped(_key(idx), a.shape), *[_operand(r) for r in rest]))
            return _out(fn(*_arg(list(args)), **_arg(dict(kwargs))))
        return call

    def __repr__(self):
        return f"<fake cupy ufunc {self.__name__}>"


def _function(fn, what="CuPy"):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        return _out(fn(*_arg(list(args), what), **_arg(dict(kwargs), what)))
    return call


class _Namespace(types.ModuleType):
    """``cupy.linalg``, ``cupy.fft``, ...: NumPy's namesake, on fake arrays."""

    def __init__(self, name, host, extra=None):
        super().__init__(name)
        self._host = host
        for k, v in (extra or {}).items():
            setattr(self, k, v)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _resolve(self, self._host, name)


def _resolve(space, host, name, cache=None):
    """``host.name`` for CuPy's namespace ``space``, cached in ``cache`` (default: on
    ``space``).  The cupy module itself caches in a dict: a module attribute would also be a
    global of this file, and ``cupy.any`` would shadow the builtin ``any`` here."""
    obj = getattr(host, name)
    if isinstance(obj, np.ufunc):
        obj = _UFunc(obj)
    elif isinstance(obj, type) or isinstance(obj, np.dtype):
        pass                                           # dtypes, exceptions, classes
    elif isinstance(obj, types.ModuleType):
        obj = _Namespace(f"{space.__name__}.{name}", obj)
    elif callable(obj):
        obj = _function(obj)
    if cache is None:
        setattr(space, name, obj)
    else:
        cache[name] = obj
    return obj


def asarray(a, dtype=None, order=None, *, blocking=False):
    """A CUDA array: ``a`` itself when it already is one (and the dtype fits), else a copy."""
    if type(a) is ndarray:
        if a._d != _current[-1]:                     # another device's array: a peer copy
            return _wrap(np.array(a._a, dtype=dtype, order=order or "K", copy=True))
        return _wrap(np.asarray(a._a, dtype=dtype, order=order))
    return _wrap(np.asarray(_host_copy(a), dtype=dtype, order=order))


asanyarray = asarray


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if type(obj) is ndarray:
        return _wrap(np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return _wrap(np.array(_host_copy(obj), dtype=dtype, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


def from_dlpack(x, *args, **kwargs):
    if type(x) is ndarray:
        return x
    raise NotImplementedError(f"fake CUDA: cannot import {type(x).__name__} through DLPack")


fromDlpack = from_dlpack


def _needs_gpu(name):
    def make(*args, **kwargs):
        raise NotImplementedError(f"fake CUDA: cupy.{name} needs a real GPU")
    make.__name__ = name
    return make


ElementwiseKernel = _needs_gpu("ElementwiseKernel")
ReductionKernel = _needs_gpu("ReductionKernel")
RawKernel = _needs_gpu("RawKernel")
RawModule = _needs_gpu("RawModule")
fuse = _needs_gpu("fuse")
memoize = _needs_gpu("memoize")


def is_available():
    return True


class _Generator:
    """``cupy.random.Generator`` over NumPy's (different numbers than CuPy's, same API)."""

    def __init__(self, g):
        self._g = g

    def __getattr__(self, name):
        return _function(getattr(self._g, name))


def _default_rng(seed=None):
    return _Generator(np.random.default_rng(_arg(seed)))


random = _Namespace("cupy.random", np.random, {"default_rng": _default_rng,
                                               "Generator": _Generator})
linalg = _Namespace("cupy.linalg", np.linalg)
fft = _Namespace("cupy.fft", np.fft)
testing = _Namespace("cupy.testing", np.testing)
lib = _Namespace("cupy.lib", np.lib)           # lib.stride_tricks.as_strided: views, as CuPy's


_module_cache = {}


# CuPy's index functions wrap out-of-bounds indices around (cupy.put's default mode is
# 'wrap'; take, take_along_axis and put_along_axis index as its fancy indexing does)
def take(a, indices, axis=None, out=None):
    a = _arg(a)
    n = a.size if axis is None else a.shape[axis]
    idx = _key(indices)
    idx = np.mod(idx, n) if n and np.ndim(idx) else idx
    return _out(np.take(a, idx, axis=axis, out=None if out is None else _arg(out)))


def put(a, ind, v, mode="wrap"):
    np.put(_arg(a), _key(ind), _operand(v) if not isinstance(v, list) else v, mode=mode)


def _wrap_along(a, indices, axis):
    n = a.size if axis is None else a.shape[axis]
    idx = _key(indices)
    return np.mod(idx, n).astype(idx.dtype, copy=False) if n else idx


def take_along_axis(arr, indices, axis=-1):
    a = _arg(arr)
    return _out(np.take_along_axis(a, _wrap_along(a, indices, axis), axis=axis))


def put_along_axis(arr, indices, values, axis):
    a = _arg(arr)
    np.put_along_axis(a, _wrap_along(a, indices, axis), _operand(values), axis=axis)


_WRAPPING = {np.take: take, np.put: put, np.take_along_axis: take_along_axis,
             np.put_along_axis: put_along_axis}


def where(condition, *xy):
    """CuPy's where needs an array condition: a Python bool fails (as on a GPU)."""
    if type(condition) is not ndarray:
        raise AttributeError(f"'{type(condition).__name__}' object has no attribute 'astype' "
                             f"(fake CUDA: cupy.where needs a CUDA array condition)")
    return _out(np.where(condition._a, *(_operand(v) for v in xy)))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    obj = _module_cache.get(name)
    return obj if obj is not None else _resolve(sys.modules[__name__], np, name, _module_cache)


# ------------------------------------------------------------------------ cupyx
def _special():
    import scipy.special

    mod = _Namespace("cupyx.scipy.special", scipy.special)
    return mod


def install():
    """Make ``import cupy`` (and ``cupyx.scipy.special``) give this module, for this process.
    Returns the module."""
    me = sys.modules[__name__]
    special = _special()
    scipy_ns = types.ModuleType("cupyx.scipy")
    scipy_ns.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = scipy_ns
    cupyx.scatter_add = lambda a, slices, value: np.add.at(
        _arg(a), _wrapped(_key(slices), a.shape), _operand(value))
    cupyx.scatter_max = lambda a, slices, value: np.maximum.at(
        _arg(a), _wrapped(_key(slices), a.shape), _operand(value))
    sys.modules.update({"cupy": me, "cupy.cuda": cuda, "cupy.cuda.runtime": runtime,
                        "cupy.random": random, "cupy.linalg": linalg, "cupy.fft": fft,
                        "cupy.lib": lib, "cupy.lib.stride_tricks": lib.stride_tricks,
                        "cupyx": cupyx, "cupyx.scipy": scipy_ns, "cupyx.scipy.special": special})
    return me


def is_fake(a) -> bool:
    return type(a) is ndarray


def host(a):
    """The NumPy array inside a fake array (shared memory; for the harness only)."""
    return a._a


def wrap(a):
    """A fake array sharing NumPy array ``a``'s memory (for the harness only)."""
    return _wrap(a)


def wrap_result(r):
    return _out(r)


# used by contextlib users expecting cupy.cuda.using_allocator etc.
cuda.using_allocator = lambda allocator=None: contextlib.nullcontext()
