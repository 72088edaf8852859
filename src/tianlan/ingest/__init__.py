"""tianlan.ingest"""
