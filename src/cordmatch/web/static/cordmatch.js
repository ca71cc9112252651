// Light progressive enhancement: focus the error summary; confirm destructive actions.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  document.querySelectorAll("form.danger").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("Discard this unit? This cannot be undone.")) { event.preventDefault(); }
    });
  });
});
// Print view: open every folded reason first, so that the printout has them.
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target && target.matches && target.matches("[data-print]")) {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    var images = Array.prototype.slice.call(document.querySelectorAll("img"));
    images.forEach(function (img) { img.loading = "eager"; });
    Promise.all(images.map(function (img) {
      return img.complete ? null : new Promise(function (done) { img.onload = img.onerror = done; });
    })).then(function () { window.print(); });
  }
});
