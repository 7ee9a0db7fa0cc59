"""One Bytewax flow builder per spec kind. Only flows/builders, flows/connectors and flows/run.py import bytewax."""
