"""minikube-py: a mini Kubernetes in Python that runs real containers."""
__version__ = "0.1.0"
