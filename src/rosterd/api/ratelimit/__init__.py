"""Rate limits on every surface: the dependencies that charge a request, the middleware that
limits failed authentications per IP and writes the RateLimit fields, and their OpenAPI."""
