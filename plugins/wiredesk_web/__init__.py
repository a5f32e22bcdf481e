"""The Wiredesk pages and API mounted by plugins/wiredesk_plugin.py (imported lazily)."""
