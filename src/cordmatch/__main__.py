from cordmatch.cli.main import main

main()
