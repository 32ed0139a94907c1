"""Read dlib's face-recognition ResNet file into plain numpy arrays.

The network is the one of dlib's ``examples/dnn_face_recognition_ex.cpp``::

    block<N,BN,stride,S>  = BN<con<N,3,3,1,1, relu<BN<con<N,3,3,stride,stride, S>>>>>
    ares<N,S>            = relu<add_prev1<block<N,affine,1, tag1<S>>>>
    ares_down<N,S>       = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,affine,2, tag1<S>>>>>>>
    alevel0 = ares_down<256>            alevel1 = ares<256> x2 on ares_down<256>
    alevel2 = ares<128> x2 on ares_down<128>
    alevel3 = ares<64> x3 on ares_down<64>
    alevel4 = ares<32> x3
    anet = loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<
           alevel4<max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>

A dlib network is serialized recursively from the top: the loss wrapper writes its version
and the loss details, every ``add_layer``/tag/skip wrapper writes its version and then its
sub-network, and only after the sub-network does an ``add_layer`` write its layer details
(followed by bookkeeping: three bools and two or three empty tensors).  So the file is all
the wrapper versions top-down, then the input layer, then the layer details bottom-up.

:func:`read_dlib_resnet` checks every wrapper version and every layer's version string and
hyper-parameters against the expected architecture and returns the weights named as in
:class:`siamnet.faces.dlib_resnet.DlibResNet`'s ``state_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from siamnet.faces.dlib_format import DlibFormatError, DlibReader

#: (module name, filters, number of residual blocks, whether the first block down-samples),
#: in forward order (input side first).  Names follow dlib's alevel4 .. alevel0.
LEVELS: tuple[tuple[str, int, int, bool], ...] = (
    ("level4", 32, 3, False),
    ("level3", 64, 4, True),
    ("level2", 128, 3, True),
    ("level1", 256, 3, True),
    ("level0", 256, 1, True),
)
STEM_FILTERS = 32
EMBEDDING_DIM = 128
CHIP_SIZE = 150


@dataclass
class _Node:
    """One wrapper in the network, bottom-up order.  ``kind``: layer, tag, skip."""

    kind: str
    layer: str = ""  # for kind == "layer": con, affine, relu, max_pool, avg_pool, add_prev, fc
    name: str = ""  # state_dict prefix for layers with weights
    desc: str = ""  # human-readable description for error messages
    params: dict = field(default_factory=dict)


def _expected_nodes() -> list[_Node]:
    """The wrappers of dlib's face ResNet from the input upwards (the input layer excluded)."""
    nodes = [
        _Node("layer", "con", "stem.conv", "stem con 32 7x7/2",
              dict(filters=STEM_FILTERS, k=3, size=7, stride=2)),
        _Node("layer", "affine", "stem.affine", "stem affine", dict(channels=STEM_FILTERS)),
        _Node("layer", "relu", desc="stem relu"),
        _Node("layer", "max_pool", desc="stem max_pool 3x3/2", params=dict(size=3, stride=2)),
    ]
    channels = STEM_FILTERS
    for level, filters, blocks, first_down in LEVELS:
        for b in range(blocks):
            down = first_down and b == 0
            pre = f"{level}.{b}"
            kind = "ares_down" if down else "ares"
            where = f"{level} block {b} ({kind} {filters})"
            stride = 2 if down else 1
            nodes += [
                _Node("tag", desc=f"{where} tag1"),
                _Node("layer", "con", f"{pre}.conv1", f"{where} first con 3x3/{stride}",
                      dict(filters=filters, k=channels, size=3, stride=stride)),
                _Node("layer", "affine", f"{pre}.affine1", f"{where} first affine",
                      dict(channels=filters)),
                _Node("layer", "relu", desc=f"{where} inner relu"),
                _Node("layer", "con", f"{pre}.conv2", f"{where} second con 3x3/1",
                      dict(filters=filters, k=filters, size=3, stride=1)),
                _Node("layer", "affine", f"{pre}.affine2", f"{where} second affine",
                      dict(channels=filters)),
            ]
            if down:
                nodes += [
                    _Node("tag", desc=f"{where} tag2"),
                    _Node("skip", desc=f"{where} skip1"),
                    _Node("layer", "avg_pool", desc=f"{where} shortcut avg_pool 2x2/2",
                          params=dict(size=2, stride=2)),
                ]
            nodes += [
                _Node("layer", "add_prev", desc=f"{where} add_prev"),
                _Node("layer", "relu", desc=f"{where} output relu"),
            ]
            channels = filters
    nodes += [
        _Node("layer", "avg_pool", desc="avg_pool_everything", params=dict(size=0, stride=1)),
        _Node("layer", "fc", "fc", f"fc_no_bias {EMBEDDING_DIM}",
              dict(outputs=EMBEDDING_DIM, inputs=channels)),
    ]
    return nodes


_VERSION_STRINGS = {
    "con": "con_4",
    "affine": "affine_",
    "relu": "relu_",
    "max_pool": "max_pool_2",
    "avg_pool": "avg_pool_2",
    "add_prev": "add_prev_",
    "fc": "fc_2",
}


@dataclass
class DlibResNetWeights:
    """What :func:`read_dlib_resnet` found in the file."""

    tensors: dict[str, np.ndarray]  # state_dict names -> float32 arrays
    input_mean: tuple[float, float, float]  # avg_red, avg_green, avg_blue
    chip_size: int
    loss_margin: float
    loss_distance_threshold: float


class _LayerError(Exception):
    pass


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise _LayerError(message)


def _read_details(r: DlibReader, node: _Node, out: dict[str, np.ndarray]) -> None:
    expected = _VERSION_STRINGS[node.layer]
    version = r.read_string("the layer's version string", max_len=64)
    _expect(version == expected, f"expected version string {expected!r}, found {version!r}")
    p = node.params
    if node.layer == "con":
        params = r.read_tensor("con params")
        nf = r.read_int("num_filters")
        nr, nc = r.read_int("nr"), r.read_int("nc")
        sy, sx = r.read_int("stride_y"), r.read_int("stride_x")
        py, px = r.read_int("padding_y"), r.read_int("padding_x")
        filt = r.read_alias_tensor("filters alias")
        bias = r.read_alias_tensor("biases alias")
        for what in ("learning_rate_multiplier", "weight_decay_multiplier",
                     "bias_learning_rate_multiplier", "bias_weight_decay_multiplier"):
            r.read_float(what)
        pad = 0 if p["stride"] != 1 else p["size"] // 2
        got = (nf, nr, nc, sy, sx, py, px)
        want = (p["filters"], p["size"], p["size"], p["stride"], p["stride"], pad, pad)
        _expect(got == want, "con hyper-parameters (filters, nr, nc, stride_y, stride_x, "
                f"padding_y, padding_x) are {got}, expected {want}")
        fshape = (p["filters"], p["k"], p["size"], p["size"])
        _expect(filt == fshape, f"filter shape {filt}, expected {fshape}")
        _expect(bias == (1, p["filters"], 1, 1), f"bias shape {bias}, expected (1, {nf}, 1, 1)")
        n_w = int(np.prod(fshape))
        _expect(params.size == n_w + p["filters"],
                f"con params hold {params.size} values, expected {n_w + p['filters']}")
        flat = params.reshape(-1)
        out[node.name + ".weight"] = flat[:n_w].reshape(fshape).copy()
        out[node.name + ".bias"] = flat[n_w:].copy()
    elif node.layer == "affine":
        params = r.read_tensor("affine params")
        gamma = r.read_alias_tensor("gamma alias")
        beta = r.read_alias_tensor("beta alias")
        mode = r.read_int("affine mode")
        c = p["channels"]
        _expect(mode == 0, f"affine mode {mode}, expected 0 (CONV_MODE)")
        _expect(gamma == (1, c, 1, 1) and beta == (1, c, 1, 1),
                f"gamma/beta shapes {gamma}/{beta}, expected (1, {c}, 1, 1)")
        _expect(params.size == 2 * c, f"affine params hold {params.size} values, expected {2 * c}")
        flat = params.reshape(-1)
        out[node.name + ".weight"] = flat[:c].copy()
        out[node.name + ".bias"] = flat[c:].copy()
    elif node.layer in ("max_pool", "avg_pool"):
        nr, nc = r.read_int("nr"), r.read_int("nc")
        sy, sx = r.read_int("stride_y"), r.read_int("stride_x")
        py, px = r.read_int("padding_y"), r.read_int("padding_x")
        pad = 0 if p["stride"] != 1 else p["size"] // 2
        got = (nr, nc, sy, sx, py, px)
        want = (p["size"], p["size"], p["stride"], p["stride"], pad, pad)
        _expect(got == want, f"pooling hyper-parameters (nr, nc, stride_y, stride_x, padding_y, "
                f"padding_x) are {got}, expected {want}")
    elif node.layer == "fc":
        n_out = r.read_uint("num_outputs")
        n_in = r.read_uint("num_inputs")
        params = r.read_tensor("fc params")
        weights = r.read_alias_tensor("weights alias")
        r.read_alias_tensor("biases alias")
        bias_mode = r.read_int("bias_mode")
        for what in ("learning_rate_multiplier", "weight_decay_multiplier",
                     "bias_learning_rate_multiplier", "bias_weight_decay_multiplier"):
            r.read_float(what)
        _expect((n_out, n_in) == (p["outputs"], p["inputs"]),
                f"fc has {n_out} outputs and {n_in} inputs, expected {p['outputs']} and "
                f"{p['inputs']}")
        _expect(bias_mode == 1, f"fc bias_mode {bias_mode}, expected 1 (FC_NO_BIAS)")
        _expect(weights == (n_in, n_out, 1, 1), f"fc weights shape {weights}, expected "
                f"({n_in}, {n_out}, 1, 1)")
        _expect(params.size == n_in * n_out,
                f"fc params hold {params.size} values, expected {n_in * n_out}")
        # dlib computes output = input (N x n_in) * W (n_in x n_out); torch wants (out, in).
        out[node.name + ".weight"] = params.reshape(n_in, n_out).T.copy()
    # relu_ and add_prev_ carry nothing beyond their version string.


def _read_trailer(r: DlibReader, version: int, input_layer: bool) -> None:
    for what in ("this_layer_setup_called", "gradient_input_is_stale",
                 "get_output_and_gradient_input_disabled"):
        r.read_bool(what)
    r.read_tensor("x_grad")
    r.read_tensor("cached_output")
    if input_layer:
        r.read_tensor("grad_final")
        if version >= 3:
            r.read_uint("sample_expansion_factor")
    elif version >= 2:
        r.read_tensor("params_grad")


def read_dlib_resnet(path: str | Path) -> DlibResNetWeights:
    """Parse ``dlib_face_recognition_resnet_model_v1.dat`` (or a file of the same network).

    Raises :class:`DlibFormatError` (a ``ModelError``) naming the file and the first layer
    that is missing, truncated or different from the expected architecture.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"{path}: cannot read the dlib model file: {exc}") from None
    return parse_dlib_resnet(data, str(path))


def parse_dlib_resnet(data: bytes, name: str = "<bytes>") -> DlibResNetWeights:
    """Like :func:`read_dlib_resnet` on bytes already in memory (``name`` is used in errors)."""
    r = DlibReader(data, name)
    nodes = _expected_nodes()
    n_layers = sum(1 for n in nodes if n.kind == "layer")
    out: dict[str, np.ndarray] = {}

    def fail(where: str, message: str) -> DlibFormatError:
        return DlibFormatError(f"{name}: not dlib's face ResNet as expected — {where}: {message}")

    def guarded(where: str, fn, *args):
        try:
            return fn(*args)
        except _LayerError as exc:
            raise fail(where, str(exc)) from None
        except DlibFormatError as exc:
            raise fail(where, str(exc).removeprefix(name + ": ")) from None

    # 1. the loss wrapper and its details
    def read_loss():
        version = r.read_int("add_loss_layer version")
        _expect(version == 1, f"add_loss_layer version {version}, expected 1")
        tag = r.read_string("loss version string", max_len=64)
        _expect(tag == "loss_metric_2", f"expected loss 'loss_metric_2', found {tag!r}")
        return r.read_float("margin"), r.read_float("distance threshold")

    margin, dist_thresh = guarded("the loss layer (loss_metric)", read_loss)

    # 2. wrapper versions, top-down
    versions: dict[int, int] = {}

    def read_wrapper(i: int, node: _Node):
        version = r.read_int("wrapper version")
        if node.kind in ("tag", "skip"):
            _expect(version == 1, f"{node.kind} layer version {version}, expected 1")
        elif i == 0:
            _expect(version in (2, 3), f"add_layer (over the input) version {version}, "
                    "expected 2 or 3")
        else:
            _expect(version in (1, 2), f"add_layer version {version}, expected 1 or 2")
        versions[i] = version

    layer_no = {id(n): k + 1 for k, n in enumerate(n for n in nodes if n.kind == "layer")}
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        label = (f"layer {layer_no[id(node)]} of {n_layers} from the input ({node.desc})"
                 if node.kind == "layer" else node.desc)
        guarded(f"wrapper of {label}", read_wrapper, i, node)

    # 3. the input layer
    def read_input():
        tag = r.read_string("input layer version string", max_len=64)
        _expect(tag == "input_rgb_image_sized",
                f"expected input 'input_rgb_image_sized', found {tag!r}")
        mean = tuple(float(r.read_float32(c)) for c in ("avg_red", "avg_green", "avg_blue"))
        nr, nc = r.read_uint("NR"), r.read_uint("NC")
        _expect((nr, nc) == (CHIP_SIZE, CHIP_SIZE), f"input size {nr}x{nc}, expected 150x150")
        return mean

    mean = guarded("the input layer (input_rgb_image_sized<150>)", read_input)

    # 4. layer details, bottom-up
    for i, node in enumerate(nodes):
        if node.kind != "layer":
            continue
        where = f"layer {layer_no[id(node)]} of {n_layers} from the input ({node.desc})"
        guarded(where, _read_details, r, node, out)
        guarded(where + " bookkeeping", _read_trailer, r, versions[i], i == 0)

    if r.remaining():
        raise fail("after the last layer", f"{r.remaining()} unexpected trailing bytes")
    return DlibResNetWeights(out, mean, CHIP_SIZE, margin, dist_thresh)
