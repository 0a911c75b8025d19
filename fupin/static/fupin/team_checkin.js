/* The resident team's check-in page (templates/support/team_checkin.html): one big button
   asks the browser for its position (navigator.geolocation) and posts latitude, longitude
   and accuracy with the page's CSRF token; the server's answer says whether the check-in
   was inside the village's geofence. Messages come from the page's data-msg-* attributes,
   so they are translated with the rest of the page. No inline JS (CSP). */
(function () {
  "use strict";

  function show(box, kind, text) {
    box.classList.remove("d-none", "alert-info", "alert-success", "alert-warning", "alert-danger");
    box.classList.add("alert-" + kind);
    box.textContent = text;
  }

  function locationError(form, error) {
    if (error && error.code === 1) return form.dataset.msgDenied; // PERMISSION_DENIED
    if (error && error.code === 3) return form.dataset.msgTimeout; // TIMEOUT
    return form.dataset.msgUnavailable; // POSITION_UNAVAILABLE or anything else
  }

  function post(form, button, box, position) {
    var body = new FormData();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    body.append("csrfmiddlewaretoken", token ? token.value : "");
    body.append("latitude", position.coords.latitude.toFixed(6));
    body.append("longitude", position.coords.longitude.toFixed(6));
    if (position.coords.accuracy != null) {
      body.append("accuracy", String(Math.round(position.coords.accuracy)));
    }
    show(box, "info", form.dataset.msgSending);
    fetch(form.action || window.location.href, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", Accept: "application/json" },
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        var kind = !answer.ok ? "danger" : answer.inside === false ? "warning" : "success";
        show(box, kind, answer.message);
        box.dataset.inside = String(answer.inside);
      })
      .catch(function () {
        show(box, "danger", form.dataset.msgFailed);
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  function start(form) {
    var button = form.querySelector("button[type=submit]");
    var box = document.getElementById("checkin-result");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!("geolocation" in navigator)) {
        show(box, "danger", form.dataset.msgUnsupported);
        return;
      }
      button.disabled = true;
      show(box, "info", form.dataset.msgLocating);
      navigator.geolocation.getCurrentPosition(
        function (position) {
          post(form, button, box, position);
        },
        function (error) {
          show(box, "danger", locationError(form, error));
          button.disabled = false;
        },
        { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 }
      );
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-checkin]").forEach(start);
  });
})();
