"""The front before Streamlit: allowed hosts, sign-in cookie, proxy (see app.py)."""
