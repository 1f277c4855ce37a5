"""Every .cu source under kernels/ compiles with nvcc (skipped where nvcc is absent), with every
template instantiated (GPUGRAD_INSTANTIATE_ALL), for sm_80 and sm_90."""
import pathlib
import shutil
import subprocess

import pytest

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"
SOURCES = sorted(KERNELS.glob("*.cu"))
NVCC = shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",)
                                     if pathlib.Path(p).exists()), None)


def test_sources_exist():
    assert {p.name for p in SOURCES} >= {"activations.cu", "epilogue.cu", "linear_act.cu"}


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cu_source_compiles_with_nvcc(source, arch, tmp_path):
    cmd = [NVCC, "-c", f"-arch={arch}", "-std=c++14", "-DGPUGRAD_INSTANTIATE_ALL",
           "-Werror", "all-warnings", f"-I{KERNELS}", str(source), "-o", str(tmp_path / "out.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "out.o").stat().st_size > 0


def elementwise_as_cuda(specs, ctype):
    """Each (name, in_params, out_params, operation) of a CuPy ElementwiseKernel, written out as
    the __global__ function CuPy generates for it (typedef'd T, inputs by value, outputs by
    reference), after the activations.cu preamble."""
    from gpugrad.kernels.cuda_sources import source
    parts = ["#include <cuda_fp16.h>\ntypedef __half float16;   // CuPy's float16, for nvcc",
             source("activations.cu")]
    ctypes = {"int64": "long long", "int32": "int", "float64": "double"}
    for name, in_params, out_params, op in specs:
        ins = [p.split() for p in in_params.split(",")]
        raws = [(ctypes.get(p[1], p[1]), p[2]) for p in ins if p[0] == "raw"]   # raw: pointers
        ins = [(ctypes.get(p[0], p[0]), p[1]) for p in ins if p[0] != "raw"]
        outs = [p.split() for p in out_params.split(",")]
        args = ", ".join([f"const {t} *_in_{n}" for t, n in ins] + [f"const {t} *{n}" for t, n in raws]
                         + [f"{t} *_out_{n}" for t, n in outs])
        body = "".join([f"const {t} {n} = _in_{n}[i];\n" for t, n in ins] +
                       [f"{t} &{n} = _out_{n}[i];\n" for t, n in outs])
        parts.append(f"namespace {name} {{ typedef {ctype} T;\n"
                     f"__global__ void kernel({args}, int size) {{\n"
                     f"for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < size; "
                     f"i += blockDim.x * gridDim.x) {{\n{body}{op};\n}} }} }}\n")
    return "\n".join(parts)


@pytest.mark.skipif(NVCC is None, reason="nvcc not found")
def test_cupy_elementwise_operations_compile_with_nvcc(tmp_path):
    from gpugrad.kernels.cuda_sources import elementwise_specs
    src = tmp_path / "elementwise.cu"
    src.write_text("\n".join(elementwise_as_cuda(elementwise_specs(), ctype).replace(
        "namespace gpugrad_", f"namespace {ctype}_gpugrad_") for ctype in ("float", "double")))
    cmd = [NVCC, "-c", "-arch=sm_80", "-std=c++14", "-Werror", "all-warnings",
           "-diag-suppress", "177",          # unused copies of scalars CuPy passes as parameters
           str(src), "-o", str(tmp_path / "out.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stderr}\n{src.read_text()[-3000:]}"
