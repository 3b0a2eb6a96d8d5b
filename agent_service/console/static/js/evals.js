// Eval runs: start one on a throwaway copy of the workspace, watch it, open its HTML report,
// compare it with a baseline run. The API asks for a key with the qa role.
import { api } from "./api.js";
import { button, field, form, h, input, notify, replace, section, select, table, view, when } from "./ui.js";

let timer = null;

export async function render(root) {
  const runsBox = h("div", { "aria-live": "polite" });
  const reportBox = h("div");
  const compareBox = h("div");
  let runs = [];

  async function openReport(run) {
    const html = await api("GET", `/v1/evals/runs/${encodeURIComponent(run.id)}/report.html`, { as: "text" });
    // Sandboxed: the report's markup is shown, nothing in it runs or reaches the console.
    const frame = h("iframe", { title: `Report of ${run.id}`, sandbox: "", class: "report" });
    frame.srcdoc = html;
    replace(reportBox, h("h2", {}, `Report of ${run.id}`), frame);
  }

  function compareForm() {
    const done = runs.filter((r) => r.status === "completed").map((r) => [r.id, `${r.id} (${when(r.created_at)})`]);
    if (done.length < 2) return h("p", { class: "muted" }, "Two completed runs are needed to compare.");
    return form(
      "Compare with a baseline",
      [
        field("Run", select("run", done, done[0][0])),
        field("Baseline run", select("baseline", done, done[1][0])),
      ],
      async (v) => {
        const c = await api("GET", `/v1/evals/runs/${encodeURIComponent(v.run)}/compare`, { query: { baseline: v.baseline } });
        replace(
          compareBox,
          h("p", { class: c.passed ? "good" : "bad" }, c.passed ? "Gate passed against the baseline." : "Gate failed against the baseline."),
          view({ reasons: c.reasons, regressions: c.regressions, improvements: c.improvements }),
          view(Object.entries(c.metric_deltas).map(([metric, d]) => ({ metric, ...d }))),
        );
      },
      "Compare",
    );
  }

  async function load() {
    ({ items: runs } = await api("GET", "/v1/evals/runs"));
    replace(
      runsBox,
      table(
        "Eval runs",
        [
          { title: "Run", cell: (r) => r.id },
          { title: "Suites", cell: (r) => r.suites.join(", ") },
          { title: "Trials", cell: (r) => r.trials },
          { title: "Status", cell: (r) => (r.status === "running" && r.trials_done != null ? `running (${r.trials_done} trials done)` : r.status) },
          { title: "Gate", cell: (r) => (r.summary ? (r.summary.gate?.passed ? "passed" : "failed") : r.error ?? "—") },
          { title: "Pass rate by suite", cell: (r) => (r.summary ? view(r.summary.suites) : "—") },
          { title: "Started", cell: (r) => when(r.created_at) },
          { title: "Report", cell: (r) => (r.status === "completed" ? button("Open report", () => openReport(r), { "aria-label": `Open report of ${r.id}` }) : "") },
        ],
        runs,
      ),
      section("Compare", compareForm(), compareBox),
    );
    clearTimeout(timer);
    if (runs.some((r) => r.status === "queued" || r.status === "running")) {
      // Watch progress while this page is open: poll the run list until every run finished.
      timer = setTimeout(() => {
        if (document.body.contains(runsBox)) load().catch((err) => notify(err.message));
      }, 2000);
    }
  }

  replace(
    root,
    h("h1", {}, "Eval runs"),
    form(
      "Start an eval run",
      [
        field("Suites", input("suites", { value: "faq", required: true }), "names under evals/, separated by commas"),
        field("Trials per case", input("trials", { type: "number", min: 1, max: 10, value: 1 })),
        field("Prompt versions (JSON)", input("prompt_versions", { placeholder: '{"system": 3}' }), "optional: stored versions to try"),
      ],
      async (v) => {
        let versions = {};
        if (v.prompt_versions.trim()) {
          try {
            versions = JSON.parse(v.prompt_versions);
          } catch (err) {
            throw new Error(`Prompt versions is not valid JSON: ${err.message}`);
          }
        }
        const run = await api("POST", "/v1/evals/runs", {
          json: {
            suites: v.suites.split(",").map((s) => s.trim()).filter(Boolean),
            trials: Number(v.trials),
            prompt_versions: versions,
          },
        });
        notify(`Started ${run.id}.`);
        await load();
      },
      "Start run",
    ),
    runsBox,
    reportBox,
  );
  await load();
}
