"""Pure plotly figure builders: numbers in, ``go.Figure`` out, no streamlit (tests call them directly)."""
