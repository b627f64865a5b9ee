"""Layer 1, core: result types, errors, landmark schemas, image input.

Imports nothing else of faceanalytics."""
