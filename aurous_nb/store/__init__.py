"""What the toolkit keeps: the ledger (jobs, credits, rate cards), the outputs cache, snapshots.

Below the work layer and above the client: nothing here sends a create or waits for one.
"""
