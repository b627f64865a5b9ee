"""Layer 2, geometry: pure numpy/OpenCV geometry: boxes, crops, similarity transforms, PnP, tiles,
mouth shape, face templates.

Imports core only."""
