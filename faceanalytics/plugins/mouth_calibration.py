"""Mouth models of :class:`faceanalytics.plugins.mouth.MouthPlugin`: ``(bias, weights)`` over
:func:`faceanalytics.plugins.mouth.mouth_shape` (points 48-67, 33 and 8; ``x0, y0, x1, y1, ...``).

Written by ``python benchmarks/calibrate_mouth.py --write``; do not edit by hand.
"""

# Fit:
#   landmark model: fpenet68 (sha256 0c6d79004260f988...)
#   data: calibration half of ../shared/data/expressions (FER-2013), happy 1000, neutral 1000, surprise 1000, sad 1000, angry 1000
#   L2 on standardised coordinates: 1.0
#   AUC on the calibration half: smile (happy vs others) 0.880, open (surprise vs neutral) 0.888
#   AUC on the held-out half, open (surprise vs neutral): 0.854
#   AUC on the held-out half, smile (happy vs each): neutral 0.880, surprise 0.903, sad 0.868, angry 0.855

SMILE = (
    -3.804951,
    (
        15.937063, -16.777245, 11.597535, -3.084713, -1.093396, 0.119643,
        2.080723, -12.820185, -13.354386, -6.658267, -3.141306, 5.872339,
        -9.293676, -13.391755, -4.678452, -13.280873, -10.132595, 10.789415,
        13.121665, -4.394728, 3.630425, 5.382131, -13.611717, -5.107088,
        -25.018002, 9.781978, -6.476881, -3.793425, -0.992086, 2.056528,
        5.625813, 4.685944, 27.934299, 9.496056, 0.927410, -3.220070,
        2.668225, -5.978409, 0.019116, 20.016537, 6.397606, 12.543248,
        0.457367, 3.505709,
    ),
)

OPEN = (
    2.891289,
    (
        -5.229995, 14.882509, -1.985449, -4.565890, 3.753520, 1.878803,
        0.091494, 18.480713, 9.951101, -9.845076, -6.077613, -0.661681,
        -5.325089, 7.655012, -2.119861, 10.380732, -0.214759, 7.717381,
        1.798681, 6.598336, -5.720364, -2.989478, 23.163034, -10.189340,
        4.511668, -2.980502, 15.742448, -7.409036, -8.788621, 1.296683,
        -13.558752, -17.070393, 4.577566, -5.934132, 19.710364, 4.770456,
        -7.150007, 3.527988, -26.032108, 0.248530, 0.308226, -10.806765,
        0.740151, -7.786017,
    ),
)
