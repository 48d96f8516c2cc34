from optuna_hamming.cli import main

raise SystemExit(main())
