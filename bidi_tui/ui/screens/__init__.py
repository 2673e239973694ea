"""The dashboard's secondary screens: details, the endpoint dialog, confirmations, help."""
