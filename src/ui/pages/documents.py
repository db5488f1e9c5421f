"""Page script (run by st.navigation); the page itself is src/ui/documents.py."""

from src.ui import documents

documents.render_page()
