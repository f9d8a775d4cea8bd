/*
 * Organization pages: the plan and the seats follow billing live, without a reload.
 *
 * templates/organizations/base.html marks its heading [data-org-billing-live] with
 * data-org-slug, data-billing-url (GET /api/v1/organizations/<slug>/billing, signed in by the
 * page's session cookie) and, for admins (whom that route serves), data-billing-api.
 *
 * On `org_update` {event: "billing_changed"}, a `subscription_update`, or a `cache_invalidate`
 * with the "billing" key (an invoice changed) for this org
 * (payload.orgSlug):
 * - admins: the API's OrgBilling (E envelope: {success, message, data}) updates every
 *   [data-billing-field]: "plan" → the plan's name (+ data-billing-suffix), "seats" →
 *   "N of M seats used" or "unlimited seats";
 * - blocks marked [data-billing-refresh="<key>"] (the dashboard's seat chart, the invitations
 *   page's seat badge, the billing page's sections) are re-drawn from a fresh copy of the page,
 *   and so are the fields for members (the API answers 403 to them).
 *
 * Back from Checkout (data-billing-pending), the webhook may have been handled between the
 * page's rendering and the socket's opening: the page re-reads once the socket is open, and
 * then every few seconds for a while until the plan has changed.
 *
 * Events come through the page's one shared socket (window.KeelLive, keel.js).
 * Loaded with defer; no inline scripts (strict CSP).
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-org-billing-live]");
  if (!root || !window.WebSocket || !window.fetch || !window.DOMParser) {
    return;
  }
  var slug = root.getAttribute("data-org-slug");
  var apiUrl = root.getAttribute("data-billing-url");
  var useApi = root.hasAttribute("data-billing-api");
  var PLAN_LABELS = { free: "Free", pro: "Pro", enterprise: "Enterprise" };

  var timer = null;
  var running = false;
  var again = false;

  function planLabel(plan) {
    plan = String(plan || "free");
    return PLAN_LABELS[plan] || plan.charAt(0).toUpperCase() + plan.slice(1);
  }

  function seatsText(count, limit) {
    return limit ? count + " of " + limit + " seats used" : "unlimited seats";
  }

  function pick(data, snake, camel) {
    return data[snake] !== undefined ? data[snake] : data[camel];
  }

  function applyBilling(data) {
    var plan = pick(data, "plan", "plan");
    var limit = Number(pick(data, "seat_limit", "seatLimit")) || 0;
    var count = Number(pick(data, "seat_count", "seatCount")) || 0;
    document.querySelectorAll("[data-billing-field]").forEach(function (element) {
      var field = element.getAttribute("data-billing-field");
      if (field === "plan") {
        element.textContent = planLabel(plan) + (element.getAttribute("data-billing-suffix") || "");
      } else if (field === "seats") {
        element.setAttribute("data-seat-count", String(count));
        element.textContent = seatsText(count, limit);
      }
    });
    root.setAttribute("data-billing-plan", String(plan));
  }

  var pending = root.hasAttribute("data-billing-pending");
  var PENDING_INTERVAL = 3000;
  var PENDING_TRIES = 20;

  function fromApi() {
    return window
      .fetch(apiUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        if (!body || !body.data) {
          throw new Error("no data");
        }
        applyBilling(body.data);
      });
  }

  // Re-draw [data-billing-refresh] blocks (and, when `fields`, the [data-billing-field]s) from
  // a fresh copy of this page.
  function fromPage(fields) {
    var blocks = document.querySelectorAll("[data-billing-refresh]");
    if (!blocks.length && !fields) {
      return Promise.resolve();
    }
    return window
      .fetch(window.location.href, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        blocks.forEach(function (block) {
          var key = block.getAttribute("data-billing-refresh");
          var replacement = fresh.querySelector('[data-billing-refresh="' + key + '"]');
          if (replacement) {
            block.replaceWith(document.importNode(replacement, true));
          }
        });
        if (fields) {
          var current = document.querySelectorAll("[data-billing-field]");
          var updated = fresh.querySelectorAll("[data-billing-field]");
          current.forEach(function (element, index) {
            var other = updated[index];
            if (other && other.getAttribute("data-billing-field") === element.getAttribute("data-billing-field")) {
              element.textContent = other.textContent;
            }
          });
        }
      });
  }

  function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    var work = useApi
      ? fromApi().then(
          function () { return fromPage(false); },
          function () { return fromPage(true); }
        )
      : fromPage(true);
    work
      .then(function () {
        root.setAttribute("data-billing-refreshed", String(Date.now()));
      })
      .catch(function () {
        /* the next event or reconnect tries again */
      })
      .then(function () {
        running = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function scheduleRefresh() {
    // Coalesce bursts: one checkout brings several events.
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 150);
  }

  function onEvent(data) {
    var payload = data && data.payload;
    if (!payload || payload.orgSlug !== slug) {
      return;
    }
    var keys = payload.queryKeys || [];
    if (
      (data.type === "org_update" && payload.event === "billing_changed") ||
      data.type === "subscription_update" ||
      (data.type === "cache_invalidate" && keys.indexOf("billing") !== -1)
    ) {
      scheduleRefresh();
    }
  }

  // Back from Checkout: catch up now, then poll for a while until the plan changes.
  if (pending) {
    var tries = 0;
    var initialText = (document.querySelector('[data-billing-field="plan"]') || {}).textContent;
    var poll = function () {
      var shown = (document.querySelector('[data-billing-field="plan"]') || {}).textContent;
      if (shown !== initialText || tries >= PENDING_TRIES) {
        return;
      }
      tries += 1;
      scheduleRefresh();
      window.setTimeout(poll, PENDING_INTERVAL);
    };
    window.setTimeout(poll, 500);
  }

  /* ---- The page's shared socket (keel.js) --------------------------------------------- */

  window.KeelLive.subscribe({
    onState: function (state) {
      root.setAttribute("data-billing-live-state", state);
    },
    onEvent: onEvent,
    onReconnect: scheduleRefresh, // catch up on what happened while disconnected
  });
})();
