"""kopf handlers and admission webhooks: the only place that imports kopf."""
