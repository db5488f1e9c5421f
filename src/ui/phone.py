"""Small screens: the sidebar closes after a page or a chat is chosen in it.

Streamlit closes it after a page link only when the browser's user agent says "mobile"; a
narrow window (a phone in desktop mode, a small tablet, a split screen) kept it open over
most of the screen. A one-pixel iframe adds one click listener to the app's document
(same origin) that presses the sidebar's own collapse button after such a choice when the
window is narrower than Streamlit's mobile breakpoint (768 px). Nothing else is changed.
"""

from __future__ import annotations

import json

import streamlit as st

# Runs in the app's own window (a script element added once to its document), so the
# listener outlives this component's iframe, which Streamlit removes when the page changes.
_LISTENER = """
(() => {
  const choices = '[data-testid="stSidebarNavLink"], [class*="st-key-chat_open_"] button, '
                + '.st-key-chat_new button';
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest(choices)) return;
    if (window.innerWidth >= 768) return;
    const close = () => {
      const collapse = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (collapse && collapse.getAttribute("aria-expanded") === "true") collapse.click();
    };
    setTimeout(close, 300);
    setTimeout(close, 1500);  // a busy server redraws late: check once more
  }, true);
})();
"""
_SCRIPT = """
<script>
const doc = window.parent.document;
if (!doc.getElementById("olympus-sidebar-closer")) {
  const script = doc.createElement("script");
  script.id = "olympus-sidebar-closer";
  script.textContent = %s;
  doc.head.appendChild(script);
}
</script>
"""


def close_sidebar_after_choice() -> None:
    """Install the listener (once per page load; re-running the script does not add more)."""
    # st.iframe: st.components.v1.html is deprecated (to be removed after 2026-06-01); the HTML
    # is our own constant, never user text
    st.iframe(_SCRIPT % json.dumps(_LISTENER), height=1)
