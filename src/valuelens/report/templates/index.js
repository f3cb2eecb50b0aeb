(function () {
  "use strict";
  var picks = Array.prototype.slice.call(document.querySelectorAll("input.pick:not([disabled])"));
  var all = document.getElementById("select-all");
  var button = document.getElementById("compare");
  var command = document.getElementById("compare-command");
  var served = document.body.getAttribute("data-served") === "yes";
  function chosen() {
    return picks.filter(function (p) { return p.checked; }).map(function (p) { return p.value; });
  }
  function quote(text) {
    return /^[A-Za-z0-9_.\/-]+$/.test(text) ? text : "'" + text.replace(/'/g, "'\"'\"'") + "'";
  }
  function update() {
    var paths = chosen();
    if (button) { button.disabled = paths.length < 1; }
    if (command) {
      command.textContent = paths.length && !served
        ? "valuelens report " + paths.map(quote).join(" ") + " --out comparison.html"
        : "";
    }
  }
  picks.forEach(function (p) { p.addEventListener("change", update); });
  if (all) {
    all.addEventListener("change", function () {
      picks.forEach(function (p) { p.checked = all.checked; });
      update();
    });
  }
  if (button) {
    button.addEventListener("click", function () {
      var paths = chosen();
      if (served && paths.length) {
        window.location.href = "compare?" + paths.map(function (p) {
          return "run=" + encodeURIComponent(p);
        }).join("&");
      }
    });
  }
  update();
  document.documentElement.setAttribute("data-index-ready", "1");
})();
