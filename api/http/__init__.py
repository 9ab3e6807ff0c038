"""HTTP plumbing shared by every route: the evidence middleware, the request's audit record,
typed dependencies, metrics."""
