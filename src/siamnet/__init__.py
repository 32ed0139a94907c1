"""siamnet: learn similarity with Siamese networks, and put it to work.

The idea lives in :mod:`siamnet.core`; data formats in :mod:`siamnet.data`; training in
:mod:`siamnet.train`; metrics and protocols in :mod:`siamnet.evaluate`; model files in
:mod:`siamnet.models`; the command line in :mod:`siamnet.cli`.
"""

__version__ = "0.1.0"

from .errors import DataError, ModelError, SiamnetError

__all__ = ["DataError", "ModelError", "SiamnetError", "__version__"]
