"""Exported models: the ONNX file's metadata contract (`metadata`), a NumPy scratch run as ONNX
(`scratch_onnx`) and predicting from an ONNX file without torch (`onnx_predict`)."""
