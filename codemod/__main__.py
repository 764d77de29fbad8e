"""`python -m inplace_fix`: the same command line as the `inplace-fix` console script."""

from inplace_fix.cli import main

if __name__ == "__main__":
    main(prog_name="inplace-fix")
