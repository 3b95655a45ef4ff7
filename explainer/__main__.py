"""`python -m explainer ...` works like the `explainer` command."""

import sys

from explainer.cli import main

sys.exit(main())
