"""Layer 8, io: video sources, writers of per-frame tables and summaries, the HTML report, drawing.

Imports every layer below; only the entry points (cli, batch, train) import it."""
