"""``python -m evaluation.study``: see :mod:`evaluation.study.cli`."""

import sys

from evaluation.study.cli import main

sys.exit(main())
