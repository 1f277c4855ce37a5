"""Every CUDA C source gpugrad compiles at run time (kernels/*.cu, as cuda.py instantiates them),
compiled by NVRTC the way CuPy compiles a RawModule on a user's machine: CuPy's NVRTC program,
C++14, CuPy's header directory and the CUDA headers the pip wheels provide (found as CuPy finds
them), for sm_80 and sm_90. No GPU is needed, only CuPy and the NVRTC wheel: this is the check
that catches a header the wheels lack (``<mma.h>`` including ``crt/mma.h``) or a host-only macro,
which an nvcc compile against a full toolkit cannot see. Skipped where CuPy or NVRTC is absent.
"""
import pathlib

import pytest

from gpugrad.kernels.cuda_sources import RAW_KERNELS, raw_kernel_names, source

cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
compiler = pytest.importorskip("cupy.cuda.compiler")

try:
    from cupy_backends.cuda.libs import nvrtc
    NVRTC_VERSION = nvrtc.getVersion()
except Exception as exc:                       # noqa: BLE001 -- no libnvrtc: skip, saying why
    pytest.skip(f"NVRTC is not loadable: {exc}", allow_module_level=True)


def _include_dirs():
    """CuPy's own headers and the CUDA headers, as CuPy looks for them (wheels first)."""
    dirs = [pathlib.Path(cupy.__file__).parent / "_core" / "include"]
    try:
        from cuda.pathfinder import find_nvidia_header_directory
        found = find_nvidia_header_directory("cudart")
        if found:
            dirs.append(pathlib.Path(found))
    except Exception:                          # noqa: BLE001 -- no pathfinder: CuPy's own only
        pass
    return [d for d in dirs if d.is_dir()]


def _compile(code, names, arch):
    options = ("--std=c++14", "-ftz=true", f"-arch=compute_{arch}") + tuple(
        f"-I{d}" for d in _include_dirs())
    prog = compiler._NVRTCProgram(code, "gpugrad.cu", name_expressions=names)
    try:
        return prog.compile(options)
    except compiler.CompileException as exc:
        pytest.fail(f"NVRTC {NVRTC_VERSION} failed for compute_{arch} on {names[:3]}...:\n"
                    f"{exc.get_message()[:3000]}")


@pytest.mark.parametrize("arch", ["80", "90"])
@pytest.mark.parametrize("filename", sorted(RAW_KERNELS))
def test_raw_kernels_compile_with_nvrtc(filename, arch):
    names = [name for f, name in raw_kernel_names() if f == filename]
    ptx, mapping = _compile(source(filename), names, arch)
    assert ptx and set(mapping) == set(names)


def test_the_registry_names_every_raw_kernel_cuda_py_builds():
    """cuda.py builds RawModules only from (file, template) pairs the registry lists."""
    import re
    text = (pathlib.Path(__file__).resolve().parent.parent / "kernels" / "cuda.py").read_text()
    used = set(re.findall(r'_raw_kernel\(\s*"(\w+\.cu)",\s*"(\w+)"', text))
    assert used and used <= {(f, t) for f, temps in RAW_KERNELS.items() for t in temps}
