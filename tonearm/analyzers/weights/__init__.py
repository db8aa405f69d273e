"""Readers for framework weight files and an ONNX graph builder, so trained networks run without their frameworks."""
