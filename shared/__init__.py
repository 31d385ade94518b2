"""Common code of the JSS WhatsApp service, shipped to every function as one Lambda layer.

Domain modules (``flows``, ``email_change``, ``contact``) know nothing of API Gateway; the ``web``
package is the only place that speaks HTTP.
"""
