import sys

from snpd.cli import main

sys.exit(main())
