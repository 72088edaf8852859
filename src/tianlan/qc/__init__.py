"""tianlan.qc"""
