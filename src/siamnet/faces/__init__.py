"""Face encoding: dlib's face ResNet re-implemented in PyTorch, plus detection/alignment.

Submodules (import them directly; dlib and onnxruntime are optional dependencies):

* :mod:`siamnet.faces.dlib_format` — decoder for dlib's serialization primitives.
* :mod:`siamnet.faces.dlib_net` — reads dlib_face_recognition_resnet_model_v1.dat.
* :mod:`siamnet.faces.dlib_resnet` — the PyTorch module, weight cache, ``load_dlib_resnet``,
  ``encode_chips``, ``freeze_for_finetuning``.
* :mod:`siamnet.faces.detect` — image loading, face detector interface, dlib HOG + 5-point
  landmarks + dlib chip alignment.
* :mod:`siamnet.faces.onnx_export` — ONNX export and an ONNX Runtime encoder.
"""
