// The template form: show only the fields the chosen header and flow action need, and put a picked
// image in the preview (the server never sees it until submit). Without JS every field shows.
(() => {
  const form = document.getElementById("template-form");
  if (!form) return;
  let mediaUrl = null;
  const toggle = () => {
    const header = form.querySelector("[name=header_format]")?.value ?? "";
    const action = form.querySelector("[name=flow_action]:checked")?.value ?? "navigate";
    form.querySelectorAll("[data-when-header]").forEach((el) => {
      el.hidden = !el.dataset.whenHeader.split(" ").includes(header);
    });
    form.querySelectorAll("[data-when-action]").forEach((el) => {
      el.hidden = el.dataset.whenAction !== action;
    });
  };
  const showMedia = () => {
    const slot = document.querySelector("#message-preview [data-media-slot=IMAGE]");
    if (slot && mediaUrl) slot.innerHTML = `<img src="${mediaUrl}" alt="Header image sample">`;
  };
  form.addEventListener("change", (event) => {
    if (event.target.matches("[data-preview-media]")) {
      const file = event.target.files?.[0];
      if (mediaUrl) URL.revokeObjectURL(mediaUrl);
      mediaUrl = file && file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
      showMedia();
    }
    toggle();
  });
  document.body.addEventListener("htmx:afterSwap", () => { toggle(); showMedia(); });
  toggle();
})();
