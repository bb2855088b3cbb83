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

// Posting forms: ask first where the form says data-confirm; then show that the button is working
// (aria-busy, its label changed to data-busy or "Working…") and refuse a second submit while the
// first is on its way, so a double click saves once. htmx requests get the same from the htmx events.
const HTMX_FORM = "[hx-post],[hx-put],[hx-patch],[hx-delete]";

function markBusy(element, button) {
  element.dataset.busy = "true";
  if (!button) return;
  button.setAttribute("aria-busy", "true");
  button.dataset.label = button.textContent;
  button.textContent = button.dataset.busy || "Working…";
}

function clearBusy(element) {
  delete element.dataset.busy;
  for (const button of element.querySelectorAll("[aria-busy=true]")) {
    button.removeAttribute("aria-busy");
    if (button.dataset.label !== undefined) button.textContent = button.dataset.label;
  }
  if (element.getAttribute("aria-busy") === "true") element.removeAttribute("aria-busy");
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.method !== "post" || event.defaultPrevented) return;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.matches(HTMX_FORM)) return; // htmx:beforeRequest below
  if (form.dataset.busy) {
    event.preventDefault();
    return;
  }
  markBusy(form, event.submitter);
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const element = event.detail.elt;
  const verb = (event.detail.requestConfig?.verb || "get").toLowerCase();
  if (verb === "get") return;
  if (element.dataset.busy) {
    event.preventDefault();
    return;
  }
  const button = element.matches("button") ? element : event.detail.requestConfig?.triggeringEvent?.submitter;
  markBusy(element, button);
});
document.addEventListener("htmx:afterRequest", (event) => clearBusy(event.detail.elt));
// Back to a page from the history cache: its forms are not on their way any more.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-busy]")) clearBusy(form);
});

// "Add a condition" / "Add a data row": show the next hidden row of its list and focus it; the
// button goes once none is left.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-add-row]");
  if (!button) return;
  const rows = button.closest("[data-rows]");
  const next = rows.querySelector(".spare-row");
  if (!next) return;
  next.classList.remove("spare-row");
  next.querySelector("input, select")?.focus();
  if (!rows.querySelector(".spare-row")) button.hidden = true;
});
