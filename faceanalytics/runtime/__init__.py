"""Layer 3, runtime: devices and onnxruntime sessions, the model registry, shipped files and downloads.

Imports core and geometry only."""
