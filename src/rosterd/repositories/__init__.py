"""All SQL lives here; every function takes the tenant it is scoped to."""
