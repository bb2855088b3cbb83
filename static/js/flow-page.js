// The flow page's small enhancements; every tab works without them.
(function () {
  "use strict";

  // A form with data-confirm asks first (no inline onsubmit: the Content-Security-Policy forbids it).
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // In the phone beside the editor, a link to another screen picks that screen in the screen picker
  // (which redraws from the editor's text) instead of loading the page, which would lose unsaved edits.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("#live-preview a[href^='?screen=']");
    const picker = document.getElementById("preview-screen");
    if (!link || !picker) return;
    const id = new URLSearchParams(link.getAttribute("href").slice(1)).get("screen");
    if (!Array.from(picker.options).some((option) => option.value === id)) return;
    event.preventDefault();
    picker.value = id;
    picker.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
