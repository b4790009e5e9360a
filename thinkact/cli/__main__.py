"""`python -m thinkact.cli ...`: the same as the `thinkact` command."""
from thinkact.cli import main

main()
