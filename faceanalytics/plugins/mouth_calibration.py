"""Mouth models of :class:`faceanalytics.plugins.mouth.MouthPlugin`: ``(bias, weights)`` over
:func:`faceanalytics.geometry.mouth.mouth_shape` (points 48-67, 33 and 8; ``x0, y0, x1, y1, ...``).

Written by ``python benchmarks/calibrate_mouth.py --write``; do not edit by hand.
"""

# Fit:
#   landmark model: fpenet68 (sha256 16437a8ef2a713bf...)
#   data: calibration half of ../shared/data/expressions (FER-2013), happy 1000, neutral 1000, surprise 1000, sad 1000, angry 1000
#   L2 on standardised coordinates: 1.0
#   AUC on the calibration half: smile (happy vs others) 0.879, open (surprise vs neutral) 0.853
#   AUC on the held-out half, open (surprise vs neutral): 0.832
#   AUC on the held-out half, smile (happy vs each): neutral 0.884, surprise 0.893, sad 0.876, angry 0.853

SMILE = (
    -4.856715,
    (
        -4.554964, -4.162273, 5.725761, 10.749982, 4.206739, -14.324996,
        -1.112813, -6.121874, -4.836696, 8.023275, 3.479589, 6.691317,
        -7.223801, 1.903037, -13.735966, -8.650814, -3.796322, 12.221892,
        0.835825, -9.025522, 2.318250, -0.210507, 3.622121, -7.121861,
        -5.636043, -2.718142, -20.535801, -6.568936, 1.207503, 0.418086,
        14.490952, -9.663959, 17.782778, -10.940444, 14.358239, 3.506556,
        -2.082237, 7.391161, -3.637136, 5.862570, -1.288740, 12.464398,
        1.858193, 6.601503,
    ),
)

OPEN = (
    2.429319,
    (
        -7.453042, 3.177309, 2.713260, 0.910802, 4.496753, -6.156371,
        6.547662, 0.550358, 0.080883, 3.334067, 5.838958, -17.168040,
        -1.568139, 1.427259, -11.726589, 7.486140, 13.938866, -2.403180,
        7.235462, -0.779002, -11.854027, 1.177713, 8.565796, 9.587665,
        7.971447, -9.747966, 4.395479, 0.403570, -8.907813, 0.080805,
        -11.058931, -4.586615, 2.150895, 6.851907, -4.104727, 5.960041,
        -0.891094, 7.516167, 1.076819, 4.507535, -7.207269, -5.777250,
        -0.900483, -7.987535,
    ),
)
