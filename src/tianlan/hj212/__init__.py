"""tianlan.hj212"""
