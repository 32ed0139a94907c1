"""ONNX export of the face encoder and an ONNX Runtime runner with the same interface.

The exported graph takes uint8-valued float pixels ``(N, 3, 150, 150)`` in [0, 255] (the
same input as :class:`~siamnet.faces.dlib_resnet.DlibResNet`) and returns ``(N, 128)``; the
batch dimension is dynamic.  By default the affine-folded :class:`FusedDlibResNet` is
exported, so the graph is plain Conv/Relu/MaxPool/AveragePool/Pad/Add/Gemm.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from siamnet.errors import ModelError
from siamnet.faces.dlib_net import CHIP_SIZE, EMBEDDING_DIM

DEFAULT_OPSET = 17


def export_onnx(model: nn.Module, path: str | Path, opset: int = DEFAULT_OPSET,
                fuse: bool = True) -> Path:
    """Write ``model`` (a DlibResNet; folded first when ``fuse``) to ``path`` as ONNX."""
    from siamnet.faces.dlib_resnet import DlibResNet, FusedDlibResNet

    path = Path(path)
    net = FusedDlibResNet(model) if fuse and isinstance(model, DlibResNet) else model
    net = net.cpu().eval()
    example = torch.zeros(2, 3, CHIP_SIZE, CHIP_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            net, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=["pixels"], output_names=["embedding"],
            dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"}},
            do_constant_folding=True,
        )
    return path


class OnnxFaceEncoder:
    """Runs an exported face encoder with ONNX Runtime (CPU by default).

    ``providers`` defaults to CUDA when onnxruntime-gpu offers it, else CPU; ``threads``
    sets intra-op threads (0 = onnxruntime's default).
    """

    def __init__(self, path: str | Path, threads: int = 0, providers: list[str] | None = None,
                 optimization: str = "all"):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("ONNX inference needs onnxruntime: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        available = ort.get_available_providers()
        if providers is None:
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                         if p in available]
        if not Path(path).is_file():
            raise ModelError(f"{path}: ONNX model file not found")
        try:
            self.session = ort.InferenceSession(os.fspath(path), opts, providers=providers)
        except Exception as exc:
            raise ModelError(f"{path}: ONNX Runtime cannot load the model: {exc}") from None
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, pixels_nchw: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(pixels_nchw, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0]

    def encode_chips(self, chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB chips → (N, 128) float32."""
        arr = np.asarray(chips)
        if arr.ndim == 3:
            arr = arr[None]
        out = np.empty((len(arr), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(arr), batch_size):
            batch = arr[start:start + batch_size]
            x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
            out[start:start + len(batch)] = self(x)
        return out
