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
    -3.804613,
    (
        15.936765, -16.778427, 11.598605, -3.086588, -1.091558, 0.120362,
        2.080944, -12.821652, -13.354964, -6.654843, -3.141085, 5.871664,
        -9.291612, -13.390227, -4.678773, -13.281347, -10.131295, 10.789839,
        13.120543, -4.394394, 3.630858, 5.382192, -13.611639, -5.107573,
        -25.017884, 9.783952, -6.478544, -3.791499, -0.990562, 2.055578,
        5.626142, 4.686024, 27.932033, 9.494418, 0.927964, -3.220240,
        2.666162, -5.979254, 0.017866, 20.017608, 6.397055, 12.541043,
        0.457870, 3.505344,
    ),
)

OPEN = (
    2.889366,
    (
        -5.225861, 14.885235, -1.990491, -4.565275, 3.752014, 1.877767,
        0.088103, 18.480740, 9.943375, -9.845568, -6.080867, -0.659019,
        -5.329701, 7.654576, -2.124358, 10.383219, -0.217295, 7.719085,
        1.800048, 6.599627, -5.717908, -2.988575, 23.163792, -10.189145,
        4.510162, -2.980752, 15.735769, -7.408678, -8.782588, 1.298928,
        -13.554222, -17.072840, 4.582921, -5.937359, 19.713133, 4.769361,
        -7.149514, 3.524273, -26.028073, 0.247415, 0.317203, -10.805764,
        0.739708, -7.785100,
    ),
)
