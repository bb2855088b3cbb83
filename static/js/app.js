// Small progressive enhancements; every page works without them.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  try {
    await navigator.clipboard.writeText(source.value ?? source.textContent);
    button.textContent = "Copied";
  } catch {
    source.select?.();
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
});
// htmx refuses to send a form that fails its checks (hx-validate) but says nothing: let the browser
// say what is missing, as it does for a plain submit.
document.addEventListener("htmx:validation:halted", (event) => {
  event.target.closest("form")?.reportValidity();
});
document.documentElement.classList.add("js");
