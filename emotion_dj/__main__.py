import sys

from emotion_dj.cli import main

sys.exit(main())
