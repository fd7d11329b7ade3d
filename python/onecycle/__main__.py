from onecycle.cli import main

raise SystemExit(main())
