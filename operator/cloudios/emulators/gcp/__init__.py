"""The local GCP stand-in: Cloud Monitoring over gRPC, Compute Engine and Cloud SQL Admin over REST."""
