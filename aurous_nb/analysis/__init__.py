"""Reading the ledger back: pandas frames of history and spend, matplotlib cost reports."""
