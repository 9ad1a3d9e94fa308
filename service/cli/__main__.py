import sys

from fraudlog.cli import main

sys.exit(main())
