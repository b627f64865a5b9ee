"""Layer 7, video: Stream over the Pipeline's public stages, tracking, events; results.py holds
what a Stream returns (StreamFrame, TrackSummary), importable without the Stream.

Imports pipeline, plugins, runners, runtime, geometry and core, never io or the entry points."""
