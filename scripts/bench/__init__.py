"""``make bench``: cold starts, layer size, warm journey steps, AWS calls, password checks and the local
gateway, each against a floor measured side by side in the same run (not part of ``make test``).

- ``package``: the application as ``sam build`` makes it, zipped by SAM's code, unpacked as Lambda does.
- ``cold``: a fresh interpreter per cold start, against importing boto3 and one ``GetItem``.
- ``warm``: the three journeys through the handlers, each step against its own AWS calls sent raw.
- ``passwords``, ``gateway``: the dummy password check; ``make run``'s gateway.
"""
