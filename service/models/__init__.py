"""Model versions as the use cases see them: the registry bundle (stored versions, the model cache, the role
table) and the cache that verifies, unpickles and keeps loaded versions. Below every use case (scoring,
lifecycle, replay, feed), above the store."""
