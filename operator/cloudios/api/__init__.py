"""Custom-resource models (pydantic), the single source of the CRD schemas, v1alpha1."""

from cloudios.api.cloudaccount import AwsAccount, CloudAccount, CloudAccountSpec
from cloudios.api.common import API_VERSION, GROUP, VERSION, ObjectMeta, SecretKeyRef
from cloudios.api.scanpolicy import LabelSelector, ModuleSelection, ScanPolicy, ScanPolicySpec

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "AwsAccount",
    "CloudAccount",
    "CloudAccountSpec",
    "LabelSelector",
    "ModuleSelection",
    "ObjectMeta",
    "ScanPolicy",
    "ScanPolicySpec",
    "SecretKeyRef",
]
