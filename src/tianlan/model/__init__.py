"""tianlan.model"""
