"""The cluster's default address ranges (DESIGN.md "Defaults"), in one place for every component that
needs them: the pods' range (`--cluster-cidr`: the node lifecycle controller gives each node a /24
of it; `minikube-py start` moves it when a Docker network already uses it) and the Services' range
(the apiserver's ClusterIP allocator).  Imports nothing, so the CLI's flag defaults cost nothing."""

CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
