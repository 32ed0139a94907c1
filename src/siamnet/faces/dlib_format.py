"""Reader for dlib's binary serialization format (no dlib needed, nothing is unpickled).

dlib writes its networks with ``dlib::serialize``.  The pieces used by a DNN file are:

* integers: one control byte — low nibble = number of payload bytes (0..8), bit 7 = sign —
  followed by the magnitude's bytes, least significant first (``ser_helper::pack_int``);
* floats/doubles: a ``float_details`` pair, int64 mantissa then int16 exponent, each written
  as an integer above; value = mantissa * 2**exponent, exponents 32000/32001/32002 meaning
  +inf/-inf/NaN;
* bools: one ASCII byte, ``'1'`` or ``'0'``;
* strings: a length (integer) followed by the raw bytes;
* tensors: version int, then num_samples, k, nr, nc; version 2 stores the data as raw
  little-endian IEEE float32, version 1 as one float_details per element;
* alias tensors: version int 1 then num_samples, k, nr, nc (no data).

:class:`DlibReader` decodes these primitives from an in-memory byte string and raises
:class:`DlibFormatError` (a :class:`~siamnet.errors.ModelError`) on anything unexpected.
"""

from __future__ import annotations

import numpy as np

from siamnet.errors import ModelError

_FLOAT_INF = 32000
_FLOAT_NINF = 32001
_FLOAT_NAN = 32002


class DlibFormatError(ModelError):
    """A dlib serialized file is truncated, garbled or not the expected network."""


class DlibReader:
    """Sequential decoder of dlib-serialized primitives from a byte string."""

    def __init__(self, data: bytes, name: str = "<bytes>"):
        self._data = memoryview(data)
        self.pos = 0
        self.name = name

    # -- raw access ---------------------------------------------------------------------
    def remaining(self) -> int:
        return len(self._data) - self.pos

    def _take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self._data):
            raise DlibFormatError(
                f"{self.name}: file ends early at byte {self.pos} while reading {what} "
                f"(needed {n} bytes, {self.remaining()} left)"
            )
        chunk = self._data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    # -- primitives -----------------------------------------------------------------------
    def read_int(self, what: str = "an integer", max_bytes: int = 8) -> int:
        """A signed integer in dlib's variable-length encoding."""
        control = self._take(1, what)[0]
        size = control & 0x0F
        if control & 0x70 or size > max_bytes:
            raise DlibFormatError(
                f"{self.name}: byte {self.pos - 1}: bad integer control byte 0x{control:02x} "
                f"while reading {what}"
            )
        value = int.from_bytes(self._take(size, what), "little")
        return -value if control & 0x80 else value

    def read_uint(self, what: str = "an unsigned integer", max_bytes: int = 8) -> int:
        """An unsigned integer (same encoding; the sign bit must be clear)."""
        start = self.pos
        value = self.read_int(what, max_bytes)
        if value < 0:
            raise DlibFormatError(
                f"{self.name}: byte {start}: negative value where {what} (unsigned) was expected"
            )
        return value

    def read_float(self, what: str = "a float") -> float:
        """A float or double stored as a float_details (mantissa, exponent) pair."""
        mantissa = self.read_int(what + " (mantissa)", 8)
        exponent = self.read_int(what + " (exponent)", 2)
        if exponent == _FLOAT_INF:
            return float("inf")
        if exponent == _FLOAT_NINF:
            return float("-inf")
        if exponent == _FLOAT_NAN:
            return float("nan")
        return float(np.ldexp(np.float64(mantissa), exponent))

    def read_float32(self, what: str = "a float") -> np.float32:
        """A value dlib deserializes into a C++ ``float``: mantissa cast to float, then ldexpf."""
        mantissa = self.read_int(what + " (mantissa)", 8)
        exponent = self.read_int(what + " (exponent)", 2)
        if exponent >= _FLOAT_INF:
            return np.float32(self._special(exponent))
        return np.ldexp(np.float32(mantissa), np.int32(exponent)).astype(np.float32)

    @staticmethod
    def _special(exponent: int) -> float:
        return {_FLOAT_INF: float("inf"), _FLOAT_NINF: float("-inf")}.get(exponent, float("nan"))

    def read_bool(self, what: str = "a bool") -> bool:
        byte = bytes(self._take(1, what))
        if byte == b"1":
            return True
        if byte == b"0":
            return False
        raise DlibFormatError(
            f"{self.name}: byte {self.pos - 1}: expected a bool ('0' or '1') for {what}, "
            f"found 0x{byte[0]:02x}"
        )

    def read_string(self, what: str = "a string", max_len: int = 1 << 20) -> str:
        length = self.read_uint(what + " (length)")
        if length > max_len:
            raise DlibFormatError(
                f"{self.name}: byte {self.pos}: implausible length {length} for {what}"
            )
        raw = bytes(self._take(length, what))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise DlibFormatError(
                f"{self.name}: byte {self.pos - length}: {what} is not ASCII text: {raw[:40]!r}"
            ) from None

    def read_tensor(self, what: str = "a tensor") -> np.ndarray:
        """A dlib tensor, returned as a float32 array of shape (num_samples, k, nr, nc)."""
        version = self.read_int(what + " (version)")
        if version not in (1, 2):
            raise DlibFormatError(
                f"{self.name}: byte {self.pos}: unsupported tensor version {version} for {what}"
            )
        shape = tuple(self.read_int(what + " (shape)") for _ in range(4))
        if any(d < 0 for d in shape):
            raise DlibFormatError(f"{self.name}: negative tensor shape {shape} for {what}")
        count = int(np.prod(shape, dtype=np.int64))
        if version == 2:
            if count * 4 > self.remaining():
                raise DlibFormatError(
                    f"{self.name}: file ends early at byte {self.pos} while reading {what} "
                    f"of shape {shape} ({count * 4} bytes needed, {self.remaining()} left)"
                )
            raw = self._take(count * 4, what)
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        else:
            values = np.array([self.read_float32(what) for _ in range(count)], dtype=np.float32)
        return values.reshape(shape)

    def read_alias_tensor(self, what: str = "an alias tensor") -> tuple[int, int, int, int]:
        version = self.read_int(what + " (version)")
        if version != 1:
            raise DlibFormatError(
                f"{self.name}: byte {self.pos}: unsupported alias_tensor version {version} "
                f"for {what}"
            )
        return tuple(self.read_int(what + " (shape)") for _ in range(4))


# -- writers (used to build test inputs by hand; they mirror the readers above) ----------


def encode_int(value: int) -> bytes:
    """Encode an integer exactly as dlib's pack_int does."""
    negative = value < 0
    magnitude = -value if negative else value
    payload = bytearray()
    while True:
        payload.append(magnitude & 0xFF)
        magnitude >>= 8
        if magnitude == 0:
            break
    if len(payload) > 8:
        raise ValueError("dlib integers hold at most 8 bytes")
    return bytes([len(payload) | (0x80 if negative else 0)]) + bytes(payload)


def encode_float(value: float, digits: int = 24) -> bytes:
    """Encode a float as dlib's float_details (``digits`` = 24 for float, 53 for double)."""
    if value != value:
        return encode_int(0) + encode_int(_FLOAT_NAN)
    if value in (float("inf"), float("-inf")):
        return encode_int(0) + encode_int(_FLOAT_INF if value > 0 else _FLOAT_NINF)
    frac, exp = np.frexp(np.float64(value))
    mantissa = int(frac * (1 << digits))
    exponent = int(exp) - digits
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return encode_int(mantissa) + encode_int(exponent)


def encode_string(text: str) -> bytes:
    raw = text.encode("ascii")
    return encode_int(len(raw)) + raw


def encode_tensor(array: np.ndarray) -> bytes:
    """Encode a float32 array of up to 4 dims as a version-2 dlib tensor."""
    arr = np.asarray(array, dtype="<f4")
    shape = tuple(arr.shape) + (1,) * (4 - arr.ndim)
    header = encode_int(2) + b"".join(encode_int(d) for d in shape)
    return header + arr.tobytes()


def encode_alias_tensor(shape: tuple[int, int, int, int]) -> bytes:
    return encode_int(1) + b"".join(encode_int(d) for d in shape)
