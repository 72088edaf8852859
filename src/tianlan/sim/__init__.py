"""tianlan.sim"""
