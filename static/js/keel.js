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

/*
 * One live socket per page (/ws, same origin; the session cookie signs it in), shared by every
 * script that wants events: `window.KeelLive.subscribe({onEvent, onState, onReconnect})`.
 * onEvent(envelope) gets each parsed `{type, payload, timestamp}`; onState(state) gets
 * "connecting" | "connected" | "offline" (at once with the current state, then on each change);
 * onReconnect() is called when the socket opens again after a drop. The socket opens with the
 * first subscriber, pings every 25 s, reconnects with exponential backoff (1 s … 30 s,
 * jittered) and gives up when the server refuses it (4401 / 4403 / 1008).
 */
(function () {
  "use strict";

  var FINAL_CLOSE_CODES = [1008, 4401, 4403];
  var PING_INTERVAL = 25000;
  var MAX_DELAY = 30000;
  var listeners = [];
  var state = "offline";
  var socket = null;
  var attempts = 0;
  var connectedBefore = false;
  var started = false;
  var stopped = false;
  var pingTimer = null;
  var retryTimer = null;

  function notify(name, value) {
    listeners.forEach(function (listener) {
      if (typeof listener[name] === "function") {
        listener[name](value);
      }
    });
  }

  function setState(next) {
    state = next;
    notify("onState", next);
  }

  function retry() {
    if (stopped) {
      return;
    }
    attempts += 1;
    var delay = Math.min(MAX_DELAY, 1000 * Math.pow(2, attempts - 1));
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
  }

  function connect() {
    if (stopped) {
      return;
    }
    setState("connecting");
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(scheme + window.location.host + "/ws");
    } catch (e) {
      setState("offline");
      retry();
      return;
    }
    socket = ws;
    // A socket replaced since (the page came back from the back/forward cache) is ignored.
    ws.addEventListener("open", function () {
      if (ws !== socket) {
        return;
      }
      attempts = 0;
      setState("connected");
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(function () {
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send('{"type":"ping"}');
        }
      }, PING_INTERVAL);
      if (connectedBefore) {
        notify("onReconnect");
      }
      connectedBefore = true;
    });
    ws.addEventListener("message", function (event) {
      if (ws !== socket) {
        return;
      }
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      notify("onEvent", data);
    });
    ws.addEventListener("close", function (event) {
      if (ws !== socket) {
        return;
      }
      window.clearInterval(pingTimer);
      socket = null;
      setState("offline");
      if (FINAL_CLOSE_CODES.indexOf(event.code) !== -1) {
        stopped = true;
        return;
      }
      retry();
    });
  }

  window.addEventListener("pagehide", function () {
    stopped = true;
    window.clearTimeout(retryTimer);
    window.clearInterval(pingTimer);
    if (socket) {
      var closing = socket;
      socket = null;
      closing.close(1000);
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && started) {
      stopped = false;
      connect();
    }
  });

  window.KeelLive = {
    subscribe: function (listener) {
      listeners.push(listener);
      if (typeof listener.onState === "function") {
        listener.onState(state);
      }
      if (!started && window.WebSocket) {
        started = true;
        connect();
      }
    },
  };
})();

/*
 * Organizations.
 * - Header org switcher (a <details> dropdown): closes on an outside click or Escape.
 * - Members page (/org/<slug>/members/, [data-live-members]): listens on /ws (same origin; the
 *   session cookie signs the socket in) and, on a `member_update` event for this org
 *   (payload.orgSlug), re-fetches the page and swaps its [data-member-list] block, so rows
 *   keep the controls the server draws for the caller's role. An `org_update` "deleted", or a
 *   page that no longer answers 200 (removed from the org, signed out), reloads the page.
 *   The socket is the page's one shared socket (window.KeelLive, above); the list refreshes
 *   once on reconnect to catch up.
 */
(function () {
  "use strict";

  /* ---- Org switcher -------------------------------------------------------- */

  function openSwitchers() {
    return document.querySelectorAll("details[data-org-switcher][open]");
  }

  document.addEventListener("click", function (event) {
    openSwitchers().forEach(function (details) {
      if (!details.contains(event.target)) {
        details.removeAttribute("open");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    openSwitchers().forEach(function (details) {
      details.removeAttribute("open");
      var summary = details.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    });
  });

  /* ---- Live member list ------------------------------------------------------ */

  var section = document.querySelector("[data-live-members]");
  if (!section || !window.WebSocket || !window.fetch || !window.DOMParser) {
    return;
  }
  var slug = section.getAttribute("data-org-slug");
  var status = section.querySelector("[data-live-status]");
  var announce = section.querySelector("[data-live-announce]");
  var LABELS = { connecting: "Connecting…", connected: "Live", offline: "Live updates off" };
  var MEMBER_EVENTS = ["added", "removed", "role_changed"];
  var refreshTimer = null;
  var refreshing = false;
  var refreshAgain = false;

  function setState(state) {
    section.setAttribute("data-live-state", state);
    if (status) {
      status.setAttribute("data-state", state);
      status.textContent = LABELS[state];
    }
  }

  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    window
      .fetch(window.location.pathname, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          window.location.reload();
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-member-list]");
        var current = section.querySelector("[data-member-list]");
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
          section.setAttribute("data-refreshed", String(Date.now()));
          if (announce) {
            announce.textContent = "The member list was updated.";
          }
        }
      })
      .catch(function () {
        /* the next event or reconnect tries again */
      })
      .then(function () {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      });
  }

  function scheduleRefresh() {
    // Coalesce bursts (an ownership transfer sends two role changes).
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, 150);
  }

  function onEvent(data) {
    var payload = data && data.payload;
    if (!payload || payload.orgSlug !== slug) {
      return;
    }
    if (data.type === "member_update" && MEMBER_EVENTS.indexOf(payload.event) !== -1) {
      scheduleRefresh();
    } else if (data.type === "org_update" && payload.event === "deleted") {
      window.location.reload();
    }
  }

  window.KeelLive.subscribe({
    onState: setState,
    onEvent: onEvent,
    onReconnect: scheduleRefresh, // catch up on what happened while disconnected
  });
})();
