// Behaviour shared by every page. No inline script anywhere, so the CSP stays strict.
(function () {
  "use strict";

  // The page's words for what this script shows (license/core/_head.html), English without them.
  function word(key, english) {
    var meta = document.querySelector('meta[name="license-words"]');
    try { return (meta && JSON.parse(meta.getAttribute("content"))[key]) || english; } catch (e) { return english; }
  }

  function copyText(text, button) {
    var done = function () {
      var label = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", label);
      button.textContent = word("copied", "Copied");
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selectable */ }
    document.body.removeChild(area);
  }

  // <button data-copy-target="#id"> copies the text (or value) of that element;
  // <button data-copy="text"> copies the text itself.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target], [data-copy]");
    if (!button) { return; }
    event.preventDefault();
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var target = document.querySelector(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      text = ("value" in target && target.value !== undefined) ? target.value : target.textContent;
    }
    copyText(text.trim(), button);
  });

  // <button data-download="file.txt" data-download-target="#id"> saves that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-download]");
    if (!button) { return; }
    event.preventDefault();
    var target = document.querySelector(button.getAttribute("data-download-target"));
    if (!target) { return; }
    var text = ("value" in target && target.value !== undefined) ? target.value : target.textContent;
    var blob = new Blob([text.trim() + "\n"], { type: "text/plain" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = button.getAttribute("data-download");
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  });

  // <dialog> openers and closers without inline handlers.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.querySelector(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) { event.preventDefault(); open.close(); }
    }
  });

  // While a form's htmx request runs, its buttons are disabled (and the form is aria-busy). A
  // second press during the request, or during the swap that replaces the form, would otherwise
  // be queued on a form about to leave the page and silently lost; now the person (or a test)
  // presses the button of the new form once it is there. A form the answer does not replace
  // gets its buttons back when the request ends.
  // The CSRF token on every htmx request: the plugin's own layout sends it from <body hx-headers>;
  // in a host console's layout (LICENSE_BASE_TEMPLATE) it comes from <meta name="csrf-token">.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && !event.detail.headers["X-CSRFToken"]) {
      event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
    }
  });

  function busyForm(event) {
    var elt = event.detail.elt;
    return elt && elt.closest ? elt.closest("form") : null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = busyForm(event);
    if (!form) { return; }
    form.setAttribute("aria-busy", "true");
    form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
      if (!button.disabled) { button.disabled = true; button.setAttribute("data-busy", ""); }
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = busyForm(event);
    if (!form) { return; }
    form.removeAttribute("aria-busy");
    form.querySelectorAll("[data-busy]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("data-busy");
    });
  });

  // When htmx cannot reach the server or gets an error it does not swap, say so. The toast goes
  // into <main> (a host's layout without one: the body), so no content is outside a landmark.
  function showProblem(text) {
    var box = document.getElementById("htmx-problem");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-problem";
      box.className = "toast";
      box.setAttribute("role", "alert");
      (document.querySelector("main") || document.body).appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
    setTimeout(function () { box.hidden = true; }, 6000);
  }
  document.addEventListener("htmx:sendError", function () {
    showProblem(word("unreachable", "The server could not be reached. Check your connection and try again."));
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 429) { showProblem(word("429", "Too many attempts: wait a minute and try again.")); }
    else if (status === 403) { showProblem(word("403", "Your account's role does not allow this.")); }
    else if (status === 503) { showProblem(word("503", "The service cannot answer right now. Nothing was changed; try again in a minute.")); }
    else { showProblem(word("other", "Something went wrong ({status}). Nothing was changed; try again.").replace("{status}", String(status))); }
  });
})();
