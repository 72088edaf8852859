"""tianlan.store"""
