"""The agent's kubelet: pods bound to this node become Docker containers (actions, runtime, workers)."""
