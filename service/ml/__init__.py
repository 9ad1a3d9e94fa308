"""Machine learning: model specs (River pipelines), training, signed artifacts and metrics.

Pure computation: nothing here touches the database, the broker or the network.
"""
