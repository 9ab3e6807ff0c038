"""The auditor console: static pages at /console that read everything through the
auditor API with the token the user pasted (or, in demo mode only, a development token)."""
