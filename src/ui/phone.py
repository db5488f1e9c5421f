"""Small screens: the sidebar closes after a page or a chat is chosen in it.

Streamlit closes it after a page link only when the browser's user agent says "mobile"; a
narrow window (a phone in desktop mode, a small tablet, a split screen) kept it open over
most of the screen. A zero-height component adds one click listener to the app's document
(same origin) that presses the sidebar's own collapse button after such a choice when the
window is narrower than Streamlit's mobile breakpoint (768 px). Nothing else is changed.
"""

from __future__ import annotations

import streamlit.components.v1 as components

_SCRIPT = """
<script>
const doc = window.parent.document;
if (!doc.__olympusSidebarCloser) {
  doc.__olympusSidebarCloser = true;
  const choices = '[data-testid="stSidebarNavLink"], [class*="st-key-chat_open_"] button, '
                + '.st-key-chat_new button';
  doc.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest(choices)) return;
    if (window.parent.innerWidth >= 768) return;
    setTimeout(() => {
      const sidebar = doc.querySelector('[data-testid="stSidebar"]');
      const collapse = doc.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (sidebar && sidebar.getAttribute("aria-expanded") === "true" && collapse) {
        collapse.click();
      }
    }, 300);
  }, true);
}
</script>
"""


def close_sidebar_after_choice() -> None:
    """Install the listener (once per page load; re-running the script does not add more)."""
    components.html(_SCRIPT, height=0)
