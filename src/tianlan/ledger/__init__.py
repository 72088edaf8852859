"""tianlan.ledger"""
