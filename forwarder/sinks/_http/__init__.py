"""What every HTTP sink shares: TLS settings and context, the pooled client, the mapping of transport
errors, request-body compression, and cutting a batch into requests that fit ``batch_max_bytes``."""
