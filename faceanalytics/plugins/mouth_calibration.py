"""Mouth models of :class:`faceanalytics.plugins.mouth.MouthPlugin`: ``(bias, weights)`` over
:func:`faceanalytics.plugins.mouth.mouth_shape` (points 48-67, 33 and 8; ``x0, y0, x1, y1, ...``).

Written by ``python benchmarks/calibrate_mouth.py --write``; do not edit by hand.
"""

# Fit:
#   landmark model: fpenet68 (sha256 b424cc1bf1a09bda...)
#   data: calibration half of ../shared/data/expressions (FER-2013), happy 1000, neutral 1000, surprise 1000, sad 1000, angry 1000
#   L2 on standardised coordinates: 1.0
#   AUC on the calibration half: smile (happy vs others) 0.873, open (surprise vs neutral) 0.877
#   AUC on the held-out half, open (surprise vs neutral): 0.859
#   AUC on the held-out half, smile (happy vs each): neutral 0.875, surprise 0.892, sad 0.867, angry 0.834

SMILE = (
    -3.081827,
    (
        5.761950, -0.342612, 18.420659, -2.873107, -6.496722, -10.104322,
        -2.647985, 7.079733, -0.293493, 18.361978, -5.527170, -6.392152,
        2.775797, -6.801711, 6.689256, -17.990206, -0.040299, -2.203106,
        -0.795237, 9.879540, -0.657535, 5.626441, -0.443394, -14.188434,
        -19.399062, -3.352077, -15.726139, 5.812397, -1.994027, -25.999139,
        12.775647, 7.121265, 5.681516, 2.957804, -1.919402, 3.566560,
        -7.696589, 13.971187, 4.664173, 3.212135, 7.541545, 3.375926,
        0.959920, 3.710786,
    ),
)

OPEN = (
    1.139479,
    (
        5.232356, 5.372132, 0.262253, -2.620317, 8.882694, 6.745167,
        6.800226, 6.963960, -5.206818, -8.613418, 8.160374, -5.712081,
        -12.535889, 5.752731, -5.943241, -9.698486, 5.518313, 12.109686,
        -3.623937, 5.852206, -3.944398, -4.326314, 3.031197, 12.804862,
        -2.096096, -7.022502, 10.344033, -8.597296, 7.989579, 0.598789,
        -10.590406, -9.015805, 11.477403, 7.439615, 0.981682, 20.604474,
        -7.453158, -4.255690, -13.251170, -6.777616, -5.869796, -10.376112,
        3.217127, -8.574204,
    ),
)
