"""Page script (run by st.navigation); the page itself is src/ui/models.py."""

from src.ui import models

models.render_page()
