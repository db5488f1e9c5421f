"""Page script (run by st.navigation); the page itself is src/ui/system.py."""

from src.ui import system

system.render_page()
