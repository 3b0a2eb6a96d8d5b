// Conversations: the contacts list (filters, cursor paging) and a transcript with the turn's
// trace drawn beside each reply (retrieved entries and scores, brain, model, prompt versions,
// tool calls with the guardrail's decision, handoff, latency, model calls, tokens).
import { api } from "./api.js";
import { button, field, form, h, input, replace, select, table, view, when } from "./ui.js";

function trace(turn) {
  return h(
    "aside",
    { class: "trace", "aria-label": `Trace of turn ${turn.turn_id}` },
    h("h3", {}, "Trace"),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, "turn"), h("dd", {}, turn.turn_id),
      h("dt", {}, "brain"), h("dd", {}, turn.brain),
      h("dt", {}, "model"), h("dd", {}, turn.model ?? "—"),
      h("dt", {}, "prompt versions"), h("dd", {}, Object.entries(turn.prompt_versions || {}).map(([n, v]) => `${n}@${v}`).join(", ") || "—"),
      h("dt", {}, "latency"), h("dd", {}, turn.latency_ms == null ? "—" : `${turn.latency_ms} ms`),
      h("dt", {}, "model calls"), h("dd", {}, String(turn.model_calls ?? 0)),
      h("dt", {}, "tokens in / out"), h("dd", {}, `${turn.input_tokens ?? 0} / ${turn.output_tokens ?? 0}`),
      h("dt", {}, "retrieval"), h("dd", {}, turn.retrieval ?? "—"),
      turn.error ? [h("dt", {}, "error"), h("dd", { class: "bad" }, turn.error)] : null,
    ),
    table(
      "Retrieved",
      [
        { title: "Score", cell: (r) => (typeof r.score === "number" ? r.score.toFixed(3) : "—") },
        { title: "Question", cell: (r) => r.question },
        { title: "Entry", cell: (r) => r.entry_id },
      ],
      turn.retrieved || [],
    ),
    table(
      "Tool calls",
      [
        { title: "Tool", cell: (c) => c.name },
        { title: "Arguments", cell: (c) => view(c.args) },
        { title: "Decision", cell: (c) => h("span", { class: c.decision === "refused" ? "bad" : "good" }, c.decision) },
        { title: "Why", cell: (c) => c.reason ?? "—" },
      ],
      turn.tool_calls || [],
    ),
    turn.handoff ? h("p", {}, h("strong", {}, `Handed to ${turn.handoff.team}: `), turn.handoff.summary) : null,
  );
}

async function transcript(root, contactId) {
  const data = await api("GET", `/v1/contacts/${encodeURIComponent(contactId)}/conversation`);
  const c = data.contact;
  replace(
    root,
    h("p", {}, h("a", { href: "#/conversations" }, "← All conversations")),
    h("h1", {}, `Conversation with ${c.name || c.id}`),
    h("dl", { class: "kv" },
      h("dt", {}, "contact"), h("dd", {}, c.id),
      h("dt", {}, "stage"), h("dd", {}, `${c.lifecycle_stage ?? "—"}${c.lost ? ` (lost: ${c.lost_reason ?? ""})` : ""}`),
      h("dt", {}, "owner"), h("dd", {}, c.owner + (c.team ? ` (${c.team})` : "")),
      h("dt", {}, "phone / e-mail"), h("dd", {}, `${c.phone ?? "—"} / ${c.email ?? "—"}`),
      h("dt", {}, "channel / campaign"), h("dd", {}, `${c.channel ?? "—"} / ${c.campaign ?? "—"}`),
    ),
    h(
      "ol",
      { class: "transcript", "aria-label": "Transcript" },
      data.entries.map((e) =>
        h(
          "li",
          { class: `entry ${e.direction}` },
          h(
            "div",
            { class: "message" },
            h("p", { class: "meta" }, `${e.direction === "in" ? "Customer" : "Reply"} · ${e.channel} · ${when(e.at)} · ${e.status}`),
            h("p", { class: "text" }, e.text),
          ),
          e.turn ? trace(e.turn) : null,
        ),
      ),
    ),
  );
}

async function list(root) {
  const filters = {};
  let cursors = [null];
  const out = h("div");
  let stages = [];
  try {
    stages = (await api("GET", "/v1/stages")).map((s) => s.name);
  } catch {
    stages = [];
  }
  async function load() {
    let page;
    try {
      page = await api("GET", "/v1/contacts", { query: { ...filters, limit: 50, cursor: cursors[cursors.length - 1] } });
    } catch (err) {
      if (err.status === 404 || err.status === 405) {
        throw new Error(`${err.message} — this server has no contacts list (GET /v1/contacts); update the service.`);
      }
      throw err;
    }
    replace(
      out,
      table(
        "Contacts",
        [
          { title: "Contact", cell: (c) => h("a", { href: `#/conversations/${encodeURIComponent(c.id)}` }, c.name || c.id) },
          { title: "Stage", cell: (c) => (c.lost ? `${c.lifecycle_stage ?? ""} (lost)` : c.lifecycle_stage ?? "—") },
          { title: "Owner", cell: (c) => c.owner + (c.team ? ` · ${c.team}` : "") },
          { title: "Channel", cell: (c) => c.channel ?? "—" },
          { title: "Campaign", cell: (c) => c.campaign ?? "—" },
          { title: "Last message", cell: (c) => h("span", { class: "clip" }, c.last_message_text ?? "") },
          { title: "At", cell: (c) => when(c.last_message_at) },
        ],
        page.items,
      ),
      h(
        "p",
        {},
        cursors.length > 1 ? button("First page", async () => { cursors = [null]; await load(); }) : null,
        page.next_cursor ? button("Next page", async () => { cursors.push(page.next_cursor); await load(); }) : null,
      ),
    );
  }
  replace(
    root,
    h("h1", {}, "Conversations"),
    form(
      "Filter contacts",
      [
        field("Search name, phone or e-mail", input("q")),
        field("Stage", select("stage", [["", "any"], ...stages], "")),
        field("Lost", select("lost", [["", "any"], ["true", "lost"], ["false", "not lost"]], "")),
        field("Owner", select("owner", [["", "any"], ["ai", "AI"], ["human", "human"]], "")),
        field("Team", input("team", { size: 10 })),
        field("Channel", input("channel", { size: 10 })),
        field("Campaign", input("campaign", { size: 10 })),
      ],
      async (v) => {
        for (const k of Object.keys(filters)) delete filters[k];
        Object.assign(filters, v);
        cursors = [null];
        await load();
      },
      "Filter",
    ),
    out,
  );
  await load();
}

export async function render(root, [contactId]) {
  if (contactId) await transcript(root, contactId);
  else await list(root);
}
