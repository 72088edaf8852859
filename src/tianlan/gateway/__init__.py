"""tianlan.gateway"""
