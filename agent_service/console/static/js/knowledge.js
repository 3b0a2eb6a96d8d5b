// Knowledge: list and filter entries, search preview with scores, create, edit, delete,
// import a file (the per-row error report), export.
import { api } from "./api.js";
import {
  button, download, field, form, h, input, notify, replace, section, select, table,
  textarea, when,
} from "./ui.js";

const FORMATS = [
  ["faq-csv", "FAQ CSV"],
  ["faq-json", "FAQ JSON"],
  ["markdown", "Markdown"],
  ["text", "Plain text"],
  ["pdf", "PDF"],
];
const TYPES = {
  "faq-csv": "text/csv",
  "faq-json": "application/json",
  markdown: "text/markdown",
  text: "text/plain",
  pdf: "application/pdf",
};

function tags(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}

function entryForm(entry, done) {
  const editing = Boolean(entry);
  return form(
    editing ? `Edit entry ${entry.id}` : "New entry",
    [
      field("Question", textarea("question", { rows: 2, required: true, value: entry?.question ?? "" })),
      field("Answer", textarea("answer", { rows: 4, required: true, value: entry?.answer ?? "" })),
      field("Language", input("language", { value: entry?.language ?? "en", required: true, size: 6 })),
      field("Tags", input("tags", { value: (entry?.tags ?? []).join(", ") }), "separated by commas"),
      field("Valid until", input("valid_until", { type: "date", value: entry?.valid_until ?? "" })),
      field("External id", input("external_id", { value: entry?.external_id ?? "" })),
    ],
    async (v) => {
      const body = {
        question: v.question,
        answer: v.answer,
        language: v.language,
        tags: tags(v.tags),
        valid_until: v.valid_until || null,
        external_id: v.external_id || null,
      };
      const saved = editing
        ? await api("PUT", `/v1/knowledge/entries/${encodeURIComponent(entry.id)}`, { json: body })
        : await api("POST", "/v1/knowledge/entries", { json: body });
      notify(`${editing ? "Saved" : "Created"} entry ${saved.id}.`);
      await done();
    },
    editing ? "Save entry" : "Create entry",
  );
}

export async function render(root) {
  const filters = { language: "", tag: "", q: "", offset: 0 };
  const list = h("div");
  const editor = h("div");
  const results = h("div", { "aria-live": "polite" });
  const importReport = h("div", { "aria-live": "polite" });

  async function load() {
    const page = await api("GET", "/v1/knowledge/entries", { query: { ...filters, limit: 50 } });
    replace(
      list,
      h("p", {}, `${page.total} entries; showing ${page.offset + 1}–${page.offset + page.items.length}.`),
      table(
        "Knowledge entries",
        [
          { title: "Question", cell: (e) => e.question },
          { title: "Answer", cell: (e) => h("span", { class: "clip" }, e.answer) },
          { title: "Language", cell: (e) => e.language },
          { title: "Tags", cell: (e) => e.tags.join(", ") },
          { title: "Valid until", cell: (e) => e.valid_until ?? "—" },
          { title: "Updated", cell: (e) => when(e.updated_at) },
          {
            title: "Actions",
            cell: (e) => [
              button("Edit", () => replace(editor, entryForm(e, async () => { replace(editor); await load(); })),
                { "aria-label": `Edit ${e.question}` }),
              button("Delete", async () => {
                if (!window.confirm(`Delete “${e.question}”?`)) return;
                await api("DELETE", `/v1/knowledge/entries/${encodeURIComponent(e.id)}`);
                notify(`Deleted entry ${e.id}.`);
                await load();
              }, { "aria-label": `Delete ${e.question}` }),
            ],
          },
        ],
        page.items,
      ),
      h(
        "p",
        {},
        page.offset > 0 ? button("Previous page", async () => { filters.offset = Math.max(0, filters.offset - 50); await load(); }) : null,
        page.offset + page.items.length < page.total ? button("Next page", async () => { filters.offset += 50; await load(); }) : null,
      ),
    );
  }

  const file = input("file", { type: "file", required: true });
  replace(
    root,
    h("h1", {}, "Knowledge"),
    section(
      "Search preview",
      h("p", {}, "What the agent retrieves for a customer message, best first."),
      form(
        "Search preview",
        [
          field("Customer message", input("query", { required: true, size: 50 })),
          field("Results", input("k", { type: "number", min: 1, max: 20, value: 3 })),
        ],
        async (v) => {
          const found = await api("POST", "/v1/knowledge/search", { json: { query: v.query, k: Number(v.k) } });
          replace(
            results,
            table(
              "Search results",
              [
                { title: "Score", cell: (r) => r.score.toFixed(3) },
                { title: "Fused score", cell: (r) => (r.fused_score == null ? "—" : r.fused_score.toFixed(2)) },
                { title: "Question", cell: (r) => r.question },
                { title: "Answer", cell: (r) => h("span", { class: "clip" }, r.answer) },
              ],
              found.results,
            ),
          );
        },
        "Search",
      ),
      results,
    ),
    section(
      "Entries",
      form(
        "Filter entries",
        [
          field("Language filter", input("language", { size: 6 })),
          field("Tag filter", input("tag", { size: 12 })),
          field("Text filter", input("q", { size: 24 })),
        ],
        async (v) => {
          Object.assign(filters, v, { offset: 0 });
          await load();
        },
        "Filter",
      ),
      list,
    ),
    section(
      "Add or edit",
      button("New entry", () => replace(editor, entryForm(null, async () => { replace(editor); await load(); }))),
      editor,
    ),
    section(
      "Import a file",
      form(
        "Import a file",
        [
          field("File", file),
          field("Format", select("format", FORMATS, "faq-csv")),
          field("Language of the file", input("language", { size: 6 }), "for markdown, text and PDF"),
          field("Title", input("title")),
          field("Tags for imported entries", input("tags")),
        ],
        async (v) => {
          const chosen = file.files[0];
          const report = await api("POST", `/v1/knowledge/import/${v.format}`, {
            query: { language: v.language, title: v.title, tags: v.tags },
            body: chosen,
            contentType: TYPES[v.format],
          });
          replace(
            importReport,
            h("p", {}, `Created ${report.created}, updated ${report.updated}, unchanged ${report.unchanged}, rows refused ${report.errors.length}.`),
            report.errors.length
              ? table("Rows refused", [
                { title: "Row", cell: (e) => e.row },
                { title: "Error", cell: (e) => e.error },
              ], report.errors)
              : null,
          );
          await load();
        },
        "Import",
      ),
      importReport,
    ),
    section(
      "Export",
      button("Export CSV", async () => download(await api("GET", "/v1/knowledge/export", { query: { format: "csv" }, as: "blob" }), "knowledge.csv")),
      button("Export JSON", async () => download(await api("GET", "/v1/knowledge/export", { query: { format: "json" }, as: "blob" }), "knowledge.json")),
    ),
  );
  await load();
}

