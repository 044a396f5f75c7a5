"""Streamlit glue: per-session state, the shared dataset, background training runs, URL parameters.

Pages stay thin: they read widgets, call into this package and render figures from ``figures``.
"""
