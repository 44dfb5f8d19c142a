"""Kubernetes modules: workloads, claims, load balancers and nodes of agent-fed clusters."""
