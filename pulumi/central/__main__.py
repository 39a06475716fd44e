"""camops: the central recording site of a province on an OpenStack cloud (see README).

The province inventory (camops-central:inventory) sizes it; ``pulumi up`` in this folder.
"""

from camops_central.program import main

main()
