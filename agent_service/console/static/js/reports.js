// Reports: funnel and lost charts (SVG drawn by the API), AI versus human, speed,
// attribution, each exportable as CSV.
import { api } from "./api.js";
import { button, download, field, form, h, input, replace, section, view } from "./ui.js";

const REPORTS = [
  ["funnel", "Funnel", true],
  ["lost", "Lost", true],
  ["ai-vs-human", "AI versus human", false],
  ["speed", "Speed", false],
  ["attribution", "Attribution", false],
];

async function chart(name, query, title) {
  const blob = await api("GET", `/v1/reports/${name}`, { query: { ...query, format: "svg" }, as: "blob" });
  return h("figure", {}, h("img", { src: URL.createObjectURL(blob), alt: `${title} chart` }), h("figcaption", {}, `${title} chart`));
}

export async function render(root) {
  const boxes = Object.fromEntries(REPORTS.map(([name]) => [name, h("div", { "aria-live": "polite" })]));
  const query = { from: "", to: "", channel: "", campaign: "", team: "" };
  async function load() {
    await Promise.all(
      REPORTS.map(async ([name, title, hasChart]) => {
        const [body, picture] = await Promise.all([
          api("GET", `/v1/reports/${name}`, { query }),
          hasChart ? chart(name, query, title) : null,
        ]);
        const { meta, ...rest } = body;
        replace(
          boxes[name],
          picture,
          h("details", { open: hasChart ? null : true }, h("summary", {}, `${title}: figures`), view(rest)),
          h("p", { class: "muted" }, `Period ${meta.start?.slice(0, 10) ?? "…"} to ${meta.end?.slice(0, 10) ?? "…"} (end exclusive)`),
        );
      }),
    );
  }
  replace(
    root,
    h("h1", {}, "Reports"),
    form(
      "Report period and filters",
      [
        field("From", input("from", { type: "date" })),
        field("To", input("to", { type: "date" })),
        field("Channel", input("channel", { size: 10 })),
        field("Campaign", input("campaign", { size: 10 })),
        field("Team", input("team", { size: 10 })),
      ],
      async (v) => {
        Object.assign(query, v);
        await load();
      },
      "Show reports",
    ),
    REPORTS.map(([name, title]) =>
      section(
        title,
        button(`Export ${title} CSV`, async () =>
          download(await api("GET", `/v1/reports/${name}`, { query: { ...query, format: "csv" }, as: "blob" }), `${name}.csv`)),
        boxes[name],
      ),
    ),
  );
  await load();
}
