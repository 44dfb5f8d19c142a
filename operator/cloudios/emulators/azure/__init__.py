"""The local Azure stand-in: ARM (Resource Graph, metrics) and an Entra token endpoint over HTTPS."""
