// Run page: while the run is going, poll its status and show progress; reload when it ends.
(function () {
  "use strict";
  var card = document.getElementById("run");
  if (!card || card.dataset.status !== "running") { return; }
  var id = card.dataset.runId;
  function poll() {
    fetch("/runs/" + id + "/status.json", { credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (data) {
        if (!data.ok) { return; }
        var run = data.run;
        if (run.status !== "running") { window.location.reload(); return; }
        var bar = document.getElementById("run-progress");
        var text = document.getElementById("run-progress-text");
        if (run.progress && bar) {
          bar.max = Math.max(run.progress.total, 1);
          bar.value = run.progress.done;
          text.textContent = run.progress.done + " of " + run.progress.total + " records handled";
        }
        Object.keys(run.counts || {}).forEach(function (name) {  // every count the page shows
          var cell = document.getElementById("count-" + name.replace(/_/g, "-"));
          if (cell) { cell.textContent = run.counts[name]; }
        });
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
