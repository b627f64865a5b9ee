"""``python -m faceanalytics`` runs the CLI."""

from .cli import main

raise SystemExit(main())
