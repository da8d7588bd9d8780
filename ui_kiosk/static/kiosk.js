// The kiosk's own script: keyboard shortcuts, live updates over server-sent events, and the
// scanner field. Everything else is plain HTML forms (and htmx for the scan field), so every
// action also works with Tab, Enter and Space alone.
(function () {
  "use strict";

  // Parts of the page marked data-live-src are fetched again when an arrival changes
  // (data-live-arrival: only when that arrival changes). A part is swapped only when the
  // server's answer differs from the last one it drew: an unchanged part keeps its focus.
  var lastLive = new WeakMap();

  function followChanges() {
    var live = document.querySelectorAll("[data-live-src]");
    if (!live.length || !window.EventSource) {
      return;
    }
    var source = new EventSource("/events");
    source.addEventListener("arrival", function (event) {
      live.forEach(function (element) {
        var only = element.getAttribute("data-live-arrival");
        if (!only || only === event.data) {
          htmx.ajax("GET", element.getAttribute("data-live-src"), {
            target: element,
            swap: "innerHTML",
          });
        }
      });
    });
    source.addEventListener("logout", function () {
      source.close();
      window.location.assign("/login");
    });
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var target = event.detail.target;
      var config = event.detail.requestConfig;
      var refresh = config && config.verb === "get" && target &&
        target.getAttribute("data-live-src") === config.path;
      if (!refresh) {
        lastLive.delete(target); // drawn by something else (a scan): the next refresh swaps
        return;
      }
      if (lastLive.get(target) === event.detail.serverResponse) {
        event.detail.shouldSwap = false;
      }
      lastLive.set(target, event.detail.serverResponse);
    });
  }

  // The decision choices follow the lane. The page tells the server which choices it shows
  // (X-Decision-Rules), so a scan or refresh sends them again only when they changed; when
  // they do, the officer's pick and focus go over to the new radios (unless now barred).
  function keepDecisionChoice() {
    document.body.addEventListener("htmx:configRequest", function (event) {
      var kinds = document.getElementById("decision-kinds");
      if (kinds) {
        event.detail.headers["X-Decision-Rules"] = kinds.getAttribute("data-rules") || "";
      }
    });
    var focused = null;
    document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
      var old = event.detail.target;
      if (!old || old.id !== "decision-kinds") {
        return;
      }
      var picked = old.querySelector("input[name=kind]:checked");
      var active = document.activeElement;
      focused = active && old.contains(active) ? active.id : null;
      if (picked) {
        var fresh = event.detail.fragment.querySelector(
          'input[name=kind][value="' + picked.value + '"]'
        );
        if (fresh && !fresh.disabled) {
          fresh.checked = true;
        }
      }
    });
    document.body.addEventListener("htmx:oobAfterSwap", function () {
      if (focused) {
        var again = document.getElementById(focused);
        focused = null;
        if (again && !again.disabled) {
          again.focus();
        }
      }
    });
  }

  // A passport reader in keyboard mode types each MRZ line and Enter; a barcode scanner
  // types its code and Enter. Enter between MRZ lines starts the next line; any other Enter
  // sends the scan.
  var MRZ_LINE = /^[A-Z0-9<]+$/;
  var MRZ_LINES = { 30: 3, 36: 2, 44: 2 };

  function awaitsMoreMrz(value) {
    var lines = value.split("\n");
    var last = lines[lines.length - 1];
    var wanted = MRZ_LINES[last.length];
    return Boolean(wanted) && MRZ_LINE.test(last) && last.indexOf("<") >= 0 && lines.length < wanted;
  }

  function scanField() {
    var field = document.getElementById("scan-input");
    if (!field) {
      return;
    }
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey) {
        return;
      }
      if (awaitsMoreMrz(field.value)) {
        return; // the textarea takes the line break
      }
      event.preventDefault();
      if (field.value.trim()) {
        field.form.requestSubmit();
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt === field.form) {
        if (event.detail.successful) {
          field.value = "";
        }
        field.focus();
      }
    });
  }

  // Alt and the key shown beside a control (data-key) uses it: a field or list gets the focus,
  // anything else is pressed. The physical key counts (event.code), so Alt+Q is the same key
  // on a Russian or Kazakh keyboard layout. Not HTML accesskey: browsers differ on it.
  var INPUTS = { SELECT: true, TEXTAREA: true };

  function shortcuts() {
    document.addEventListener("keydown", function (event) {
      if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
        return;
      }
      var match = /^(?:Key|Digit|Numpad)(\w)$/.exec(event.code || "");
      if (!match) {
        return;
      }
      var target = document.querySelector('[data-key="' + match[1].toLowerCase() + '"]');
      if (!target || target.disabled) {
        return;
      }
      event.preventDefault();
      target.focus();
      var typing = INPUTS[target.tagName] || (target.tagName === "INPUT" && target.type !== "radio");
      if (!typing) {
        target.click();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    shortcuts();
    keepDecisionChoice();
    followChanges();
    scanField();
  });
})();
