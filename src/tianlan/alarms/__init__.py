"""tianlan.alarms"""
