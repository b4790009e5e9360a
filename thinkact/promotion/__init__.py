"""Promotion: the registry gate (`gate`: challenger vs champion on the same examples, paired bootstrap) and the alias
moves (`champion`: `promote`, `promote_challenger`, `promote_version`); `params`: the `register:` section.

The face imports nothing (the registry code loads MLflow):

    from thinkact.promotion.champion import promote
"""
