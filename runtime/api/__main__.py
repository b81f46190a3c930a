"""`python -m nanort`: the `nanort` command."""

import sys

from nanort.cli import main

sys.exit(main())
