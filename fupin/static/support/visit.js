// The visit form on a cadre's phone: fill in latitude and longitude from the browser's
// geolocation. Kept out of the page (no inline script) for the content security policy.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var button = document.getElementById("locate");
    var status = document.getElementById("locate-status");
    var lat = document.querySelector("input[name=latitude]");
    var lon = document.querySelector("input[name=longitude]");
    if (!button || !lat || !lon) return;
    if (!("geolocation" in navigator)) {
      button.disabled = true;
      status.textContent = button.dataset.failed;
      return;
    }

    function locate() {
      button.disabled = true;
      status.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          // Six decimals (about 0.1 m) are what the record keeps.
          lat.value = position.coords.latitude.toFixed(6);
          lon.value = position.coords.longitude.toFixed(6);
          var accuracy = Math.round(position.coords.accuracy || 0);
          status.textContent = button.dataset.located + (accuracy ? " (±" + accuracy + " m)" : "");
          button.disabled = false;
        },
        function () {
          status.textContent = button.dataset.failed;
          button.disabled = false;
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    }

    button.addEventListener("click", locate);
    // On a new visit, ask at once: the cadre is standing at the household's door.
    if (!lat.value && !lon.value) locate();
  });
})();
