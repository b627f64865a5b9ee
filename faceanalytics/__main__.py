"""``python -m faceanalytics`` runs the CLI."""

from faceanalytics.cli import main

raise SystemExit(main())
