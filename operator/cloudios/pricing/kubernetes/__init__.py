"""Kubernetes prices: nodes, disks and load balancers from the clouds' books; node cost split in two."""

from cloudios.pricing.kubernetes.book import CPU_TO_RAM_RATIO, KubernetesPriceBook, bundled, split_node_hourly

__all__ = ["CPU_TO_RAM_RATIO", "KubernetesPriceBook", "bundled", "split_node_hourly"]
