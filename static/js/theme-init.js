/*
 * Keel theme bootstrap. Loaded WITHOUT defer in <head> so the saved theme is
 * applied before first paint (no flash of the wrong theme).
 *
 * The choice lives in localStorage under "theme" as "light", "dark" or "auto"
 * (system) -- the same key and values Django admin's theme switcher uses, so
 * the site and the admin stay in sync. <html data-theme> always holds the
 * resolved theme ("light" | "dark"); data-theme-choice holds the user's choice.
 */
(function () {
  "use strict";
  var choice = "system";
  try {
    var stored = window.localStorage.getItem("theme");
    if (stored === "light" || stored === "dark") {
      choice = stored;
    }
  } catch (e) {
    /* storage unavailable (privacy mode): follow the system */
  }
  var prefersDark = !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  var resolved = choice === "system" ? (prefersDark ? "dark" : "light") : choice;
  var root = document.documentElement;
  root.setAttribute("data-theme", resolved);
  root.setAttribute("data-theme-choice", choice);
})();
