"""Events: the audit trail read as a feed of CloudEvents (outbox, feed, webhooks)."""
