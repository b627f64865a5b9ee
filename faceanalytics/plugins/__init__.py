"""Plugins turn landmarks into what applications need (see :mod:`faceanalytics.plugins.base`)."""

from faceanalytics.plugins.alignment import AlignmentPlugin
from faceanalytics.plugins.base import Frame, Plugin, StatefulPlugin, TrackContext, estimate_camera_matrix
from faceanalytics.plugins.expression import ExpressionPlugin
from faceanalytics.plugins.eyes import EyesPlugin
from faceanalytics.plugins.head_pose import HeadPosePlugin
from faceanalytics.plugins.mouth import MouthPlugin

__all__ = [
    "AlignmentPlugin",
    "ExpressionPlugin",
    "EyesPlugin",
    "Frame",
    "HeadPosePlugin",
    "MouthPlugin",
    "Plugin",
    "StatefulPlugin",
    "TrackContext",
    "default_plugins",
    "estimate_camera_matrix",
]


def default_plugins() -> list[Plugin]:
    """The built-in plugins with default settings, in the order they run."""
    return [HeadPosePlugin(), EyesPlugin(), MouthPlugin(), AlignmentPlugin()]
