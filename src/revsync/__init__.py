"""revsync: a governed usage-to-cash hub.

Usage events come in, are deduplicated and metered per canonical customer, rated into
invoices, posted to the ERP and summarised back to the CRM. See docs/architecture.md.
"""

__version__ = "0.1.0"
