import sys

from nn.cli import main

sys.exit(main())
