"""Store: the Elasticsearch client, mappings, indices, bulk writes, article documents, raw archive and run records."""
