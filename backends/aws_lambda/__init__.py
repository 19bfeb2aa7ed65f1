"""AWS Lambda aliases: versions, rollback and gradual shifts of an alias (boto3)."""
