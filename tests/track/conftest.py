"""Fixtures of the tracker's tests."""

from __future__ import annotations

import pytest

from _track_support import moving_square, write_sequence


@pytest.fixture
def square_seq(tmp_path):
    frames, gt = moving_square()
    return write_sequence(tmp_path / "square", frames, gt), frames, gt
