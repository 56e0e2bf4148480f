from fsdgimg.cli import main

raise SystemExit(main())
