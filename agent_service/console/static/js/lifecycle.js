// Lifecycle: stages (order, lost and approval flags), qualification fields and rule, teams
// (hours, availability), intent examples of the offline planner.
import { api } from "./api.js";
import {
  button, checkbox, field, form, h, input, notify, replace, select, table, textarea, view,
} from "./ui.js";

function parseJson(label, text, fallback) {
  if (!text.trim()) return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${label} is not valid JSON: ${err.message}`);
  }
}

async function stagesSection(box) {
  const stages = await api("GET", "/v1/stages");
  const reload = () => stagesSection(box);
  const move = async (index, delta) => {
    const ids = stages.map((s) => s.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + delta, 0, moved);
    await api("PUT", "/v1/stages/order", { json: { ids } });
    notify("Stage order saved.");
    await reload();
  };
  replace(
    box,
    h("h2", {}, "Stages"),
    h("p", {}, "Each row is saved on its own. Lost stages are kept apart from the funnel."),
    stages.map((s, i) =>
      form(
        `Stage ${s.name}`,
        [
          h("span", { class: "pos" }, `${s.position + 1}.`),
          field(`Name of stage ${i + 1}`, input("name", { value: s.name, required: true })),
          checkbox("lost", s.lost, "Lost"),
          checkbox("ai_settable", s.ai_settable, "AI may set"),
          checkbox("requires_approval", s.requires_approval, "Needs approval"),
          h("span", { class: "muted" }, `${s.contacts} contacts`),
          i > 0 ? button("Up", () => move(i, -1), { "aria-label": `Move ${s.name} up` }) : null,
          i < stages.length - 1 ? button("Down", () => move(i, 1), { "aria-label": `Move ${s.name} down` }) : null,
          button("Delete", async () => {
            const target = window.prompt(`Delete “${s.name}”. Move its contacts to which stage? (empty: none)`, "");
            if (target === null) return;
            await api("DELETE", `/v1/stages/${encodeURIComponent(s.id)}`, { query: { move_to: target } });
            notify(`Deleted stage ${s.name}.`);
            await reload();
          }, { "aria-label": `Delete ${s.name}` }),
        ],
        async (v) => {
          await api("PATCH", `/v1/stages/${encodeURIComponent(s.id)}`, {
            json: { name: v.name, lost: v.lost, ai_settable: v.ai_settable, requires_approval: v.requires_approval },
          });
          notify(`Stage “${v.name}” saved.`);
          await reload();
        },
        "Save stage",
      ),
    ),
    form(
      "New stage",
      [
        field("New stage name", input("name", { required: true })),
        field("Position", input("position", { type: "number", min: 1, size: 4 }), "1 = first; empty = last"),
        checkbox("lost", false, "Lost stage"),
        checkbox("requires_approval", false, "New stage needs approval"),
      ],
      async (v) => {
        await api("POST", "/v1/stages", {
          json: {
            name: v.name,
            position: v.position ? Number(v.position) - 1 : null,
            lost: v.lost,
            requires_approval: v.requires_approval,
          },
        });
        notify(`Stage “${v.name}” added.`);
        await reload();
      },
      "Add stage",
    ),
  );
}

async function qualificationSection(box) {
  const q = await api("GET", "/v1/qualification");
  const reload = () => qualificationSection(box);
  replace(
    box,
    h("h2", {}, "Qualification"),
    table(
      "Qualification fields",
      [
        { title: "Name", cell: (f) => f.name },
        { title: "Type", cell: (f) => f.type },
        { title: "Required", cell: (f) => (f.required ? "yes" : "no") },
        { title: "Choices", cell: (f) => (f.choices || []).join(", ") },
        { title: "Question", cell: (f) => view(f.question) },
        {
          title: "Actions",
          cell: (f) => button("Delete", async () => {
            await api("DELETE", `/v1/qualification/fields/${encodeURIComponent(f.id)}`);
            notify(`Field ${f.name} deleted.`);
            await reload();
          }, { "aria-label": `Delete field ${f.name}` }),
        },
      ],
      q.fields,
    ),
    form(
      "New qualification field",
      [
        field("Field name", input("name", { required: true, pattern: "[a-z][a-z0-9_]*" }), "lower case, e.g. budget"),
        field("Type", select("type", ["text", "choice", "number", "date", "phone", "email"], "text")),
        checkbox("required", true, "Required"),
        field("Choices", input("choices"), "for choice: separated by commas"),
        field("Question (JSON by language)", textarea("question", { rows: 2, placeholder: '{"en": "What budget do you have in mind?"}' })),
      ],
      async (v) => {
        await api("POST", "/v1/qualification/fields", {
          json: {
            name: v.name,
            type: v.type,
            required: v.required,
            choices: v.choices.split(",").map((c) => c.trim()).filter(Boolean),
            question: parseJson("Question", v.question, {}),
          },
        });
        notify(`Field ${v.name} added.`);
        await reload();
      },
      "Add field",
    ),
    form(
      "Qualification rule",
      [field("Rule (JSON)", textarea("rule", { rows: 6, class: "code", value: JSON.stringify(q.rule, null, 2) }))],
      async (v) => {
        await api("PUT", "/v1/qualification/rule", { json: parseJson("Rule", v.rule, {}) });
        notify("Qualification rule saved.");
        await reload();
      },
      "Save rule",
    ),
  );
}

async function teamsSection(box) {
  const teams = await api("GET", "/v1/teams");
  const reload = () => teamsSection(box);
  replace(
    box,
    h("h2", {}, "Teams"),
    table(
      "Teams",
      [
        { title: "Key", cell: (t) => t.key },
        { title: "Name", cell: (t) => t.name + (t.default ? " (default)" : "") },
        { title: "Time zone", cell: (t) => t.timezone },
        { title: "Business hours", cell: (t) => view(t.business_hours) },
        { title: "Fallback", cell: (t) => t.fallback },
        { title: "Open now", cell: (t) => (t.open_now ? "open" : "closed") },
        { title: "Online", cell: (t) => (t.online_agents ?? "unknown") },
        { title: "Available now", cell: (t) => (t.available_now ? "yes" : "no") },
        {
          title: "Actions",
          cell: (t) => [
            form(`Availability of ${t.name}`, [
              field(`Agents online in ${t.name}`, input("online_agents", { type: "number", min: 0, size: 4, required: true })),
            ], async (v) => {
              await api("POST", `/v1/teams/${encodeURIComponent(t.id)}/availability`, { json: { online_agents: Number(v.online_agents) } });
              notify(`Availability of ${t.name} saved.`);
              await reload();
            }, "Set"),
            button("Delete", async () => {
              await api("DELETE", `/v1/teams/${encodeURIComponent(t.id)}`);
              notify(`Team ${t.name} deleted.`);
              await reload();
            }, { "aria-label": `Delete team ${t.name}` }),
          ],
        },
      ],
      teams,
    ),
    form(
      "New team",
      [
        field("Team key", input("key", { required: true, pattern: "[a-z0-9_-]+" })),
        field("Team name", input("name", { required: true })),
        field("Time zone", input("timezone", { value: "UTC" })),
        field("Business hours (JSON)", textarea("business_hours", { rows: 2, placeholder: '{"mon": ["09:00", "18:00"]}' })),
        field("Fallback", select("fallback", ["collect_contact", "handoff_anyway"], "collect_contact")),
        checkbox("default", false, "Default team"),
      ],
      async (v) => {
        await api("POST", "/v1/teams", {
          json: {
            key: v.key,
            name: v.name,
            timezone: v.timezone,
            business_hours: parseJson("Business hours", v.business_hours, {}),
            fallback: v.fallback,
            default: v.default,
          },
        });
        notify(`Team ${v.name} added.`);
        await reload();
      },
      "Add team",
    ),
  );
}

async function intentsSection(box) {
  const { intents } = await api("GET", "/v1/intents");
  replace(
    box,
    h("h2", {}, "Intent examples"),
    h("p", {}, "Examples the offline planner recognises each intent by; one a line, any language."),
    Object.entries(intents).map(([name, examples]) =>
      form(
        `Intent ${name}`,
        [field(`Examples of ${name}`, textarea("examples", { rows: 4, value: examples.join("\n") }))],
        async (v) => {
          await api("PUT", `/v1/intents/${encodeURIComponent(name)}`, {
            json: { examples: v.examples.split("\n").map((e) => e.trim()).filter(Boolean) },
          });
          notify(`Examples of ${name} saved.`);
        },
        `Save ${name}`,
      ),
    ),
  );
}

export async function render(root) {
  const [stages, qualification, teams, intents] = [h("section", { "aria-label": "Stages" }),
    h("section", { "aria-label": "Qualification" }), h("section", { "aria-label": "Teams" }),
    h("section", { "aria-label": "Intent examples" })];
  replace(root, h("h1", {}, "Lifecycle"), stages, qualification, teams, intents);
  await Promise.all([
    stagesSection(stages),
    qualificationSection(qualification),
    teamsSection(teams),
    intentsSection(intents),
  ]);
}

