"""Page script (run by st.navigation); the page itself is src/ui/chat.py."""

from src.ui import chat

chat.render_page()
