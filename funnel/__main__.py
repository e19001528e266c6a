import sys

from funnel.cli.main import main

sys.exit(main())
