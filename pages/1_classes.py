"""Only for deep links on a fresh server: see app/legacy_links.py."""
from app.legacy_links import run_app_shell

run_app_shell()
