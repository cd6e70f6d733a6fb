"""How Agora is deployed: ``make cluster`` on this machine, compose and Kubernetes files."""
