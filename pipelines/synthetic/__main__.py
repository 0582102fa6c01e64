import sys

from pipelines.synthetic.cli import main

sys.exit(main())
