"""The response bodies: what the API encodes and the Python client decodes, as msgspec Structs, defined once in the
client distribution (`fraudlog_client.responses`) and re-exported here under their server names.

Nothing here imports the server (no store, no models, no web framework): msgspec, the domain's records and the
status vocabularies only, so the client can decode answers without importing what fills them. The views
(`fraudlog.views`) build these from store records; `fraudlog.api.schemas` holds the bodies only the API writes.
"""
