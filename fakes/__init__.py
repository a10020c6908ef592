"""Protocol-faithful fakes of what cannot run here: the Cloudflare API (``fakes.cloudflare``, also
used by ``demo``), Splunk HEC, Elasticsearch and the Kubernetes API. Apart from the product code: nothing
in ``forwarder`` imports them except ``demo``, lazily."""
