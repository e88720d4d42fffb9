// The admin console's only script: everything works without it (plain forms and links);
// with it, the user search updates as you type, secrets get a working Copy button and a
// form marked data-confirm asks before it is sent.
"use strict";

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function liveSearch(form) {
  const target = document.getElementById(form.dataset.results);
  let latest = 0;
  const refresh = debounce(async () => {
    const query = new URLSearchParams(new FormData(form)).toString();
    const asked = ++latest;
    const response = await fetch(`${form.dataset.liveSearch}?${query}`, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (asked !== latest) return; // an answer to an older keystroke
    if (response.redirected || !response.ok) {
      form.submit(); // signed out, or a problem: let the full page say so
      return;
    }
    target.innerHTML = await response.text();
    history.replaceState(null, "", `${form.action}?${query}`);
  }, 250);
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
}

function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  }
}

function confirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-live-search]")) liveSearch(form);
  copyButtons();
  confirmations();
});
