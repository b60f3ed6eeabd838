from agentpod.cli.main import main

main()
