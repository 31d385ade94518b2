"""Common code of the JSS WhatsApp service, shipped to every function as one Lambda layer.

Domain modules (``flows`` for journeys A and B1, ``email_change`` for B2, ``accounts``, ``limits``)
know nothing of API Gateway; the ``web`` package is the only place that speaks HTTP, and
``services`` wires them together once per container.
"""
