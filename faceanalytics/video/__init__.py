"""Layer 7, video: Stream over Pipeline, tracking, smoothing and events.

Imports pipeline, plugins, runners, runtime, geometry and core, never io or the entry points."""
