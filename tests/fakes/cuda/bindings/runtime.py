"""A stand-in for cuda-python's runtime bindings: 'device' memory is host memory, copies are memmove."""
from __future__ import annotations

import ctypes
import enum
import os
from dataclasses import dataclass

import numpy as np

DEVICES = int(os.environ.get("FAKE_CUDA_DEVICES", "1"))
MALLOC_FAILS = os.environ.get("FAKE_CUDA_MALLOC_FAILS", "") == "1"
BUFFERS: dict[int, np.ndarray] = {}
STREAMS: list[int] = []


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's name
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


@dataclass
class cudaDeviceProp:  # noqa: N801
    name: bytes = b"Fake GPU"
    major: int = 9
    minor: int = 0


def cudaGetDeviceCount():  # noqa: N802
    if DEVICES == 0:
        return cudaError_t.cudaErrorNoDevice, 0
    return cudaError_t.cudaSuccess, DEVICES


def cudaGetDeviceProperties(device):  # noqa: N802
    return cudaError_t.cudaSuccess, cudaDeviceProp()


def cudaStreamCreate():  # noqa: N802
    STREAMS.append(len(STREAMS) + 1)
    return cudaError_t.cudaSuccess, STREAMS[-1]


def cudaMalloc(size):  # noqa: N802
    if MALLOC_FAILS:
        return cudaError_t.cudaErrorMemoryAllocation, 0
    buffer = np.zeros(size, np.uint8)
    BUFFERS[buffer.ctypes.data] = buffer
    return cudaError_t.cudaSuccess, buffer.ctypes.data


def cudaFree(pointer):  # noqa: N802
    BUFFERS.pop(int(pointer), None)
    return (cudaError_t.cudaSuccess,)


def _check_range(pointer: int, size: int) -> None:
    """A copy must stay inside one allocated 'device' buffer, as on a real GPU."""
    for start, buffer in BUFFERS.items():
        if start <= pointer and pointer + size <= start + buffer.nbytes:
            return
    raise AssertionError(f"copy of {size} bytes at {pointer:#x} leaves every device buffer")


def cudaMemcpyAsync(dst, src, size, kind, stream):  # noqa: N802
    _check_range(int(dst) if kind == cudaMemcpyKind.cudaMemcpyHostToDevice else int(src), size)
    ctypes.memmove(int(dst), int(src), size)
    return (cudaError_t.cudaSuccess,)


def cudaStreamSynchronize(stream):  # noqa: N802
    return (cudaError_t.cudaSuccess,)
