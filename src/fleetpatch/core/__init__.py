"""fleetpatch's pure core: data and decisions, no AWS calls, no printing."""
