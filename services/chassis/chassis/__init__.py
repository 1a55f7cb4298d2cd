"""The service chassis: what every service of this template shares.

Settings from the environment, problem+json errors, request ids and JSON logs, a primary/replica
database pair, OpenAPI from the validation models, and gunicorn sized from the container's limits.
A service adds its models, schemas and routes; see services/users for the smallest example.
"""
