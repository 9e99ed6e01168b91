"""The ``atiende`` command: starts the services (embedded or one per process), migrates,
seeds, and manages dead letters. It wires services together; services never import each other."""
