// Audit log: every configuration change, the key that made it, before and after.
import { api } from "./api.js";
import { button, field, form, h, input, replace, table, view, when } from "./ui.js";

export async function render(root) {
  const filters = { target_type: "", action: "", target_id: "", offset: 0 };
  const list = h("div");
  async function load() {
    const page = await api("GET", "/v1/audit", { query: { ...filters, limit: 50 } });
    replace(
      list,
      h("p", {}, `${page.total} changes.`),
      table(
        "Audit log",
        [
          { title: "When", cell: (a) => when(a.at) },
          { title: "Key", cell: (a) => a.key_id },
          { title: "Action", cell: (a) => a.action },
          { title: "Target", cell: (a) => `${a.target_type} ${a.target_id ?? ""}` },
          { title: "Before", cell: (a) => h("details", {}, h("summary", {}, "before"), view(a.before)) },
          { title: "After", cell: (a) => h("details", {}, h("summary", {}, "after"), view(a.after)) },
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
  replace(
    root,
    h("h1", {}, "Audit log"),
    form(
      "Filter the audit log",
      [
        field("Target type", input("target_type", { placeholder: "prompt, stage, knowledge_entry…" })),
        field("Action", input("action", { placeholder: "prompt.activate" })),
        field("Target id", input("target_id")),
      ],
      async (v) => {
        Object.assign(filters, v, { offset: 0 });
        await load();
      },
      "Filter",
    ),
    list,
  );
  await load();
}
