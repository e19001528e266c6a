"""A user's inbox: notifications written in the same transaction as the change that caused them."""
