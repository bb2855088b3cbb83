// The Flow JSON editor: every <textarea data-flow-editor> becomes a CodeMirror 5 editor with line
// numbers, bracket matching and gutter markers for the validation messages in its data-messages.
//
// Progressive enhancement: the textarea stays the form field. The editor writes its text back on
// every change and before submit, so plain POSTs and htmx requests read the textarea as usual. If
// CodeMirror did not load (or throws), the textarea is left alone and still works, and so do the
// data-jump-line links (they then move the caret in the textarea).
(function () {
  "use strict";

  const editors = new WeakMap(); // textarea -> CodeMirror instance
  const MARKER_GUTTER = "flow-editor-markers";
  let hintCount = 0;

  function codeMirrorLoaded() {
    const CodeMirror = window.CodeMirror;
    return typeof CodeMirror === "function" && typeof CodeMirror.fromTextArea === "function";
  }

  function parseMessages(textarea) {
    const raw = textarea.dataset.messages;
    if (!raw) return [];
    try {
      const messages = JSON.parse(raw);
      return Array.isArray(messages) ? messages : [];
    } catch (error) {
      console.warn("flow-editor: data-messages is not a JSON list", error);
      return [];
    }
  }

  // Lines and columns are 1-based and count characters (code points), as flowjson.py reports them;
  // CodeMirror and textareas count UTF-16 units, which differ after an emoji on the same line.
  function unitsBefore(lineText, column) {
    return Array.from(lineText).slice(0, Math.max(0, (column || 1) - 1)).join("").length;
  }

  function clampLine(line, lineCount) {
    const n = Number.parseInt(line, 10);
    return Math.min(Math.max(Number.isFinite(n) ? n : 1, 1), lineCount);
  }

  function labelText(textarea) {
    const label = textarea.labels && textarea.labels[0];
    const text = label && label.textContent.trim();
    return text || textarea.getAttribute("aria-label") || "Flow JSON";
  }

  function setMessages(cm, messages) {
    cm.operation(() => {
      cm.clearGutter(MARKER_GUTTER);
      (cm.state.flowEditorLines || []).forEach(({ handle, className }) =>
        cm.removeLineClass(handle, "background", className)
      );
      // Several messages can share a line: one marker, the worst level, every message in the title.
      const byLine = new Map();
      messages.forEach((m) => {
        const line = clampLine(m.line, cm.lineCount()) - 1;
        const entry = byLine.get(line) || { level: "warning", texts: [] };
        if (m.level === "error") entry.level = "error";
        entry.texts.push(`${m.level === "error" ? "Error" : "Warning"}: ${m.message}`);
        byLine.set(line, entry);
      });
      cm.state.flowEditorLines = [];
      byLine.forEach(({ level, texts }, line) => {
        const marker = document.createElement("span");
        marker.className = `flow-editor-marker flow-editor-marker-${level}`;
        marker.textContent = level === "error" ? "×" : "!";
        marker.title = texts.join("\n");
        marker.setAttribute("role", "img");
        marker.setAttribute("aria-label", texts.join(" "));
        cm.setGutterMarker(line, MARKER_GUTTER, marker);
        const className = `flow-editor-line-${level}`;
        // The handle follows the line while the user edits above it.
        const handle = cm.addLineClass(line, "background", className);
        cm.state.flowEditorLines.push({ handle, className });
      });
    });
    cm.state.flowEditorMessagesRaw = cm.getTextArea().dataset.messages || "";
  }

  // The editor's markup right after the textarea: CodeMirror's wrapper and our hint.
  function removeEditorUi(textarea) {
    let next = textarea.nextElementSibling;
    while (next && next.matches(".CodeMirror, [data-flow-editor-ui]")) {
      const stale = next;
      next = next.nextElementSibling;
      stale.remove();
    }
  }

  function upgrade(textarea) {
    // After an htmx history restore the old editor's markup comes back without its instance.
    removeEditorUi(textarea);
    // A hidden required field blocks the submit with no visible message; the server still
    // refuses an empty Flow JSON, so the requirement moves to the editor's aria-required.
    const required = textarea.required || textarea.hasAttribute("data-flow-editor-required");
    if (required) textarea.setAttribute("data-flow-editor-required", "");
    textarea.required = false;
    try {
      build(textarea, required);
    } catch (error) {
      // Leave the plain textarea in place rather than a half-built editor.
      console.error("flow-editor: could not start the editor", error);
      editors.delete(textarea);
      removeEditorUi(textarea);
      textarea.style.display = "";
      textarea.required = required;
    }
  }

  function build(textarea, required) {
    let escaped = false; // Esc was the last key: the next Tab leaves the editor
    const cm = window.CodeMirror.fromTextArea(textarea, {
      mode: "application/json",
      lineNumbers: true,
      gutters: [MARKER_GUTTER, "CodeMirror-linenumbers"],
      matchBrackets: true,
      autoCloseBrackets: { pairs: '()[]{}""', explode: "[]{}" },
      indentUnit: 2,
      tabSize: 2,
      indentWithTabs: false,
      lineWrapping: false,
      // Lines drawn beyond the visible ones. Infinity (draw all) cost 12 ms per keystroke on a
      // 1,200-line Flow in headless Chromium, 100 lines cost 3 ms and still scrolls smoothly.
      viewportMargin: 100,
      // contenteditable input is the one CodeMirror recommends for screen readers.
      inputStyle: "contenteditable",
      spellcheck: false,
      autocorrect: false,
      autocapitalize: false,
      readOnly: textarea.readOnly || textarea.disabled,
      screenReaderLabel: labelText(textarea),
      extraKeys: {
        Tab: (editor) =>
          editor.execCommand(editor.somethingSelected() ? "indentMore" : "insertSoftTab"),
        "Shift-Tab": "indentLess",
        Esc: (editor) => {
          editor.execCommand("singleSelection");
          escaped = true;
        },
      },
    });
    editors.set(textarea, cm);

    cm.on("keydown", (_editor, event) => {
      if (escaped && event.key === "Tab") {
        // Not CodeMirror.Pass from the key map: the default key map would still type a tab.
        // Ignored here, the key keeps its browser meaning and moves the focus on.
        event.codemirrorIgnore = true;
        escaped = false;
      } else if (event.key !== "Escape" && event.key !== "Shift") {
        escaped = false;
      }
    });
    cm.on("focus", () => {
      escaped = false;
    });
    cm.on("changes", () => {
      cm.save();
      // Listeners on the textarea (an hx-trigger="input" for live validation) still hear typing.
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    });
    if (textarea.form) textarea.form.addEventListener("submit", () => cm.save());

    const wrapper = cm.getWrapperElement();
    wrapper.classList.add("flow-editor");
    wrapper.setAttribute("data-flow-editor-ui", "");

    const hint = document.createElement("p");
    hint.className = "flow-editor-hint";
    hint.id = `${textarea.id || "flow-editor"}-hint-${++hintCount}`;
    hint.setAttribute("data-flow-editor-ui", "");
    hint.textContent = "Tab indents. To leave the editor, press Esc, then Tab.";
    wrapper.after(hint);

    const input = cm.getInputField();
    const describedBy = [textarea.getAttribute("aria-describedby"), hint.id].filter(Boolean);
    input.setAttribute("aria-describedby", describedBy.join(" "));
    input.setAttribute("aria-multiline", "true");
    if (required) input.setAttribute("aria-required", "true");
    if (textarea.getAttribute("aria-invalid")) {
      input.setAttribute("aria-invalid", textarea.getAttribute("aria-invalid"));
    }

    // Clicking the label focuses the editor, as it would focus the textarea.
    Array.from(textarea.labels || []).forEach((label) =>
      label.addEventListener("click", (event) => {
        event.preventDefault();
        cm.focus();
      })
    );

    // The wrapper is resizable by CSS; CodeMirror must re-measure when its box changes.
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => cm.refresh()).observe(wrapper);
    }

    setMessages(cm, parseMessages(textarea));
  }

  function upgradeAll() {
    if (!codeMirrorLoaded()) return;
    document.querySelectorAll("textarea[data-flow-editor]").forEach((textarea) => {
      const cm = editors.get(textarea);
      if (cm) {
        // A swap may have replaced the textarea's messages without replacing the textarea.
        if ((textarea.dataset.messages || "") !== cm.state.flowEditorMessagesRaw) {
          setMessages(cm, parseMessages(textarea));
        }
        return;
      }
      upgrade(textarea);
    });
  }

  function findTextarea(target) {
    if (target instanceof HTMLTextAreaElement) return target;
    if (typeof target === "string" && target) return document.getElementById(target);
    return document.querySelector("textarea[data-flow-editor]");
  }

  function flashLine(cm, line) {
    const handle = cm.addLineClass(line, "background", "flow-editor-line-target");
    setTimeout(() => cm.removeLineClass(handle, "background", "flow-editor-line-target"), 1500);
  }

  // Move the caret to a 1-based line and column and focus the editor (or the plain textarea).
  function jumpTo(line, column, target) {
    const textarea = findTextarea(target);
    if (!textarea) return false;
    const cm = editors.get(textarea);
    if (cm) {
      const index = clampLine(line, cm.lineCount()) - 1;
      const pos = { line: index, ch: unitsBefore(cm.getLine(index), column) };
      cm.getWrapperElement().scrollIntoView({ block: "nearest" });
      cm.focus();
      cm.setCursor(pos);
      cm.scrollIntoView(pos, 80);
      flashLine(cm, index);
      return true;
    }
    const lines = textarea.value.split("\n");
    const index = clampLine(line, lines.length) - 1;
    let offset = 0;
    for (let i = 0; i < index; i += 1) offset += lines[i].length + 1;
    offset += unitsBefore(lines[index], column);
    textarea.focus();
    textarea.setSelectionRange(offset, offset);
    return true;
  }

  function jumpFrom(element) {
    return jumpTo(element.dataset.jumpLine, element.dataset.jumpColumn, element.dataset.jumpTarget);
  }

  // Links to messages: best written as <a href="#textarea-id" data-jump-line=...>, which also works
  // without this script. Anything else is made focusable and operable from the keyboard.
  function prepareJumpElements() {
    document.querySelectorAll("[data-jump-line]").forEach((element) => {
      if (element.matches("a[href], button, input, select, textarea, [tabindex]")) return;
      element.tabIndex = 0;
      element.setAttribute("role", "button");
    });
  }

  document.addEventListener("click", (event) => {
    const element = event.target.closest("[data-jump-line]");
    if (!element) return;
    if (jumpFrom(element)) event.preventDefault();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const element = event.target.closest("[data-jump-line][role=button]");
    if (!element || element.matches("a[href], button")) return;
    if (jumpFrom(element)) event.preventDefault();
  });

  // "Check JSON" answers with its messages in data-editor-messages: they become the gutter's markers,
  // as saving's do (the attribute is dropped once read, so a later swap can't bring old ones back).
  function takeCheckedMessages() {
    document.querySelectorAll("[data-editor-messages]").forEach((element) => {
      const textarea = findTextarea(element.dataset.editorTarget);
      if (textarea) textarea.dataset.messages = element.dataset.editorMessages;
      element.removeAttribute("data-editor-messages");
    });
  }

  // Another page links to a message as <editor page>#line-12-5: go there once the editor is up.
  function jumpToHash() {
    const match = /^#line-(\d+)(?:-(\d+))?$/.exec(window.location.hash);
    if (match) jumpTo(match[1], match[2]);
  }

  function start() {
    takeCheckedMessages();
    upgradeAll();
    prepareJumpElements();
  }

  window.flowEditor = {
    jumpTo,
    // For pages that get messages some other way (an htmx JSON response): replace the markers.
    setMessages(messages, target) {
      const textarea = findTextarea(target);
      const cm = textarea && editors.get(textarea);
      if (!cm) return false;
      textarea.dataset.messages = JSON.stringify(messages);
      setMessages(cm, messages);
      return true;
    },
    upgrade: start,
  };

  function firstStart() {
    start();
    jumpToHash();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", firstStart);
  else firstStart();
  document.addEventListener("htmx:afterSwap", start);
  document.addEventListener("htmx:historyRestore", start);
})();
