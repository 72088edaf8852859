"""tianlan.web"""
