from benign.cli import main

main()
