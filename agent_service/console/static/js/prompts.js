// Prompts: versions, diff, a draft previewed against a typed message, activate, roll back.
import { api } from "./api.js";
import { button, field, form, h, input, notify, replace, section, select, table, textarea, view, when } from "./ui.js";

function previewTurns(response) {
  return [
    h("p", {}, `Prompt versions used: ${response.prompt_version}`),
    response.turns.map((t, i) =>
      h(
        "article",
        { class: "turn", "aria-label": `Preview turn ${i + 1}` },
        h("p", { class: "customer" }, h("strong", {}, "Customer: "), t.message),
        h("p", { class: "reply" }, h("strong", {}, "Reply: "), t.reply ?? `(${t.status})`),
        h("dl", { class: "kv" },
          h("dt", {}, "brain"), h("dd", {}, t.brain),
          h("dt", {}, "language"), h("dd", {}, t.language ?? "—"),
          h("dt", {}, "tool calls"), h("dd", {}, view(t.tool_calls)),
          h("dt", {}, "refused"), h("dd", {}, view(t.refused)),
          h("dt", {}, "retrieved"), h("dd", {}, view(t.retrieved.map((r) => ({ score: r.score, question: r.question })))),
          h("dt", {}, "actions"), h("dd", {}, view(t.actions)),
        ),
      ),
    ),
  ];
}

async function promptPanel(panel, name) {
  const versions = await api("GET", `/v1/prompts/${encodeURIComponent(name)}/versions`);
  const active = versions.find((v) => v.active) || versions[versions.length - 1];
  const diffOut = h("pre", { class: "diff", "aria-label": "Diff output" });
  const previewOut = h("div", { "aria-live": "polite" });
  const numbers = versions.map((v) => String(v.version));
  const draft = textarea("body", { rows: 14, value: active ? active.body : "", class: "code" });
  const reload = async () => promptPanel(panel, name);

  replace(
    panel,
    h("h2", {}, `Prompt “${name}”`),
    table(
      "Versions",
      [
        { title: "Version", cell: (v) => v.version },
        { title: "Active", cell: (v) => (v.active ? "active" : "") },
        { title: "Created", cell: (v) => when(v.created_at) },
        {
          title: "Actions",
          cell: (v) => [
            button("Load into draft", () => { draft.value = v.body; }, { "aria-label": `Load version ${v.version} into draft` }),
            v.active ? null : button("Activate", async () => {
              await api("POST", `/v1/prompts/${encodeURIComponent(name)}/versions/${v.version}/activate`);
              notify(`${name} version ${v.version} is active.`);
              await reload();
            }, { "aria-label": `Activate version ${v.version}` }),
          ],
        },
      ],
      versions,
    ),
    button("Roll back", async () => {
      const back = await api("POST", `/v1/prompts/${encodeURIComponent(name)}/rollback`);
      notify(`Rolled back: ${name} version ${back.version} is active.`);
      await reload();
    }, { "aria-label": "Roll back to the previously active version" }),
    section(
      "Diff",
      form(
        "Diff versions",
        [
          field("From version", select("from", numbers, numbers[Math.max(0, numbers.length - 2)])),
          field("To version", select("to", numbers, numbers[numbers.length - 1])),
        ],
        async (v) => {
          const d = await api("GET", `/v1/prompts/${encodeURIComponent(name)}/diff`, { query: { from: v.from, to: v.to } });
          diffOut.replaceChildren(
            ...d.diff.split("\n").map((line) =>
              h("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "" }, `${line}\n`)),
          );
          if (!d.diff) diffOut.textContent = "No difference.";
        },
        "Show diff",
      ),
      diffOut,
    ),
    section(
      "Draft",
      field("Draft body", draft),
      form(
        "Preview the draft",
        [
          field("Customer message", textarea("messages", { rows: 2, required: true }), "one message a line"),
          field("Locale", input("locale", { size: 8, placeholder: "en" })),
        ],
        async (v) => {
          const response = await api("POST", "/v1/prompts/preview", {
            json: {
              drafts: { [name]: draft.value },
              messages: v.messages.split("\n").map((m) => m.trim()).filter(Boolean),
              locale: v.locale || null,
            },
          });
          replace(previewOut, previewTurns(response));
        },
        "Preview draft",
      ),
      previewOut,
      button("Save draft as new version", async () => {
        const saved = await api("POST", `/v1/prompts/${encodeURIComponent(name)}/versions`, { json: { body: draft.value } });
        notify(`Saved ${name} version ${saved.version} (not active until you activate it).`);
        await reload();
      }),
    ),
  );
}

export async function render(root, [chosen]) {
  const prompts = await api("GET", "/v1/prompts");
  const panel = h("div");
  replace(
    root,
    h("h1", {}, "Prompts"),
    table(
      "Prompts",
      [
        { title: "Name", cell: (p) => h("a", { href: `#/prompts/${encodeURIComponent(p.name)}` }, p.name) },
        { title: "Active version", cell: (p) => p.active_version ?? "—" },
        { title: "Latest version", cell: (p) => p.latest_version },
        { title: "Versions", cell: (p) => p.versions },
      ],
      prompts,
    ),
    panel,
  );
  const name = chosen || (prompts[0] && prompts[0].name);
  if (name) await promptPanel(panel, name);
}
