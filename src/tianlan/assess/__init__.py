"""tianlan.assess"""
