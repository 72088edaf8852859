"""tianlan.supervision"""
