"""Ships Cloudflare Zero Trust Access authentication and SCIM logs to a SIEM."""

__version__ = "0.4.0"
