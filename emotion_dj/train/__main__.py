import sys

from emotion_dj.train.train import main

sys.exit(main())
