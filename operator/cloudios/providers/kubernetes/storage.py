"""Which cloud disk a PersistentVolume is: its CSI driver names the cloud, its storage class the type.

The agent reports a volume's CSI driver and storage class name, not the StorageClass's parameters,
so the disk type is known only for the clouds' default class names (and classes named after a
disk type, such as ``gp3`` or ``pd-ssd``). Anything else is priced as unknown, with that reason.
"""

from __future__ import annotations

from cloudios.providers.kubernetes.nodes import AWS, AZURE, GCP

CSI_CLOUDS = {
    "ebs.csi.aws.com": AWS,
    "kubernetes.io/aws-ebs": AWS,
    "pd.csi.storage.gke.io": GCP,
    "kubernetes.io/gce-pd": GCP,
    "disk.csi.azure.com": AZURE,
    "kubernetes.io/azure-disk": AZURE,
}
# Default storage classes of EKS, GKE and AKS, and classes named after the disk type they provision.
DEFAULT_CLASSES = {
    AWS: {t: t for t in ("gp2", "gp3", "io1", "io2", "st1", "sc1")},
    GCP: {
        "standard": "pd-standard",
        "standard-rwo": "pd-balanced",
        "premium-rwo": "pd-ssd",
        **{t: t for t in ("pd-standard", "pd-balanced", "pd-ssd", "pd-extreme")},
    },
    AZURE: {
        "default": "StandardSSD_LRS",
        "managed-csi": "StandardSSD_LRS",
        "managed-csi-premium": "Premium_LRS",
        "managed-premium": "Premium_LRS",
    },
}


def disk_of(
    csi_driver: str | None, storage_class: str | None, cluster_cloud: str | None
) -> tuple[str | None, str | None]:
    """(cloud, disk type) of a volume; either is None when unknown.

    Without a CSI driver (an in-tree volume, or one the agent could not see) the cluster's cloud is
    assumed only when the class is one of that cloud's default classes.
    """
    cloud = CSI_CLOUDS.get(csi_driver or "")
    if csi_driver and cloud is None:
        return None, None  # NFS, EFS, Azure Files, local volumes...: not a cloud block disk
    cloud = cloud or cluster_cloud
    if cloud is None:
        return None, None
    disk_type = DEFAULT_CLASSES.get(cloud, {}).get(storage_class or "")
    if csi_driver is None and disk_type is None:
        return None, None
    return cloud, disk_type
