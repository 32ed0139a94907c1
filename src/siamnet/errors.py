"""Errors that siamnet reports to users.

Every failure caused by the user's input (a missing folder, an unreadable image, a malformed
run file, a model file that is not ours) is raised as a :class:`SiamnetError` subclass whose
message names the input and what is wrong. The command line prints that one line and exits 2.
"""


class SiamnetError(Exception):
    """A problem with the user's input, reported as one clear line (CLI exit code 2)."""


class DataError(SiamnetError):
    """A dataset folder, image or file format is missing, empty or malformed."""


class ModelError(SiamnetError):
    """A model file or model card is missing, not ours, or inconsistent."""
