"""Common code of the JSS WhatsApp service, shipped to every function as one Lambda layer.

Grouped by layer, so dependencies point one way (web -> domain -> adapters):

- ``domain``: the journeys and the rules (accounts and number claims, flows, email codes, limits).
  Knows nothing of API Gateway.
- ``adapters``: the only code that talks to AWS and to Meta's formats (DynamoDB, SES, secrets, the
  WhatsApp webhook payload).
- ``web``: the HTTP edge shared by every function's ``app.py`` (resolver, problem documents, pages).
- ``config``, ``clock``, ``errors``, ``observability``: used by every layer; ``services`` wires the
  domain services once per container.
"""
