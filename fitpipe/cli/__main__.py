from fitpipe.cli import main

main()
