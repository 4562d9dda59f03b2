"""``python -m zhurong_tk`` runs the command line."""

from zhurong_tk.cli.main import main

if __name__ == "__main__":
    main()
