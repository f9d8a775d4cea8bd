/*
 * Keel page behaviour: theme toggle (light -> dark -> system cycle) and
 * flash-message dismiss. Loaded with defer; no inline scripts (strict CSP).
 */
(function () {
  "use strict";

  /* ---- Theme ------------------------------------------------------------ */

  var STORAGE_KEY = "theme"; // shared with Django admin's own theme switcher
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var NAMES = { system: "System", light: "Light", dark: "Dark" };

  function systemPrefersDark() {
    return !!(media && media.matches);
  }

  function readChoice() {
    var stored = null;
    try {
      stored = window.localStorage.getItem(STORAGE_KEY);
    } catch (e) {
      /* storage unavailable */
    }
    return stored === "light" || stored === "dark" ? stored : "system";
  }

  function saveChoice(choice) {
    try {
      window.localStorage.setItem(STORAGE_KEY, choice === "system" ? "auto" : choice);
    } catch (e) {
      /* storage unavailable: the choice lasts for this page only */
    }
  }

  // The first click always changes what you see: from "system" go to the
  // opposite of the system theme, then the other explicit theme, then back.
  function nextChoice(current) {
    var order = systemPrefersDark() ? ["system", "light", "dark"] : ["system", "dark", "light"];
    return order[(order.indexOf(current) + 1) % order.length];
  }

  function applyTheme(choice) {
    var resolved = choice === "system" ? (systemPrefersDark() ? "dark" : "light") : choice;
    root.setAttribute("data-theme", resolved);
    root.setAttribute("data-theme-choice", choice);
    var label = "Theme: " + NAMES[choice] + " (switch to " + NAMES[nextChoice(choice)] + ")";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-label", label);
      button.setAttribute("title", label);
    });
  }

  document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
    button.addEventListener("click", function () {
      var choice = nextChoice(root.getAttribute("data-theme-choice") || readChoice());
      saveChoice(choice);
      applyTheme(choice);
    });
  });

  if (media) {
    var onSystemChange = function () {
      if ((root.getAttribute("data-theme-choice") || "system") === "system") {
        applyTheme("system");
      }
    };
    if (media.addEventListener) {
      media.addEventListener("change", onSystemChange);
    } else if (media.addListener) {
      media.addListener(onSystemChange);
    }
  }

  // Keep other open tabs (and the admin) in step.
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_KEY || event.key === null) {
      applyTheme(readChoice());
    }
  });

  applyTheme(readChoice());

  /* ---- Flash messages ---------------------------------------------------- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss='alert']");
    if (!button) {
      return;
    }
    var alert = button.closest(".alert");
    if (!alert) {
      return;
    }
    var list = alert.parentElement;
    alert.remove();
    if (list && list.classList.contains("messages") && !list.querySelector(".alert")) {
      list.remove();
    }
  });

  /* ---- Confirmations ------------------------------------------------------ */

  // <button data-confirm="Really?"> asks before its form is submitted (or link followed).
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-confirm]");
    if (trigger && !window.confirm(trigger.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  /* ---- Copy to clipboard -------------------------------------------------- */

  // <button data-copy-target="element-id"> copies that element's text (one line per <li>).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source || !navigator.clipboard) {
      return;
    }
    var items = source.querySelectorAll("li");
    var text = items.length
      ? Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join("\n")
      : source.textContent.trim();
    var label = button.textContent;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();

/*
 * Privacy page: while a data export is being prepared, poll its status
 * (GET /api/v1/users/me/export, signed in by the page's session cookie) and
 * move the progress bar; reload once it has finished so the download link
 * (or the error) is drawn by the server.
 */
(function () {
  "use strict";

  var box = document.querySelector("[data-export-poll]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-export-poll");
  var bar = box.querySelector("[data-export-progress]");
  var label = box.querySelector("[data-export-progress-label]");
  var badge = document.querySelector("[data-export-status]");
  var INTERVAL = 1500;
  var failures = 0;

  function show(progress) {
    var value = Math.max(0, Math.min(100, Number(progress) || 0));
    if (bar) {
      bar.value = value;
      bar.textContent = value + "%";
    }
    if (label) {
      label.textContent = value + "%";
    }
  }

  function poll() {
    window
      .fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        show(data.progress);
        if (badge && data.status) {
          badge.textContent = data.status.charAt(0).toUpperCase() + data.status.slice(1);
        }
        if (data.status === "pending" || data.status === "processing") {
          window.setTimeout(poll, INTERVAL);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        failures += 1;
        if (failures < 5) {
          window.setTimeout(poll, INTERVAL * (failures + 1));
        }
      });
  }

  window.setTimeout(poll, INTERVAL);
})();
