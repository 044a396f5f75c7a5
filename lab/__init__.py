"""The app's logic that needs no Streamlit: preprocessing a drawing, the run limiter, analyses, equations.

Layer rule (tests/test_architecture.py): nn <- lab <- figures <- dashboard <- app_pages/ and app.py. Everything
here is a plain function or class over NumPy arrays and ``nn`` objects, so tests call exactly what the
pages call, without a browser or a Streamlit session.
"""
