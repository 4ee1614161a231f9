"""What the app did before, kept only to be measured against (benchmarks/music.py)."""
