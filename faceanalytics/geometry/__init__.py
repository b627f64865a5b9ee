"""Layer 2, geometry: pure numpy/OpenCV geometry: boxes, crops, similarity transforms, PnP, tiles,
mouth shape, face templates, the outer eye-corner distance (the face's scale).

Imports core only."""
