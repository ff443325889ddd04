"""`python -m config_service_client get|render ...`: the sidecar (see sidecar.py)."""

import sys

from config_service_client.sidecar import main

sys.exit(main())
