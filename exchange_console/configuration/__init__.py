"""Configuration as code: the organization as an EMS script (export_config), the difference between a script and
the live configuration (diff_config), and the organization as it was at an entry of the admin audit log."""
