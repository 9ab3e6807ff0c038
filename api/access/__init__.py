"""Who is asking: access tokens verified against trusted issuers (and the development
issuer), the principal, rate limits, and the access plan for each interaction."""
