"""``python -m objectstorex``: the command line."""

from objectstorex.cli import main

if __name__ == "__main__":
    main()
