from fleetpatch.cli.app import main

main()
