"""Custom-resource models (pydantic), the single source of the CRD schemas, v1alpha1."""

from cloudios.api.cloudaccount import (
    AwsAccount,
    AzureAccount,
    CloudAccount,
    CloudAccountSpec,
    CloudAccountStatus,
    GcpAccount,
    HealthCheck,
    KubernetesCluster,
)
from cloudios.api.common import API_VERSION, GROUP, VERSION, Condition, ObjectMeta, SecretKeyRef
from cloudios.api.recommendation import (
    Decision,
    LocalObjectReference,
    Recommendation,
    RecommendationSpec,
    RecommendationStatus,
)
from cloudios.api.scanpolicy import (
    LabelSelector,
    ModuleSelection,
    ScannedAccount,
    ScanPolicy,
    ScanPolicySpec,
    ScanPolicyStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "AwsAccount",
    "AzureAccount",
    "CloudAccount",
    "CloudAccountSpec",
    "CloudAccountStatus",
    "Condition",
    "Decision",
    "GcpAccount",
    "HealthCheck",
    "KubernetesCluster",
    "LabelSelector",
    "LocalObjectReference",
    "ModuleSelection",
    "ObjectMeta",
    "Recommendation",
    "RecommendationSpec",
    "RecommendationStatus",
    "ScanPolicy",
    "ScanPolicySpec",
    "ScanPolicyStatus",
    "ScannedAccount",
    "SecretKeyRef",
]
