import sys

from emotion_dj.export.cli import main

sys.exit(main())
