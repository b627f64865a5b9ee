"""Layer 4, runners: the networks (FPENet landmarks, BlazeFace detection, mouth cues) with their
pre- and post-processing.

Imports runtime, geometry and core."""
