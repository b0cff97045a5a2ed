"""The run store: SQLite for runs and metric series (``run_store``), one folder of files per run (``run_files``),
who may see and change what in a public deployment (``access``), and its workspaces (``workspaces``)."""
