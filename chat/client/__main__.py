"""`python -m chat.client`: run one command of the client."""

from chat.client.commands import main

if __name__ == "__main__":
    main()
