"""Notices to subscribers and organization administrators: email rendering and delivery."""
